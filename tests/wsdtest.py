# wsdtest.py - what the ipc-wsd tests (tests/test-wsd*.py) share: the
# skips, a private run directory with pongd serving in it, ipc-wsd on a
# free loopback port, bounded waits, and the tear-down that checks every
# daemon's exit status.  The tests print TAP themselves: a test that
# cannot run here prints "1..0 # SKIP <why>" and exits 0.
#
# It lives beside the tests in $(srcdir)/tests, the directory Python puts
# first on sys.path when it runs one of them, build tree or not.
#
# SPDX-License-Identifier: ISC

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

WSD = os.environ.get("IPC_WSD", "")
PONGD = os.environ.get("PONGD", "")


def log(msg):
    """Diagnostics as TAP comments (stdout is the TAP stream)."""
    for line in str(msg).splitlines():
        print("# " + line)


def skip(why):
    """Skips the whole test."""
    print("1..0 # SKIP " + why)
    sys.exit(0)


def require_wsd():
    """Skips the test unless ipc-wsd was built (it needs nettle)."""
    if not WSD or not os.access(WSD, os.X_OK):
        skip("ipc-wsd is not built (configure found no nettle)")


def import_websockets():
    """The websockets module (python3-websockets), or the test skipped."""
    try:
        import websockets
        import websockets.exceptions  # noqa: F401 - websockets.exceptions
    except ImportError:
        skip("python3-websockets is not installed")
    return websockets


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, what, seconds=20):
    """Polls @cond until it is true; raises after @seconds."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return
        time.sleep(0.02)
    raise RuntimeError("timed out waiting for " + what)


def can_connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class Daemons:
    """A private run directory ($IPC_RUNDIR, mode 0700) with pongd serving
    "pong" in it, and the ipc-wsd started there by wsd().

    @memcheck: under make check-valgrind ($VALGRIND set) ipc-wsd runs under
    memcheck, whose verdict is then its exit status, checked by stop().
    """

    def __init__(self, prefix, memcheck=False):
        self.rundir = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.rundir, 0o700)
        self.env = dict(os.environ, IPC_RUNDIR=self.rundir)
        self.env.pop("IPC_NETWORK", None)
        self.wsd_run = [WSD]
        if memcheck and os.environ.get("VALGRIND"):
            self.wsd_run = [os.environ["VALGRIND"], "--quiet"] + \
                os.environ.get("MEMCHECK_FLAGS", "").split() + [WSD]
        self.procs = []
        self.pongd = self.spawn([PONGD])
        wait_for(lambda: os.path.exists(os.path.join(self.rundir, "pong")),
                 "pongd")

    def spawn(self, argv):
        p = subprocess.Popen(argv, env=self.env)
        self.procs.append(p)
        return p

    def wsd(self, *args):
        """Starts ipc-wsd with @args on a free loopback port and waits until
        it accepts; returns the port (its process is self.procs[-1])."""
        port = free_port()
        self.spawn(self.wsd_run + ["--listen", "127.0.0.1:%d" % port] +
                   list(args))
        wait_for(lambda: can_connect(port), "ipc-wsd")
        return port

    def stop(self):
        """Ends the daemons (SIGTERM, the last started first), removes the
        run directory; True when every one exited with status 0."""
        for p in reversed(self.procs):
            p.send_signal(signal.SIGTERM)
        ok = True
        for p in reversed(self.procs):
            try:
                rc = p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = -9
            if rc != 0:
                log("%s exited with %d" % (p.args[0], rc))
                ok = False
        shutil.rmtree(self.rundir, ignore_errors=True)
        return ok
