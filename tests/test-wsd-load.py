#!/usr/bin/python3
# Load: 1,000 concurrent WebSocket clients on one ipc-wsd, each with its
# own connection to pongd; every client echoes, then all stay idle while
# ipc-wsd's memory is measured (the figure is printed as a TAP comment,
# with no threshold: doc/network.md records it), then all echo again and
# leave, and ipc-wsd must be back to the fds it had.  TAP; skipped
# without python3-websockets, ipc-wsd, or 5,000 fds.
#
# SPDX-License-Identifier: ISC

import asyncio
import os
import resource
import signal
import sys
import time

import wsdtest
from wsdtest import log

signal.alarm(300)
CLIENTS = 1000

websockets = wsdtest.import_websockets()
wsdtest.require_wsd()
# ipc-wsd holds three fds per client, pongd one, this process one.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
need = 5 * CLIENTS
if hard != resource.RLIM_INFINITY and hard < need:
    print("1..0 # SKIP RLIMIT_NOFILE hard limit %d < %d" % (hard, need))
    sys.exit(0)
if soft != resource.RLIM_INFINITY and soft < need:
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))

n = 0


def report(ok, name):
    global n
    n += 1
    print("%s %d /ipc/wsd/load/%s" % ("ok" if ok else "not ok", n, name))
    sys.stdout.flush()


def wait_for(cond, seconds=30):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return False


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def nfds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


d = wsdtest.Daemons("test-wsd-load.")
pong = d.pongd
port = d.wsd("--allow", "pong")
gw = d.procs[-1]
time.sleep(0.2)
base_fds = nfds(gw.pid)
base_rss = rss_kib(gw.pid)
uri = "ws://127.0.0.1:%d/pong" % port


async def load():
    sem = asyncio.Semaphore(200)   # connections being opened at once

    async def open_one(i):
        async with sem:
            ws = await websockets.connect(uri, ping_interval=None)
            await ws.send(b"hello %d" % i)
            ok = await ws.recv() == b"hello %d" % i
            return ws, ok

    opened = await asyncio.gather(*(open_one(i) for i in range(CLIENTS)))
    clients = [ws for ws, _ in opened]
    report(all(ok for _, ok in opened), "connect-and-echo")

    # Every client has its own connection to pongd.
    report(nfds(pong.pid) >= CLIENTS, "own-service-connections")

    await asyncio.sleep(1)
    rss = rss_kib(gw.pid)
    per = (rss - base_rss) * 1024 / CLIENTS
    log("ipc-wsd RSS %d KiB idle, %d KiB with %d idle clients: "
        "%.0f bytes per idle connection" % (base_rss, rss, CLIENTS, per))
    report(rss > 0, "memory-measured")

    async def again(i, ws):
        await ws.send(b"again %d" % i)
        return await ws.recv() == b"again %d" % i

    oks = await asyncio.gather(*(again(i, ws)
                                 for i, ws in enumerate(clients)))
    report(all(oks), "all-echo-again")
    await asyncio.gather(*(ws.close() for ws in clients))


t0 = time.monotonic()
asyncio.run(asyncio.wait_for(load(), 240))
log("%d clients in %.1f s" % (CLIENTS, time.monotonic() - t0))
report(wait_for(lambda: nfds(gw.pid) == base_fds), "fds-released")
report(d.stop(), "clean-exit")
print("1..%d" % n)
