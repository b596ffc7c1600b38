# test-python-memory.py - reference counting: 1,000,000 send and receive
# calls (write, wait, schedule, wait, read: 200,000 round trips of the
# module) keep the process's memory flat.  The bound is generous (8 MiB
# of resident memory over the whole loop after a warm-up) so that no
# allocator's noise fails it; one leaked object per call would be tens
# of MiB.
#
# SPDX-License-Identifier: ISC

import os
import sys

from ipctest import check, libipc, run

E = libipc.EventType
ROUND_TRIPS = 200000
WARMUP = 10000
BOUND = 8 << 20


def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def round_trips(srv, cli, fd, count, message):
    for _ in range(count):
        cli.write(fd, message)
        ev = srv.wait()
        srv.schedule(ev.fd, ev.message)
        srv.wait()                          # MESSAGE_TX: written
        if cli.read(fd) != message:
            raise AssertionError("a reply differs")


def flat_memory(rundir):
    with libipc.Context() as srv, libipc.Context() as cli:
        srv.service("memory")
        fd = cli.connect("memory")
        check(srv.wait(5).type == E.CONNECTION, "no connection")
        message = b"m" * 100
        round_trips(srv, cli, fd, WARMUP, message)
        before = rss()
        round_trips(srv, cli, fd, ROUND_TRIPS, message)
        grown = rss() - before
        print("RSS grew by %d bytes over %d calls" % (grown, 5 * ROUND_TRIPS))
        check(grown < BOUND, "RSS grew by %d bytes" % grown)


sys.exit(run([flat_memory]))
