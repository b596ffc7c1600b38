#!/usr/bin/python3
# ipc-wsd against independent clients: Python's websockets library for the
# protocol, raw sockets for malformed frames and hostile handshakes.
# Prints TAP (case names /ipc/wsd/<case>); skipped as a whole ("1..0 #
# SKIP") without python3-websockets or ipc-wsd.
#
# SPDX-License-Identifier: ISC

import asyncio
import base64
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import time

import wsdtest
from wsdtest import can_connect, free_port, log, wait_for

signal.alarm(300)
websockets = wsdtest.import_websockets()
wsdtest.require_wsd()
wsd = wsdtest.WSD
srcdir = os.environ.get("top_srcdir", ".")

MAX = 16 * 1024 * 1024
results = []


class Daemons(wsdtest.Daemons):
    """pongd, ipc-wsd under memcheck in make check-valgrind (its exit
    status, checked at clean-exit, carries memcheck's verdict), and a
    service of ours, "probe", to see whether ipc-wsd connects to it."""

    def __init__(self):
        super().__init__("test-wsd.", memcheck=True)
        self.probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.probe.bind(os.path.join(self.rundir, "probe"))
        self.probe.listen(16)
        self.probe.setblocking(False)

    def stop(self):
        ok = super().stop()
        self.probe.close()
        return ok


def case(name):
    def wrap(fn):
        results.append((name, fn))
        return fn
    return wrap


# --- raw clients -------------------------------------------------------

