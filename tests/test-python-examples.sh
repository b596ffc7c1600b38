#!/bin/sh
# test-python-examples.sh - examples/pongd.py, pong.py and
# pongd-asyncio.py, end to end, by tests/test-examples.sh.
#
# Runs test-examples.sh three times: pongd.py with the C pong, the C
# pongd with pong.py, pongd-asyncio.py with the C pong (epoll backend
# only: the poll backend has no context fd).  The Python programs run
# under $PYTHON with the module and library of the build tree.
#
# Run by make check (PONGD, PONG, PYTHON, LIBIPC_PYTHON, top_srcdir,
# top_builddir, IPC_BACKEND).  Exit status: 0 pass, 1 fail, 77 skipped
# (the module was not built, or under make check-valgrind), 99 error.
#
# SPDX-License-Identifier: ISC

set -u

# The module and library of the build tree, or skipped (python-env.sh).
# shellcheck source=tests/python-env.sh
. "$(dirname "$0")/python-env.sh"
top_srcdir=${top_srcdir:-.}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-python-examples.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

# The interpreter itself, not a wrapper (a pyenv shim is a shell script
# that forks): the test signals the pid it started.
python=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)') || exit 99
# An executable for each example: test-examples.sh runs PONGD and PONG.
for example in pongd pong pongd-asyncio; do
	printf '#!/bin/sh\nexec %s -X dev "%s" "$@"\n' "$python" \
		"$top_srcdir/examples/$example.py" >"$tmp/$example"
	chmod +x "$tmp/$example"
done

status=0
# run LABEL PONGD PONG
run()
{
	echo "=== $1"
	PONGD=$2 PONG=$3 "${SHELL:-/bin/sh}" "$top_srcdir/tests/test-examples.sh"
	rc=$?
	case $rc in
	0) echo "PASS: $1" ;;
	99) exit 99 ;;
	*) echo "FAIL: $1"; status=1 ;;
	esac
}

run "pongd.py with pong" "$tmp/pongd" "$PONG"
run "pongd with pong.py" "$PONGD" "$tmp/pong"
if [ "${IPC_BACKEND:-epoll}" = epoll ]; then
	run "pongd-asyncio.py with pong" "$tmp/pongd-asyncio" "$PONG"
else
	echo "skip: pongd-asyncio.py needs the context fd (epoll backend)"
fi
exit $status
