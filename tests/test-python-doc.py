# test-python-doc.py - the Python examples of the documentation run.
#
# Every ```python block of README.md and doc/*.md preceded by the marker
# <!-- example: python service --> is run as a program serving "echo" in
# a private run directory: tests/bin/pong must get a 64 KiB and a small
# message back through it.  (tests/check-doc-examples.sh does the same
# for the C blocks.)  Skipped with the poll backend for the blocks that
# need the context fd (all of them use asyncio today).
#
# SPDX-License-Identifier: ISC

import errno
import os
import re
import subprocess
import sys

from ipctest import check, libipc, run, wait_for_socket, PONG

top_srcdir = os.environ.get("top_srcdir", os.path.join(
    os.path.dirname(os.path.abspath(__file__)), ".."))

with libipc.Context() as probe:
    try:
        probe.fileno()
    except OSError as e:
        if e.errno != errno.EOPNOTSUPP:
            raise
        print("SKIP: the poll backend has no context fd")
        sys.exit(77)


def blocks():
    files = [os.path.join(top_srcdir, "README.md")]
    docdir = os.path.join(top_srcdir, "doc")
    files += sorted(os.path.join(docdir, f) for f in os.listdir(docdir)
                    if f.endswith(".md"))
    found = []
    pattern = re.compile(r"<!-- example: python service -->\n```python\n"
                         r"(.*?)\n```", re.S)
    for path in files:
        with open(path) as f:
            text = f.read()
        for m in pattern.finditer(text):
            line = text.count("\n", 0, m.start()) + 3
            found.append(("%s:%d" % (os.path.relpath(path, top_srcdir),
                                     line), m.group(1)))
    return found


def python_service_blocks(rundir):
    found = blocks()
    check(found, "no Python example in the documentation")
    big = ("0123456789abcdef" * 4096)
    for label, code in found:
        proc = subprocess.Popen([sys.executable, "-c", code],
                                stderr=subprocess.PIPE)
        try:
            wait_for_socket(os.path.join(rundir.path, "echo"), proc)
            r = subprocess.run([PONG, "-s", "echo", big, "small"],
                               stdout=subprocess.PIPE, timeout=60)
            check(r.returncode == 0 and
                  r.stdout == (big + "\nsmall\n").encode(),
                  "%s: pong got %r" % (label, r.stdout[:80]))
            print("ok:", label)
        finally:
            proc.terminate()
            proc.wait(10)
            proc.stderr.close()


sys.exit(run([python_service_blocks]))
