#!/bin/sh
# test-passfd-valgrind.sh - tests/test-passfd under valgrind --track-fds=yes.
#
# valgrind 3.19 (Debian 12) reports the fds open at exit but does not
# count them as errors: this script fails when any process of the test
# (the program and the children it forks) ends with an fd it opened
# itself, i.e. one that valgrind does not list as <inherited from parent>;
# and on any memcheck error or definite leak.
#
# Exit status: 0 pass, 1 fail, 77 skipped (no valgrind; a sanitizer
# build, which valgrind cannot run; a program run by an emulator; a
# clang build, whose debug information valgrind 3.19 cannot read).
#
# SPDX-License-Identifier: ISC

set -u

top_builddir=${top_builddir:-.}
prog=$top_builddir/tests/test-passfd

if ! command -v valgrind >/dev/null 2>&1; then
	echo "SKIP: valgrind not found"
	exit 77
fi
if [ -n "${IPC_TEST_EMULATED:-}" ]; then
	echo "SKIP: programs run under an emulator"
	exit 77
fi
if LC_ALL=C grep -qa -e __asan_init -e __tsan_init "$prog"; then
	echo "SKIP: a sanitizer build"
	exit 77
fi

# valgrind 3.19 cannot read the DWARF 5 that clang writes, and fails at
# once: a program it cannot even list the tests of is skipped.
if ! valgrind -q --error-exitcode=1 "$prog" -l >/dev/null 2>&1; then
	echo "SKIP: valgrind cannot run $prog (its debug information?)"
	exit 77
fi

logs=$(mktemp -d "${TMPDIR:-/tmp}/passfd-valgrind.XXXXXX") || exit 99
trap 'rm -rf "$logs"' EXIT

valgrind --track-fds=yes --trace-children=yes --error-exitcode=1 \
	--leak-check=full --errors-for-leak-kinds=definite,indirect \
	--log-file="$logs/vg.%p" "$prog"
rc=$?

# An "Open ..." entry whose next line is not "<inherited from parent>"
# is an fd the process opened and never closed.
leaks=$(awk '
	/==[0-9]+== Open / { open = $0; next }
	open != "" {
		if ($0 !~ /<inherited from parent>/)
			print FILENAME ": " open
		open = ""
	}' "$logs"/vg.*)
for f in "$logs"/vg.*; do
	grep -q 'FILE DESCRIPTORS' "$f" || continue
	grep -A3 'FILE DESCRIPTORS\|Open ' "$f"
done | head -n 200
if [ -n "$leaks" ]; then
	echo "FAIL: fds left open at exit:"
	echo "$leaks"
	exit 1
fi
if [ "$rc" -ne 0 ]; then
	echo "FAIL: test-passfd under valgrind exited with $rc"
	cat "$logs"/vg.*
	exit 1
fi
echo "PASS: no fd left open, no memcheck error"
exit 0
