#!/bin/sh
# python-test.sh TEST.py - make check's runner of every tests/*.py
# (PY_LOG_COMPILER); its output goes to the TAP driver.
#
# Two kinds of Python tests share the .py extension:
# - ipc-wsd's (tests/test-wsd*.py) are WebSocket clients of the daemon and
#   print TAP themselves; they run with the python3 configure found for
#   them (PYTHON3, Debian's, which has python3-websockets), skipped and
#   counted without one;
# - the Python module's (tests/test-python-*.py) report by exit status
#   (0 pass, 77 skipped, anything else a failure) through python-run.sh;
#   this script turns that status into one TAP result.
#
# SPDX-License-Identifier: ISC

case ${1##*/} in
test-wsd*)
	if [ -z "${PYTHON3:-}" ] || ! [ -x "$PYTHON3" ]; then
		echo "1..0 # SKIP no python3 (configure found none)"
		exit 0
	fi
	# Their shared module, tests/wsdtest.py, sits in the source tree:
	# no bytecode written there (read-only under make distcheck).
	PYTHONDONTWRITEBYTECODE=1 exec "$PYTHON3" "$@"
	;;
esac

name=${1##*/}
out=$(mktemp) || exit 99
"${SHELL:-/bin/sh}" "$(dirname "$0")/python-run.sh" "$@" >"$out" 2>&1
status=$?
echo "1..1"
sed 's/^/# /' "$out"
rm -f "$out"
case $status in
0)	echo "ok 1 $name" ;;
77)	echo "ok 1 $name # SKIP" ;;
*)	echo "not ok 1 $name (exit status $status)" ;;
esac
