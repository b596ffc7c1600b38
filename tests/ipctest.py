# ipctest.py - what the tests of the Python module (tests/test-python-*.py)
# share: the module or a skip, a private run directory, bounded waits,
# the fd count checked after each case.
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
import traceback

try:
    import libipc
except ImportError as e:
    # Built by configure: not finding it is an error, not a skip.
    if os.environ.get("LIBIPC_PYTHON") == "yes":
        print("ERROR: the module was built but does not import:", e)
        sys.exit(99)
    print("SKIP: the libipc module is not built")
    sys.exit(77)

# A hung test fails instead of hanging CI.
signal.alarm(300)

PONG = os.environ.get("PONG")
PONGD = os.environ.get("PONGD")


def open_fds():
    return sorted(int(f) for f in os.listdir("/proc/self/fd"))


class Rundir:
    """A private run directory in $IPC_RUNDIR for the whole test."""

    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="test-python.")
        os.environ["IPC_RUNDIR"] = self.path

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


def listening(path):
    """The socket exists and is listening (bind comes before listen)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
        return True
    except OSError:
        return False
    finally:
        s.close()


def wait_for_socket(path, proc=None, limit=30.0):
    deadline = time.monotonic() + limit
    while not listening(path):
        if proc is not None and proc.poll() is not None:
            raise AssertionError("%s exited before listening on %s"
                                 % (proc.args, path))
        if time.monotonic() > deadline:
            raise AssertionError("nobody listens on %s after %s s"
                                 % (path, limit))
        time.sleep(0.02)


def start_pongd(rundir, name="pong"):
    if not PONGD or not os.access(PONGD, os.X_OK):
        raise AssertionError("PONGD must name tests/bin/pongd")
    proc = subprocess.Popen([PONGD, name])
    wait_for_socket(os.path.join(rundir.path, name), proc)
    return proc


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect(exc_type, func, *args, **kwargs):
    """func(*args) must raise exc_type; returns the exception."""
    try:
        func(*args, **kwargs)
    except exc_type as e:
        return e
    except BaseException as e:
        raise AssertionError("%s%r raised %r, not %s"
                             % (func.__name__, args, e, exc_type.__name__))
    raise AssertionError("%s%r raised nothing, not %s"
                         % (func.__name__, args, exc_type.__name__))


def run(cases):
    """Runs each case(rundir) in turn: 0 when all passed, else 1."""
    rundir = Rundir()
    failed = 0
    try:
        for case in cases:
            before = open_fds()
            try:
                case(rundir)
                after = open_fds()
                check(after == before, "fds before %s, after %s"
                      % (before, after))
                print("ok:", case.__name__)
            except Exception:
                failed += 1
                print("FAIL:", case.__name__)
                traceback.print_exc(file=sys.stdout)
    finally:
        rundir.remove()
    sys.stdout.flush()
    return 1 if failed else 0
