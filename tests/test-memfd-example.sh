#!/bin/sh
# test-memfd-example.sh - examples/memfd hands 16 MiB over as a sealed
# memfd, in a private run directory (under memcheck with make
# check-valgrind).
#
# Run by make check, which exports MEMFD_EXAMPLE.
# Exit status: 0 pass, 1 fail, 99 error.
#
# SPDX-License-Identifier: ISC

set -u

if [ ! -x "${MEMFD_EXAMPLE:-}" ]; then
	echo "ERROR: MEMFD_EXAMPLE must name the built example"
	exit 99
fi
run=
if [ -n "${VALGRIND:-}" ]; then
	run="$VALGRIND --quiet ${MEMCHECK_FLAGS:-}"
fi
IPC_RUNDIR=$(mktemp -d "${TMPDIR:-/tmp}/memfd-example.XXXXXX") || exit 99
export IPC_RUNDIR
trap 'rm -rf "$IPC_RUNDIR"' EXIT
out=$($run "$MEMFD_EXAMPLE" 16)
rc=$?
echo "$out"
if [ "$rc" -ne 0 ] || [ "$out" != "received 16777216 bytes without copying them" ]; then
	echo "FAIL: examples/memfd exited $rc"
	exit 1
fi
exit 0
