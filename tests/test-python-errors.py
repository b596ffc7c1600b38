# test-python-errors.py - bad input gives a clear exception, never a
# crash: wrong types, closed fds, bad names, a message over the maximum,
# a context used after close, errno mapped to OSError subclasses with
# the service name, a context shared by two threads, a forked child.
#
# SPDX-License-Identifier: ISC

import errno
import os
import socket
import stat
import sys
import threading
import time

from ipctest import check, expect, libipc, run

E = libipc.EventType


def wrong_types(rundir):
    with libipc.Context() as ctx:
        expect(TypeError, ctx.service, 42)
        expect(TypeError, ctx.connect, None)
        expect(TypeError, ctx.schedule, "fd", b"x")
        expect(TypeError, ctx.schedule, 3, "not bytes")
        expect(TypeError, ctx.schedule, 3)
        expect(TypeError, ctx.write, 3, 42)
        expect(TypeError, ctx.read, 1.5)
        expect(TypeError, ctx.wait, "soon")
        expect(ValueError, ctx.wait, -1)
        expect(TypeError, ctx.add_switch, 1)
        expect(OverflowError, ctx.close, 1 << 40)
        expect(TypeError, setattr, ctx, "timer", "fast")
        expect(AttributeError, setattr, ctx, "max_message_size", 10)
        expect(ValueError, libipc.Context, 0)
        expect(ValueError, libipc.Context, max_message_size=1 << 33)
        expect(TypeError, libipc.Context, nothing=1)


def closed_fds(rundir):
    with libipc.Context() as srv, libipc.Context() as cli:
        srv.service("fds")
        fd = cli.connect("fds")
        cli.close(fd)
        for call, args in ((cli.schedule, (fd, b"x")), (cli.write, (fd, b"x")),
                           (cli.read, (fd,)), (cli.close, (fd,)),
                           (cli.peer_credentials, (fd,)),
                           (cli.close, (-1,))):
            e = expect(OSError, call, *args)
            check(e.errno == errno.EBADF and "fd" in str(e), e)
        r, w = os.pipe()
        os.close(w)
        os.close(r)
        e = expect(OSError, cli.add_external, r)
        check(e.errno == errno.EBADF, e)


def bad_names(rundir):
    with libipc.Context() as ctx:
        for name in ("", "a/b", ".", "..", "x" * 65536, b"/"):
            e = expect(ValueError, ctx.service, name)
            e = expect(ValueError, ctx.connect, name)
        expect(ValueError, ctx.service, "nul\0byte")
        # Valid, but RUNDIR/NAME does not fit in sun_path.
        e = expect(OSError, ctx.service, "n" * 200)
        check(e.errno == errno.ENAMETOOLONG and "n" * 200 in str(e), e)
        e = expect(FileNotFoundError, ctx.connect, "no-such-service")
        check("no-such-service" in str(e), e)


def refused_and_in_use(rundir):
    # A socket file nobody listens on.
    path = os.path.join(rundir.path, "deaf")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    with libipc.Context() as ctx:
        e = expect(ConnectionRefusedError, ctx.connect, "deaf")
        check("deaf" in str(e), e)
        s.close()
        os.unlink(path)
        ctx.service("taken")
        with libipc.Context() as other:
            e = expect(OSError, other.service, "taken")
            check(e.errno == errno.EADDRINUSE and "taken" in str(e), e)


def unsafe_rundir(rundir):
    os.chmod(rundir.path, 0o777)
    try:
        with libipc.Context() as ctx:
            e = expect(PermissionError, ctx.service, "open-to-all")
            check("open-to-all" in str(e), e)
    finally:
        os.chmod(rundir.path, 0o700)


def message_over_the_maximum(rundir):
    with libipc.Context(max_message_size=1024) as srv, \
            libipc.Context() as cli:
        check(srv.max_message_size == 1024, srv.max_message_size)
        srv.service("small")
        fd = cli.connect("small")
        ev = srv.wait(5)
        e = expect(OSError, srv.schedule, ev.newfd, bytes(1025))
        check(e.errno == errno.EMSGSIZE, e)
        e = expect(OSError, srv.write, ev.newfd, bytearray(1025))
        check(e.errno == errno.EMSGSIZE, e)
        srv.schedule(ev.newfd, memoryview(bytes(1024)))  # the maximum
        # A peer announcing more is disconnected.
        cli.write(fd, bytes(1025))
        ev2 = srv.wait(5)
        while ev2.type == E.MESSAGE_TX:
            ev2 = srv.wait(5)
        check(ev2.type == E.DISCONNECTION and ev2.fd == ev.newfd, ev2)


def used_after_close(rundir):
    ctx = libipc.Context()
    with ctx:
        ctx.service("gone")
    check(ctx.closed, "closed")
    check(not os.path.exists(os.path.join(rundir.path, "gone")),
          "the socket outlived the context")
    for call, args in ((ctx.service, ("x",)), (ctx.connect, ("x",)),
                       (ctx.schedule, (3, b"")), (ctx.write, (3, b"")),
                       (ctx.read, (3,)), (ctx.wait, (0,)),
                       (ctx.close, (3,)), (ctx.close_all, ()),
                       (ctx.add_external, (0,)), (ctx.add_switch, (3, 4)),
                       (ctx.peer_credentials, (3,)), (ctx.fileno, ()),
                       (ctx.queue_limits, (1, 2)),
                       (setattr, (ctx, "timer", 5))):
        expect(ValueError, call, *args)
    ctx.deinit()                        # twice is fine
    expect(ValueError, ctx.__enter__)
    check("closed" in repr(ctx), repr(ctx))


def two_threads_one_context(rundir):
    with libipc.Context() as ctx:
        ctx.timer = 500
        t = threading.Thread(target=ctx.wait)
        t.start()
        time.sleep(0.1)
        e = expect(RuntimeError, ctx.schedule, 3, b"")
        check("thread" in str(e), e)
        expect(RuntimeError, ctx.deinit)
        t.join(10)
        check(not t.is_alive(), "the waiting thread hangs")


def forked_child(rundir):
    with libipc.Context() as ctx:
        ctx.service("parent")
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                ctx.wait(0)
                code = 2
            except ChildProcessError:
                pass
            except BaseException:
                code = 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        check(os.waitstatus_to_exitcode(status) == 0,
              "the child's wait(): status %d" % status)
        check(stat.S_ISSOCK(os.stat(os.path.join(rundir.path,
                                                 "parent")).st_mode),
              "the child touched the parent's socket")


def errno_in_every_exception(rundir):
    with libipc.Context() as ctx:
        e = expect(FileNotFoundError, ctx.connect, "nothing-here")
        check(e.errno == errno.ENOENT and e.filename == "nothing-here", e)


sys.exit(run([wrong_types, closed_fds, bad_names, refused_and_in_use,
              unsafe_rundir, message_over_the_maximum, used_after_close,
              two_threads_one_context, forked_child,
              errno_in_every_exception]))
