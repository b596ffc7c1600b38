# test-python-asyncio.py - one asyncio loop hosting a service (events())
# and 100 concurrent client tasks (wait_async()), each with its own
# context; cancelling a wait loses no event; one waiter per context.
# Skipped with the poll(2) backend, which has no context fd.
#
# SPDX-License-Identifier: ISC

import asyncio
import errno
import sys

from ipctest import check, expect, libipc, run

E = libipc.EventType
CLIENTS = 100
MESSAGES = 20

with libipc.Context() as probe:
    try:
        probe.fileno()
    except OSError as e:
        if e.errno != errno.EOPNOTSUPP:
            raise
        print("SKIP: the poll backend has no context fd")
        sys.exit(77)


async def service(ctx, done):
    async for ev in ctx.events():
        if ev.type == E.MESSAGE_RX:
            ctx.schedule(ev.fd, ev.message)
        if done.is_set():
            break


async def client(n):
    with libipc.Context() as ctx:
        fd = ctx.connect("aio")
        for i in range(MESSAGES):
            ctx.schedule(fd, b"%d:%d" % (n, i))
        got = []
        while len(got) < MESSAGES:
            ev = await ctx.wait_async()
            if ev.type == E.MESSAGE_RX:
                got.append(ev.message)
        check(got == [b"%d:%d" % (n, i) for i in range(MESSAGES)],
              "client %d got %r" % (n, got[:3]))
        return n


def hundred_clients(rundir):
    async def main():
        with libipc.Context() as srv:
            srv.service("aio")
            done = asyncio.Event()
            server = asyncio.create_task(service(srv, done))
            results = await asyncio.wait_for(
                asyncio.gather(*(client(n) for n in range(CLIENTS))), 120)
            check(sorted(results) == list(range(CLIENTS)), results)
            done.set()
            srv.timer = 10          # one more event ends the service
            await asyncio.wait_for(server, 10)
    asyncio.run(main())


def cancel_loses_nothing(rundir):
    async def main():
        with libipc.Context() as srv, libipc.Context() as cli:
            srv.service("cancel")
            fd = cli.connect("cancel")
            ev = await asyncio.wait_for(srv.wait_async(), 5)
            check(ev.type == E.CONNECTION, ev)
            waiter = asyncio.create_task(srv.wait_async())
            await asyncio.sleep(0.05)
            # A second waiter on the same context is refused.
            try:
                await srv.wait_async()
            except RuntimeError:
                pass
            else:
                raise AssertionError("two tasks waited on one context")
            waiter.cancel()
            try:
                await waiter
            except asyncio.CancelledError:
                pass
            cli.write(fd, b"after the cancel")
            ev = await asyncio.wait_for(srv.wait_async(), 5)
            check(ev.type == E.MESSAGE_RX and
                  ev.message == b"after the cancel", ev)
    asyncio.run(main())


def loop_is_not_busy(rundir):
    """An idle wait costs no CPU: the loop sleeps in epoll."""
    import time

    async def main():
        with libipc.Context() as srv:
            srv.service("idle")
            start = time.process_time()
            try:
                await asyncio.wait_for(srv.wait_async(), 0.5)
            except asyncio.TimeoutError:
                pass
            return time.process_time() - start
    used = asyncio.run(main())
    # Polling would burn most of the 0.5 s; a watched fd nearly nothing.
    check(used < 0.25, "an idle wait_async() used %.3f s of CPU" % used)


sys.exit(run([hundred_clients, cancel_loses_nothing, loop_is_not_busy]))
