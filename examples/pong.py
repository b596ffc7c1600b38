#!/usr/bin/env python3
# pong.py - the client of the pongd echo service, in Python.
#
# Usage: pong.py [-s SERVICE] [MESSAGE...]
#        pong.py [-s SERVICE] -n COUNT
#
# Sends every MESSAGE ("hello" when none is given) and prints each reply
# on its own line, as examples/pong does; with -n, sends COUNT numbered
# messages at once and prints one line when every reply came back in
# order.  Exits 0 when every reply equals what was sent.
#
# SPDX-License-Identifier: ISC

import argparse
import sys

import libipc


def main():
    parser = argparse.ArgumentParser(description="pongd's client")
    parser.add_argument("-s", dest="service", default="pong")
    parser.add_argument("-n", dest="count", type=int)
    parser.add_argument("messages", nargs="*")
    args = parser.parse_args()
    if args.count is not None and (args.count <= 0 or args.messages):
        parser.error("-n takes a positive count and no message")
    if args.count is not None:
        messages = [b"ping %d" % (i + 1) for i in range(args.count)]
    else:
        messages = [m.encode() for m in args.messages or ["hello"]]

    with libipc.Context() as ctx:
        try:
            fd = ctx.connect(args.service)
        except OSError as e:
            print("pong.py: cannot connect:", e, file=sys.stderr)
            return 1
        for message in messages:
            ctx.schedule(fd, message)
        received = 0
        while received < len(messages):
            event = ctx.wait()
            if event.type == libipc.EventType.DISCONNECTION:
                print("pong.py: the service went away", file=sys.stderr)
                return 1
            if event.type != libipc.EventType.MESSAGE_RX:
                continue
            if event.message != messages[received]:
                print("pong.py: reply %d differs" % (received + 1),
                      file=sys.stderr)
                return 1
            if args.count is None:
                print(event.message.decode(errors="replace"))
            received += 1
        if args.count is not None:
            print("%d replies, in order" % received)
    return 0


if __name__ == "__main__":
    sys.exit(main())
