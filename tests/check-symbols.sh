#!/bin/sh
# check-symbols.sh - what libipc exports is exactly its public API.
#
# Compares three lists, which must be the same set of functions:
#  - the functions declared in include/libipc.h,
#  - the names in the version nodes of lib/libipc.sym,
#  - the dynamic symbols defined by lib/.libs/libipc.so, each with the
#    version of the node that lists it (so all carry a LIBIPC_ version);
# and checks that the library needs libc.so.6 and nothing else.
#
# Run by make check, which exports top_srcdir, top_builddir and OBJDUMP.
# Exit status: 0 pass, 1 fail, 77 skipped (no shared library), 99 error.
#
# SPDX-License-Identifier: ISC

set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
OBJDUMP=${OBJDUMP:-objdump}

header=$top_srcdir/include/libipc.h
map=$top_srcdir/lib/libipc.sym
so=$top_builddir/lib/.libs/libipc.so

if [ ! -e "$so" ]; then
	echo "SKIP: $so not built (configured with --disable-shared?)"
	exit 77
fi
for f in "$header" "$map"; do
	if [ ! -r "$f" ]; then
		echo "ERROR: cannot read $f"
		exit 99
	fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-symbols.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

status=0

fail()
{
	echo "FAIL: $*"
	status=1
}

# Prints the file without its /* */ comments (the names in the comments
# are not declarations).
strip_comments()
{
	awk '{
		line = $0
		out = ""
		while (line != "") {
			if (in_comment) {
				i = index(line, "*/")
				if (i == 0)
					break
				line = substr(line, i + 2)
				in_comment = 0
			} else {
				i = index(line, "/*")
				if (i == 0) {
					out = out line
					break
				}
				out = out substr(line, 1, i - 1)
				line = substr(line, i + 2)
				in_comment = 1
			}
		}
		print out
	}' "$1"
}

# (a) The header: every ipc_* name followed by "(", outside comments and
# preprocessor lines.
strip_comments "$header" | grep -v '^[[:space:]]*#' |
	grep -oE '(^|[^A-Za-z0-9_])ipc_[A-Za-z0-9_]+[[:space:]]*\(' |
	sed -E 's/.*(ipc_[A-Za-z0-9_]+).*/\1/' |
	sort -u >"$tmp/header" || exit 99
if [ ! -s "$tmp/header" ]; then
	echo "ERROR: no function found in $header"
	exit 99
fi

# (b) The version script, as "<node> <name>" lines in file order.
strip_comments "$map" | sed 's/[{};]/ & /g' | awk '{
	for (i = 1; i <= NF; i++) {
		w = $i
		if (w == "{") {
			node = prev
			depth = 1
			scope = ""
		} else if (w == "}") {
			depth = 0
			scope = ""
		} else if (w == "global:" || w == "local:") {
			scope = w
		} else if (depth && scope == "global:" && w != ";") {
			print node, w
		}
		prev = w
	}
}' >"$tmp/map-ordered" || exit 99
sort -u "$tmp/map-ordered" >"$tmp/map"

if grep -q '[][*?]' "$tmp/map"; then
	fail "$map: wildcards in a global: list"
	grep '[][*?]' "$tmp/map"
fi
if grep -qv '^LIBIPC_[0-9][0-9.]* ' "$tmp/map"; then
	fail "$map: nodes must be named LIBIPC_<major>.<minor>"
	grep -v '^LIBIPC_[0-9][0-9.]* ' "$tmp/map"
fi
for node in $(cut -d' ' -f1 "$tmp/map-ordered" | uniq); do
	grep "^$node " "$tmp/map-ordered" >"$tmp/node"
	if ! LC_ALL=C sort -c "$tmp/node" 2>/dev/null; then
		fail "$map: the names of $node are not sorted"
	fi
done
cut -d' ' -f2 "$tmp/map" | sort >"$tmp/map-names"
if [ "$(sort -u "$tmp/map-names" | wc -l)" -ne "$(wc -l <"$tmp/map-names")" ]; then
	fail "$map: a name is listed in two nodes"
fi

# (c) The dynamic symbols the library defines, as "<version> <name>".
# The version definitions themselves (LIBIPC_1.0 in *ABS*) are skipped.
"$OBJDUMP" -T "$so" >"$tmp/objdump" || exit 99
grep -v '\*UND\*' "$tmp/objdump" | awk '
	/^[0-9a-f]+[[:space:]]/ {
		if (!($0 ~ /\*ABS\*/ && $NF == $(NF - 1)))
			print $(NF - 1), $NF
	}' | sort -u >"$tmp/exported" || exit 99

echo "exported by $so:"
sed 's/^/	/' "$tmp/exported"

if ! diff -u "$tmp/header" "$tmp/map-names" >"$tmp/diff"; then
	fail "functions of $header (-) and names in $map (+) differ:"
	cat "$tmp/diff"
fi
if ! diff -u "$tmp/map" "$tmp/exported" >"$tmp/diff"; then
	fail "$map (-) and the versioned symbols of $so (+) differ:"
	cat "$tmp/diff"
fi

# The library needs libc and nothing else at run time.
"$OBJDUMP" -p "$so" | awk '$1 == "NEEDED" { print $2 }' >"$tmp/needed" ||
	exit 99
if [ "$(cat "$tmp/needed")" != "libc.so.6" ]; then
	fail "$so needs more than libc.so.6:"
	cat "$tmp/needed"
fi

if [ "$status" -eq 0 ]; then
	echo "PASS: $(wc -l <"$tmp/header") functions, the same in the" \
		"header, the version script and the exports; NEEDED libc.so.6"
fi
exit "$status"
