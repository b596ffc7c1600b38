#!/usr/bin/env python3
# pongd.py - the pongd echo service, in Python (the libipc module).
#
# Usage: pongd.py [SERVICE]
#
# Serves SERVICE ("pong" by default) in the run directory and sends every
# message back to its sender, as examples/pongd does.  SIGTERM or SIGINT
# stop it cleanly: the context is closed, which removes the service's
# socket and lock files.
#
# SPDX-License-Identifier: ISC

import signal
import sys

import libipc


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "pong"
    # SIGTERM ends the wait like Ctrl-C does: an exception out of wait().
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with libipc.Context() as ctx:
        try:
            ctx.service(name)
        except OSError as e:
            print("pongd.py: cannot start service:", e, file=sys.stderr)
            return 1
        try:
            while True:
                event = ctx.wait()
                if event.type == libipc.EventType.MESSAGE_RX:
                    try:
                        ctx.schedule(event.fd, event.message)
                    except BrokenPipeError:
                        pass        # the client left; DISCONNECTION follows
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