def raw_request(port, head, timeout=10):
    """Sends @head, returns everything the server sent until it closed."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(head)
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    return data


def status_of(reply):
    line = reply.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def upgrade_head(path, origin=None, version=b"13", host=None, port=0):
    key = base64.b64encode(os.urandom(16))
    head = b"GET " + path + b" HTTP/1.1\r\n"
    head += b"Host: " + (host or b"127.0.0.1:%d" % port) + b"\r\n"
    head += b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    head += b"Sec-WebSocket-Key: " + key + b"\r\n"
    head += b"Sec-WebSocket-Version: " + version + b"\r\n"
    if origin is not None:
        head += b"Origin: " + origin + b"\r\n"
    return head + b"\r\n"


def client_frame(opcode, payload, fin=True, rsv=0, mask=True, length=None):
    b0 = (0x80 if fin else 0) | rsv | opcode
    n = len(payload) if length is None else length
    if n < 126:
        hdr = struct.pack("!BB", b0, (0x80 if mask else 0) | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, (0x80 if mask else 0) | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, (0x80 if mask else 0) | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def masked_frame(payload):
    """A masked binary frame, masked a word at a time (large payloads)."""
    n = len(payload)
    key = os.urandom(4)
    mask = (key * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^
            int.from_bytes(mask, "big")).to_bytes(n, "big") if n else b""
    if n < 126:
        hdr = struct.pack("!BB", 0x82, 0x80 | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", 0x82, 0x80 | 126, n)
    else:
        hdr = struct.pack("!BBQ", 0x82, 0x80 | 127, n)
    return hdr + key + body


def read_frames(data):
    """Server frames (unmasked) in @data: a list of (opcode, payload)."""
    frames = []
    while len(data) >= 2:
        op, n = data[0] & 0x0f, data[1] & 0x7f
        off = 2
        if n == 126:
            n, off = struct.unpack("!H", data[2:4])[0], 4
        elif n == 127:
            n, off = struct.unpack("!Q", data[2:10])[0], 10
        frames.append((op, data[off:off + n]))
        data = data[off + n:]
    return frames


def raw_close_code(port, frames_bytes):
    """Opens /pong, sends @frames_bytes, returns the close code received."""
    reply = raw_request(port, upgrade_head(b"/pong", port=port) +
                        frames_bytes)
    head, _, rest = reply.partition(b"\r\n\r\n")
    assert status_of(head) == 101, head
    for op, payload in read_frames(rest):
        if op == 0x8:
            return struct.unpack("!H", payload[:2])[0] if payload else 0
    return None


# --- websockets clients -----------------------------------------------

def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


async def echo(uri, messages, **kw):
    async with websockets.connect(uri, max_size=None, **kw) as ws:
        out = []
        for m in messages:
            await ws.send(m)
            out.append(await ws.recv())
        return out


def main():
    d = Daemons()
    port = d.wsd("--allow", "pong", "--allow", "probe",
                 "--origin", "http://good.example",
                 "--www", os.path.join(srcdir, "examples", "www"),
                 "--timeout", "1000")
    tport = d.wsd("--allow", "pong", "--text")
    uri = "ws://127.0.0.1:%d/pong" % port

    @case("binary")
    def _():
        data = os.urandom(100)
        assert run(echo(uri, [data])) == [data]

    @case("text-as-binary")
    def _():
        # A text message reaches the service as its UTF-8 bytes, and
        # comes back binary by default.
        assert run(echo(uri, ["héllo"])) == ["héllo".encode()]

    @case("text")
    def _():
        turi = "ws://127.0.0.1:%d/pong" % tport
        assert run(echo(turi, ["héllo", b"\xff\xfe"])) == \
            ["héllo", b"\xff\xfe"]

    @case("empty")
    def _():
        assert run(echo(uri, [b"", b"x", b""])) == [b"", b"x", b""]

    @case("fragmented")
    def _():
        async def go():
            async with websockets.connect(uri) as ws:
                await ws.send([b"ab", b"", b"cd", b"e" * 70000])
                return await ws.recv()
        assert run(go()) == b"abcd" + b"e" * 70000

    @case("ping-pong")
    def _():
        async def go():
            async with websockets.connect(uri) as ws:
                waiter = await ws.ping(b"are you there")
                await asyncio.wait_for(waiter, 10)
                await ws.send(b"after")
                return await ws.recv()
        assert run(go()) == b"after"

    @case("close-handshake")
    def _():
        async def go():
            ws = await websockets.connect(uri)
            await ws.send(b"last")
            assert await ws.recv() == b"last"
            await ws.close(code=4000, reason="bye")
            return ws.close_code, ws.close_rcvd.code
        assert run(go()) == (4000, 4000)

    @case("one-mib")
    def _():
        data = os.urandom(1 << 20)
        assert run(echo(uri, [data])) == [data]

    @case("max")
    def _():
        data = random.randbytes(MAX)
        assert run(echo(uri, [data])) == [data]

    @case("slow-reader")
    def _():
        # Echoes the client does not read for a while wait in ipc-wsd
        # (the socket is polled until it takes them), whole and in order.
        msgs = [os.urandom(n) for n in (1048579, 5, 700001, 70000, 800007)]
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(upgrade_head(b"/pong", port=port))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)
            assert chunk, head
            head += chunk
        assert status_of(head) == 101, head
        s.sendall(b"".join(masked_frame(m) for m in msgs))
        time.sleep(1)
        total = sum(len(m) + (2 if len(m) < 126 else
                              4 if len(m) < 65536 else 10) for m in msgs)
        data = bytearray()
        while len(data) < total:
            chunk = s.recv(1 << 20)
            assert chunk, len(data)
            data += chunk
        s.close()
        assert [p for _, p in read_frames(bytes(data))] == msgs

    @case("above-max")
    def _():
        async def go():
            async with websockets.connect(uri, max_size=None) as ws:
                await ws.send(b"\0" * (MAX + 1))
                try:
                    await ws.recv()
                except websockets.exceptions.ConnectionClosed as e:
                    return e.rcvd.code if e.rcvd else None
        assert run(go()) == 1009

    @case("thousand-in-order")
    def _():
        async def go():
            async with websockets.connect(uri) as ws:
                msgs = [b"%d" % i + os.urandom(i % 50) for i in range(1000)]
                for m in msgs:
                    await ws.send(m)
                got = [await ws.recv() for _ in msgs]
                return got == msgs
        assert run(go())

    # Malformed frames: each gets its status code.
    bad = {
        "unmasked": (client_frame(0x2, b"x", mask=False), 1002),
        "rsv1": (client_frame(0x2, b"x", rsv=0x40), 1002),
        "rsv3": (client_frame(0x2, b"x", rsv=0x10), 1002),
        "opcode-3": (client_frame(0x3, b"x"), 1002),
        "opcode-11": (client_frame(0xb, b"x"), 1002),
        "long-ping": (client_frame(0x9, b"x" * 126), 1002),
        "fragmented-ping": (client_frame(0x9, b"x", fin=False), 1002),
        "lone-continuation": (client_frame(0x0, b"x"), 1002),
        "data-inside-fragments": (client_frame(0x1, b"a", fin=False) +
                                  client_frame(0x1, b"b"), 1002),
        "bad-utf8": (client_frame(0x1, b"\xc3\x28"), 1007),
        "bad-utf8-fragments": (client_frame(0x1, b"\xe2\x82", fin=False) +
                               client_frame(0x0, b"\x28"), 1007),
        "close-1-byte": (client_frame(0x8, b"\x03"), 1002),
        "close-1005": (client_frame(0x8, struct.pack("!H", 1005)), 1002),
        "close-bad-reason": (client_frame(0x8, struct.pack("!H", 1000) +
                                          b"\xff"), 1007),
        "too-big": (client_frame(0x2, b"", length=MAX + 1), 1009),
        "too-big-fragments": (client_frame(0x2, b"a" * 100, fin=False) +
                              client_frame(0x0, b"", length=MAX - 99),
                              1009),
    }
    for name, (frames, code) in bad.items():
        def check(frames=frames, code=code):
            got = raw_close_code(port, frames)
            assert got == code, "close code %r, expected %d" % (got, code)
        results.append(("malformed/" + name, check))

    @case("close-echo")
    def _():
        assert raw_close_code(port, client_frame(
            0x8, struct.pack("!H", 1000))) == 1000

    @case("first-frame-with-head")
    def _():
        # A frame sent right behind the request head is not lost.
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(upgrade_head(b"/pong", port=port) +
                  client_frame(0x2, b"early"))
        data = b""
        while not read_frames(data.partition(b"\r\n\r\n")[2]):
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
        s.close()
        frames = read_frames(data.partition(b"\r\n\r\n")[2])
        assert frames[0] == (0x2, b"early"), frames

    def probe_connected():
        try:
            conn, _ = d.probe.accept()
            conn.close()
            return True
        except BlockingIOError:
            return False

    @case("origin-refused")
    def _():
        reply = raw_request(port, upgrade_head(
            b"/probe", origin=b"http://evil.example", port=port))
        assert status_of(reply) == 403, reply[:80]
        time.sleep(0.2)
        assert not probe_connected(), "the service was connected to"

    @case("origin-rebound-host")
    def _():
        # A page of a name that resolves to us (DNS rebinding) is not
        # "the same origin".
        reply = raw_request(port, upgrade_head(
            b"/probe", origin=b"http://evil.example:%d" % port,
            host=b"evil.example:%d" % port))
        assert status_of(reply) == 403, reply[:80]
        assert not probe_connected()

    @case("origin-allowed")
    def _():
        for origin in (b"http://good.example", None,
                       b"http://127.0.0.1:%d" % port):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(upgrade_head(b"/probe", origin=origin, port=port))
            head = s.recv(4096)
            assert status_of(head) == 101, head
            wait_for(probe_connected, "the probe service's connection")
            s.close()

    @case("unknown-service")
    def _():
        reply = raw_request(port, upgrade_head(b"/ipcd", port=port))
        assert status_of(reply) == 404

    @case("version-8")
    def _():
        reply = raw_request(port, upgrade_head(b"/pong", version=b"8",
                                               port=port))
        assert status_of(reply) == 426
        assert b"Sec-WebSocket-Version: 13" in reply

    @case("bad-key")
    def _():
        head = upgrade_head(b"/pong", port=port).replace(
            b"Sec-WebSocket-Key: ", b"Sec-WebSocket-Key: x")
        assert status_of(raw_request(port, head)) == 400

    @case("head-too-large")
    def _():
        head = b"GET / HTTP/1.1\r\nX: " + b"a" * 9000 + b"\r\n\r\n"
        assert status_of(raw_request(port, head)) == 431

    @case("head-timeout")
    def _():
        reply = raw_request(port, b"GET / HTTP/1.1\r\n", timeout=30)
        assert status_of(reply) == 408, reply[:80]

    @case("static-index")
    def _():
        reply = raw_request(port, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with open(os.path.join(srcdir, "examples", "www", "index.html"),
                  "rb") as f:
            body = f.read()
        assert status_of(reply) == 200
        assert reply.partition(b"\r\n\r\n")[2] == body

    @case("static-traversal")
    def _():
        for path in (b"/../COPYING", b"/%2e%2e/COPYING", b"/.%2e/COPYING",
                     b"/x/../../COPYING", b"//etc/passwd",
                     b"/%2F..%2FCOPYING", b"/missing.html"):
            reply = raw_request(port, b"GET " + path +
                                b" HTTP/1.1\r\nHost: x\r\n\r\n")
            assert status_of(reply) == 404, (path, reply[:60])

    @case("stop-with-clients")
    def _():
        # SIGTERM while a client is still in its request and another is
        # switched with pongd: ipc-wsd frees both and exits 0 (under
        # make check-valgrind, memcheck's verdict is that status).
        lport = free_port()
        p = subprocess.Popen(d.wsd_run + ["--listen", "127.0.0.1:%d" % lport,
                                          "--allow", "pong"], env=d.env)
        try:
            wait_for(lambda: can_connect(lport), "ipc-wsd")
            idle = socket.create_connection(("127.0.0.1", lport))
            idle.sendall(b"GET /pong HTTP/1.1\r\n")
            ws = socket.create_connection(("127.0.0.1", lport))
            ws.sendall(upgrade_head(b"/pong", port=lport))
            ws.settimeout(10)
            assert status_of(ws.recv(4096)) == 101
        finally:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=60)
        idle.close()
        ws.close()
        assert p.returncode == 0, p.returncode

    @case("out-of-fds")
    def _():
        # With 32 fds, ipc-wsd refuses (closes) the clients it cannot
        # hold, keeps running, and serves again once they are gone.
        import resource

        def low_limit():
            resource.setrlimit(resource.RLIMIT_NOFILE, (32, 32))
        lport = free_port()
        p = subprocess.Popen([wsd, "--listen", "127.0.0.1:%d" % lport,
                              "--allow", "pong"], env=d.env,
                             preexec_fn=low_limit, stderr=subprocess.PIPE)
        try:
            wait_for(lambda: can_connect(lport), "ipc-wsd")
            socks = [socket.create_connection(("127.0.0.1", lport))
                     for _ in range(40)]
            # Refused clients are closed at once: some read end of file.
            refused = 0
            for s in socks:
                s.settimeout(0.2)
                try:
                    if s.recv(1) == b"":
                        refused += 1
                except (socket.timeout, ConnectionResetError):
                    pass
            for s in socks:
                s.close()
            assert refused > 0, "no client was refused"
            luri = "ws://127.0.0.1:%d/pong" % lport
            def serving():
                try:
                    return run(echo(luri, [b"back"])) == [b"back"]
                except (OSError, websockets.exceptions.WebSocketException,
                        asyncio.TimeoutError):
                    return False
            wait_for(serving, "ipc-wsd serving again", 20)
            assert p.poll() is None
        finally:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=30)
        assert p.returncode == 0, p.returncode

    n = 0
    failed = 0
    for name, fn in results:
        n += 1
        try:
            fn()
            print("ok %d /ipc/wsd/%s" % (n, name))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failed += 1
            log(repr(e))
            print("not ok %d /ipc/wsd/%s" % (n, name))
        sys.stdout.flush()
    n += 1
    if d.stop():
        print("ok %d /ipc/wsd/clean-exit" % n)
    else:
        print("not ok %d /ipc/wsd/clean-exit" % n)
    print("1..%d" % n)


main()
