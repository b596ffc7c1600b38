#!/usr/bin/python3
# A real browser against ipc-wsd: headless chromium loads the demo page
# (examples/www) from ipc-wsd, the page's script echoes messages through
# pongd and writes the result into the DOM, which --dump-dom prints.  A
# page of another origin must not get a WebSocket (403).  TAP; skipped as
# a whole ("1..0 # SKIP") when chromium is absent or cannot run here.
#
# SPDX-License-Identifier: ISC

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

signal.alarm(300)

wsd = os.environ.get("IPC_WSD", "")
pongd = os.environ.get("PONGD", "")
srcdir = os.environ.get("top_srcdir", ".")
www = os.path.join(srcdir, "examples", "www")
browser = (os.environ.get("CHROMIUM") or shutil.which("chromium") or
           shutil.which("chromium-browser") or shutil.which("google-chrome"))

if not wsd or not os.access(wsd, os.X_OK):
    print("1..0 # SKIP ipc-wsd is not built (configure found no nettle)")
    sys.exit(0)
if not browser:
    print("1..0 # SKIP no chromium")
    sys.exit(0)

tmp = tempfile.mkdtemp(prefix="test-wsd-browser.")
os.chmod(tmp, 0o700)


def log(msg):
    for line in str(msg).splitlines():
        print("# " + line)


def dump_dom(url, budget_ms=8000):
    argv = [browser, "--headless", "--disable-gpu", "--no-first-run",
            "--user-data-dir=" + os.path.join(tmp, "profile"),
            "--virtual-time-budget=%d" % budget_ms, "--dump-dom", url]
    if os.geteuid() == 0:
        argv.insert(1, "--no-sandbox")  # chromium's sandbox refuses root
    env = dict(os.environ, HOME=tmp)
    try:
        p = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as e:
        log(e)
        return ""
    return p.stdout.decode("utf-8", "replace")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(cond, what, seconds=20):
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


# Can this browser run here at all?
if "<b>ran</b>" not in dump_dom("data:text/html,<b>ran</b>", 100):
    print("1..0 # SKIP %s cannot run here" % browser)
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0)

rundir = os.path.join(tmp, "run")
os.mkdir(rundir, 0o700)
env = dict(os.environ, IPC_RUNDIR=rundir)
env.pop("IPC_NETWORK", None)
procs = [subprocess.Popen([pongd], env=env)]
wait_for(lambda: os.path.exists(os.path.join(rundir, "pong")), "pongd")
port, other = free_port(), free_port()
for p in (port, other):
    procs.append(subprocess.Popen([wsd, "--listen", "127.0.0.1:%d" % p,
                                   "--allow", "pong", "--www", www],
                                  env=env))
    wait_for(lambda p=p: can_connect(p), "ipc-wsd")

n = 0


def report(ok, name):
    global n
    n += 1
    print("%s %d /ipc/wsd/browser/%s" % ("ok" if ok else "not ok", n, name))
    sys.stdout.flush()


def status(dom):
    m = re.search(r'<span id="status">([^<]*)</span>', dom)
    return m.group(1) if m else None


dom = dump_dom("http://127.0.0.1:%d/?selftest=50" % port)
items = re.findall(r"<li>([^<]*)</li>", dom)
ok = status(dom) == "selftest ok 50" and \
    items == ["echo %d \u00e9\u20ac" % i for i in range(50)]
if not ok:
    log("status %r, %d items" % (status(dom), len(items)))
report(ok, "echo")

# The page of one server (origin http://127.0.0.1:OTHER) opening a
# WebSocket on another: refused, the script sees the connection fail.
dom = dump_dom("http://127.0.0.1:%d/?selftest=1&server=127.0.0.1:%d" %
               (other, port))
ok = status(dom) is not None and status(dom).startswith("closed")
if not ok:
    log("status %r" % status(dom))
report(ok, "cross-origin-refused")

clean = True
for p in reversed(procs):
    p.send_signal(signal.SIGTERM)
for p in reversed(procs):
    clean = p.wait(timeout=30) == 0 and clean
report(clean, "clean-exit")
print("1..%d" % n)
shutil.rmtree(tmp, ignore_errors=True)
