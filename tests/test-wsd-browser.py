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
import subprocess
import sys
import tempfile

import wsdtest
from wsdtest import log

signal.alarm(600)

srcdir = os.environ.get("top_srcdir", ".")
www = os.path.join(srcdir, "examples", "www")
browser = (os.environ.get("CHROMIUM") or shutil.which("chromium") or
           shutil.which("chromium-browser") or shutil.which("google-chrome"))

wsdtest.require_wsd()
if not browser:
    wsdtest.skip("no chromium")

tmp = tempfile.mkdtemp(prefix="test-wsd-browser.")
os.chmod(tmp, 0o700)


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


# Can this browser run here at all?
if "<b>ran</b>" not in dump_dom("data:text/html,<b>ran</b>", 100):
    print("1..0 # SKIP %s cannot run here" % browser)
    shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(0)

d = wsdtest.Daemons("test-wsd-browser.")
port = d.wsd("--allow", "pong", "--www", www)
other = d.wsd("--allow", "pong", "--www", www)

n = 0


def report(ok, name):
    global n
    n += 1
    print("%s %d /ipc/wsd/browser/%s" % ("ok" if ok else "not ok", n, name))
    sys.stdout.flush()


def status(dom):
    m = re.search(r'<span id="status">([^<]*)</span>', dom)
    return m.group(1) if m else None


def unfinished(s):
    return s in ("connecting", "connected", None) or \
        s.startswith("selftest running")


# --virtual-time-budget runs the page's clock ahead while it waits for
# the network, so on a loaded machine the DOM can be dumped before the
# echoes came back: an unfinished self-test ("connecting", "connected",
# "selftest running N") is tried again with a larger budget, and so is a
# browser that printed nothing (on a fresh machine its first page load
# once hung past the 120 s limit); any other result counts.
for budget_ms in (8000, 30000, 120000):
    dom = dump_dom("http://127.0.0.1:%d/?selftest=50" % port, budget_ms)
    if not unfinished(status(dom)):
        break
    log("self-test unfinished within %d ms of page time (status %r)" %
        (budget_ms, status(dom)))
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

report(d.stop(), "clean-exit")
print("1..%d" % n)
shutil.rmtree(tmp, ignore_errors=True)
