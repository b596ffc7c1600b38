#!/bin/sh
# check-abi.sh - the ABI of lib/.libs/libipc.so.0 is the recorded one.
#
# Compares the built library with the baseline abi/libipc.abi (abidw
# output) using abidiff, restricted to the types of include/libipc.h.
# Any difference fails, added functions included: an intended ABI change
# updates, in one commit, lib/libipc.sym, -version-info in configure.ac,
# debian/libipc0.symbols, the baseline and the ChangeLog (abi/README.md).
#
# Run by make check, which exports top_srcdir and top_builddir.
# Exit status: 0 pass, 1 fail, 77 skipped (no abidiff, no shared library,
# no debug information, or another architecture than the baseline's),
# 99 error.
#
# SPDX-License-Identifier: ISC

set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
OBJDUMP=${OBJDUMP:-objdump}
baseline=$top_srcdir/abi/libipc.abi
so=$top_builddir/lib/.libs/libipc.so.0

if ! command -v abidiff >/dev/null 2>&1; then
	echo "SKIP: abidiff not found (Debian: apt-get install abigail-tools)"
	exit 77
fi
if [ ! -e "$so" ]; then
	echo "SKIP: $so not built (configured with --disable-shared?)"
	exit 77
fi
if [ ! -r "$baseline" ]; then
	echo "ERROR: cannot read $baseline"
	exit 99
fi
if ! "$OBJDUMP" -h "$so" | grep -q '\.debug_info'; then
	echo "SKIP: $so has no debug information (build with -g)"
	exit 77
fi
# The baseline is recorded on x86_64 (type sizes differ elsewhere).
arch=$(sed -n "s/.*<abi-corpus [^>]*architecture='\([^']*\)'.*/\1/p" \
	"$baseline" | head -n 1)
here=$(abidw --no-corpus-path "$so" 2>/dev/null |
	sed -n "s/.*<abi-corpus [^>]*architecture='\([^']*\)'.*/\1/p" |
	head -n 1)
if [ -z "$here" ]; then
	echo "ERROR: abidw cannot read $so"
	exit 99
fi
if [ "$arch" != "$here" ]; then
	echo "SKIP: the baseline is for $arch, this library for $here"
	exit 77
fi

out=$(abidiff --headers-dir2 "$top_srcdir/include" "$baseline" "$so" 2>&1)
rc=$?
echo "$out"
if [ "$rc" -ne 0 ]; then
	echo "FAIL: the ABI of $so differs from $baseline (abidiff exit $rc)."
	echo "If the change is intended, update in one commit (abi/README.md):"
	echo "  lib/libipc.sym (a new node), -version-info in configure.ac,"
	echo "  debian/libipc0.symbols, the ChangeLog, and the baseline with"
	echo "  make abi-baseline (an x86_64 build with -g; it rewrites"
	echo "  \$(top_srcdir)/abi/libipc.abi)."
	exit 1
fi
echo "PASS: the ABI of $so is the one of $baseline"

# Each released baseline (abi/libipc-X.Y.Z.abi) is a promise kept: against
# it, functions may have been added (abidiff exit 4, ABIDIFF_ABI_CHANGE)
# but none removed or changed.
status=0
for released in "$top_srcdir"/abi/libipc-*.abi; do
	[ -r "$released" ] || continue
	out=$(abidiff --headers-dir2 "$top_srcdir/include" "$released" \
		"$so" 2>&1)
	rc=$?
	echo "$out"
	summary=$(printf '%s\n' "$out" | grep 'changes summary')
	if { [ "$rc" -ne 0 ] && [ "$rc" -ne 4 ]; } ||
	   printf '%s\n' "$summary" | grep -qv ' 0 Removed, 0 Changed'; then
		echo "FAIL: against $released, more than additions (abidiff exit $rc)."
		status=1
	else
		echo "PASS: against $released, additions only"
	fi
done
exit $status
