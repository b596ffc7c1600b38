# test-python-events.py - every event type, produced and checked from
# Python: CONNECTION, MESSAGE_RX, MESSAGE_TX, TIMER, EXTERNAL, a switch
# with both sides (SWITCH_RX, SWITCH_TX), DISCONNECTION of a peer killed
# with SIGKILL; the timeout; the Event's fields.
#
# SPDX-License-Identifier: ISC

import os
import signal
import subprocess
import sys

from ipctest import check, libipc, run, wait_for_socket

E = libipc.EventType


def next_event(ctx, timeout=10):
    ev = ctx.wait(timeout)
    check(ev is not None, "no event in %s s" % timeout)
    return ev


def event_types_are_the_seeds(rundir):
    names = ["ERROR", "CONNECTION", "DISCONNECTION", "MESSAGE_RX",
             "MESSAGE_TX", "TIMER", "EXTERNAL", "SWITCH_RX", "SWITCH_TX"]
    check([(e.name, int(e)) for e in E] == [(n, i) for i, n in
                                            enumerate(names)], list(E))


def connection_messages_disconnection(rundir):
    with libipc.Context() as srv, libipc.Context() as cli:
        sfd = srv.service("events")
        fd = cli.connect("events")
        ev = next_event(srv)
        check(ev.type == E.CONNECTION and ev.fd == sfd and ev.newfd >= 0
              and ev.index >= 0 and ev.message == b"", ev)
        client = ev.newfd
        check(srv.peer_credentials(client) ==
              (os.getpid(), os.getuid(), os.getgid()),
              srv.peer_credentials(client))
        cli.schedule(fd, b"one")
        ev = next_event(cli)
        check(ev.type == E.MESSAGE_TX and ev.fd == fd and ev.newfd == -1,
              ev)
        ev = next_event(srv)
        check(ev.type == E.MESSAGE_RX and ev.fd == client and
              ev.message == b"one", ev)
        type_, fd_, index, newfd, message = ev       # a named tuple
        check(type_ is E.MESSAGE_RX and fd_ == client and newfd == -1, ev)
        check(srv.wait(0) is None and srv.wait(0.05) is None,
              "an event from nowhere")
        cli.close(fd)
        ev = next_event(srv)
        check(ev.type == E.DISCONNECTION and ev.fd == client, ev)


def disconnection_of_a_killed_peer(rundir):
    code = ("import libipc, os, sys\n"
            "c = libipc.Context()\n"
            "c.connect('killed')\n"
            "os.write(1, b'connected\\n')\n"
            "c.wait()\n")
    with libipc.Context() as srv:
        srv.service("killed")
        peer = subprocess.Popen([sys.executable, "-c", code],
                                stdout=subprocess.PIPE)
        try:
            check(peer.stdout.readline() == b"connected\n", "peer")
            ev = next_event(srv)
            check(ev.type == E.CONNECTION, ev)
            os.kill(peer.pid, signal.SIGKILL)
            peer.wait(10)
            ev = next_event(srv)
            check(ev.type == E.DISCONNECTION and ev.fd == ev.fd, ev)
        finally:
            if peer.poll() is None:
                peer.kill()
                peer.wait()
            peer.stdout.close()


def timer(rundir):
    with libipc.Context() as ctx:
        check(ctx.timer == 0, ctx.timer)
        ctx.timer = 20
        check(ctx.timer == 20, ctx.timer)
        for _ in range(3):
            ev = next_event(ctx)
            check(ev.type == E.TIMER and ev.fd == -1 and ev.index == -1,
                  ev)
        ctx.timer = 0
        # No fd and no timer: nothing can ever happen (ENOENT).
        try:
            ctx.wait(0.1)
        except FileNotFoundError:
            pass
        else:
            raise AssertionError("wait() on an empty context returned")


def external(rundir):
    with libipc.Context() as ctx:
        r, w = os.pipe()
        ctx.add_external(r)             # the context owns r from now on
        check(ctx.wait(0.05) is None, "EXTERNAL before a write")
        os.write(w, b"!")
        ev = next_event(ctx)
        check(ev.type == E.EXTERNAL and ev.fd == r, ev)
        check(os.read(r, 1) == b"!", "the byte was read by the library")
        os.close(w)
        ev = next_event(ctx)
        check(ev.type == E.DISCONNECTION and ev.fd == r, ev)


def switch_both_sides(rundir):
    """A relay: a client of 'front' is switched to the service 'back'."""
    with libipc.Context() as back, libipc.Context() as relay, \
            libipc.Context() as cli:
        back.service("back")
        relay.service("front")
        fd = cli.connect("front")
        ev = next_event(relay)
        check(ev.type == E.CONNECTION, ev)
        client = ev.newfd
        upstream = relay.connect("back")
        relay.add_switch(client, upstream)
        ev = next_event(back)
        check(ev.type == E.CONNECTION, ev)
        back_client = ev.newfd

        cli.write(fd, b"to the back")
        seen = []
        while len(seen) < 2:
            ev = next_event(relay)
            seen.append((ev.type, ev.fd, ev.message))
        check(seen == [(E.SWITCH_RX, client, b"to the back"),
                       (E.SWITCH_TX, upstream, b"")], seen)
        ev = next_event(back)
        check(ev.type == E.MESSAGE_RX and ev.message == b"to the back", ev)

        back.write(back_client, b"and back")
        seen = []
        while len(seen) < 2:
            ev = next_event(relay)
            seen.append((ev.type, ev.fd, ev.message))
        check(seen == [(E.SWITCH_RX, upstream, b"and back"),
                       (E.SWITCH_TX, client, b"")], seen)
        check(cli.read(fd) == b"and back", "the reply")


sys.exit(run([event_types_are_the_seeds, connection_messages_disconnection,
              disconnection_of_a_killed_peer, timer, external,
              switch_both_sides]))
