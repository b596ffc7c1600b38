#!/usr/bin/env python3
# pongd-asyncio.py - the pongd echo service inside an asyncio program.
#
# Usage: pongd-asyncio.py [SERVICE]
#
# The same service as pongd.py, as one task of an asyncio event loop:
# ctx.events() waits on the loop through loop.add_reader(ctx.fileno())
# (no thread, no polling), so the program's other tasks run beside it.
# SIGTERM or SIGINT stop it cleanly.  Needs the epoll backend.
#
# SPDX-License-Identifier: ISC

import asyncio
import signal
import sys

import libipc


async def serve(ctx):
    async for event in ctx.events():
        if event.type == libipc.EventType.MESSAGE_RX:
            try:
                ctx.schedule(event.fd, event.message)
            except BrokenPipeError:
                pass


async def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "pong"
    loop = asyncio.get_running_loop()
    with libipc.Context() as ctx:
        try:
            ctx.service(name)
        except OSError as e:
            print("pongd-asyncio.py: cannot start service:", e,
                  file=sys.stderr)
            return 1
        server = asyncio.create_task(serve(ctx))
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.cancel)
        try:
            await server
        except asyncio.CancelledError:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
