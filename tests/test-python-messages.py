# test-python-messages.py - messages between the Python module and the C
# examples, both ways, every size; two contexts in two threads.
#
# Python service <-> C client (tests/bin/pong): messages of 0, 1 and
# 4096 bytes and 100 KiB (pong takes its messages as arguments: the
# kernel bounds one at 128 KiB), and 10,000 messages in order (pong -n).
# C service (tests/bin/pongd) <-> Python client: 0, 1, 4 KiB, 1 MiB and
# the maximum (16 MiB), and 10,000 messages in order.
#
# SPDX-License-Identifier: ISC

import os
import subprocess
import sys
import threading
import time

from ipctest import check, libipc, run, start_pongd, stop, PONG

E = libipc.EventType
SIZES = (0, 1, 4096, 1 << 20, libipc.MAX_MESSAGE_SIZE_DEFAULT)


def payload(size, seed=0):
    # Every byte matters: a pattern that moves with the position.
    block = bytes((i * 7 + seed) & 0xFF for i in range(251))
    return (block * (size // 251 + 1))[:size]


def echo_service(name, ready, stop_flag, errors):
    """An echo service in its own context, in a thread."""
    try:
        with libipc.Context() as ctx:
            ctx.service(name)
            ready.set()
            while not stop_flag.is_set():
                ev = ctx.wait(0.05)
                if ev is not None and ev.type == E.MESSAGE_RX:
                    ctx.schedule(ev.fd, ev.message)
    except Exception as e:  # reported by the main thread
        errors.append(e)
        ready.set()


class Service:
    def __init__(self, name):
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.errors = []
        self.thread = threading.Thread(target=echo_service,
                                       args=(name, self.ready, self.stop,
                                             self.errors))
        self.thread.start()
        self.ready.wait(10)
        check(not self.errors, "service: %r" % self.errors)

    def close(self):
        self.stop.set()
        self.thread.join(30)
        check(not self.thread.is_alive(), "the service thread hangs")
        check(not self.errors, "service: %r" % self.errors)


def pong(*args):
    return subprocess.run([PONG, "-s", "py-echo"] + list(args),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=120)


def python_service_c_client(rundir):
    service = Service("py-echo")
    try:
        messages = ["", "x", "a" * 4096, "b" * 100000, "last"]
        r = pong(*messages)
        check(r.returncode == 0, "pong: %s" % r.stderr)
        check(r.stdout == "".join(m + "\n" for m in messages).encode(),
              "pong printed %r" % r.stdout[:200])
        r = pong("-n", "10000")
        check(r.returncode == 0, "pong -n: %s" % r.stderr)
        check(r.stdout == b"10000 replies, in order\n", r.stdout)
    finally:
        service.close()


def c_service_python_client(rundir):
    pongd = start_pongd(rundir)
    try:
        with libipc.Context() as ctx:
            fd = ctx.connect("pong")
            for size in SIZES:
                data = payload(size, size)
                ctx.write(fd, data)
                reply = ctx.read(fd)
                check(reply == data, "size %d came back as %d bytes"
                      % (size, len(reply)))
            # Queued at once, answered in order, through wait().
            for i in range(10000):
                ctx.schedule(fd, b"ping %d" % i)
            received = sent = 0
            while received < 10000 or sent < 10000:
                ev = ctx.wait(30)
                check(ev is not None, "no event after 30 s")
                if ev.type == E.MESSAGE_TX:
                    sent += 1
                    continue
                check(ev.type == E.MESSAGE_RX, "event %r" % (ev,))
                check(ev.message == b"ping %d" % received,
                      "reply %d is %r" % (received, ev.message))
                check(ev.fd == fd, "reply on fd %d" % ev.fd)
                received += 1
    finally:
        check(stop(pongd) == 0, "pongd did not exit 0")


def python_both_sides(rundir):
    """Every size through wait() of a Python service (one thread)."""
    with libipc.Context() as srv, libipc.Context() as cli:
        srv.service("both")
        fd = cli.connect("both")
        for size in SIZES:
            data = payload(size, 3)
            cli.schedule(fd, data)
            got = None
            while got is None:
                for ctx in (cli, srv):
                    ev = ctx.wait(0)
                    if ev is not None and ev.type == E.MESSAGE_RX:
                        got = ev.message
            check(got == data, "size %d: %d bytes" % (size, len(got)))


def two_threads_in_parallel(rundir):
    """A thread blocked in wait() lets the main thread run (no GIL)."""
    with libipc.Context() as srv, libipc.Context() as cli:
        srv.service("threads")
        fd = cli.connect("threads")
        ev = srv.wait(5)
        check(ev.type == E.CONNECTION, ev)
        got = []

        def waiter():
            got.append(srv.wait())     # no timeout: only the GIL frees it

        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.2)                # the thread is inside wait() now
        # Only this thread's work can wake the other one.
        cli.write(fd, b"wake up")
        t.join(10)
        check(not t.is_alive(), "wait() in a thread held the GIL")
        check(got and got[0].message == b"wake up", got)


sys.exit(run([python_service_c_client, c_service_python_client,
              python_both_sides, two_threads_in_parallel]))
