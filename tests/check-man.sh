#!/bin/sh
# check-man.sh - the man pages are clean roff and cover the whole API.
#
# - Lints every page of doc/man that is not a .so alias with
#   `mandoc -T lint -W warning` (any warning or error fails).
# - Every .so alias points to a page of doc/man that names the alias in
#   its NAME section.
# - Every function declared in include/libipc.h has a section 3 page
#   (its own file or a .so alias), and every section 3 page is a function
#   of the header.
#
# Run by make check, which exports top_srcdir.
# Exit status: 0 pass, 1 fail, 77 skipped (mandoc missing), 99 error.
#
# SPDX-License-Identifier: ISC

set -u

top_srcdir=${top_srcdir:-.}
man=$top_srcdir/doc/man
header=$top_srcdir/include/libipc.h
MANDOC=${MANDOC:-mandoc}

if ! command -v "$MANDOC" >/dev/null 2>&1; then
	echo "SKIP: $MANDOC not found (Debian: apt-get install mandoc)"
	exit 77
fi
if [ ! -r "$header" ] || [ ! -d "$man" ]; then
	echo "ERROR: cannot read $header or $man"
	exit 99
fi

status=0
fail()
{
	echo "FAIL: $*"
	status=1
}

# The NAME section of a page: the lines between ".SH NAME" and the next .SH.
name_section()
{
	sed -n '/^\.SH NAME/,/^\.SH/p' "$1"
}

pages=0
for page in "$man"/*.[1-8]; do
	[ -e "$page" ] || continue
	base=${page##*/}
	first=$(sed -n '1p' "$page")
	case $first in
	.so\ *)
		target=${first#.so }
		if [ ! -f "$man/${target##*/}" ]; then
			fail "$base: .so to a missing page: $target"
		elif ! name_section "$man/${target##*/}" |
				grep -qw "${base%.*}"; then
			fail "$base: ${target##*/} does not name ${base%.*}"
		fi
		;;
	*)
		pages=$((pages + 1))
		if ! out=$("$MANDOC" -T lint -W warning "$page" 2>&1) ||
				[ -n "$out" ]; then
			fail "$base: mandoc -T lint:"
			echo "$out"
		fi
		for s in NAME SYNOPSIS DESCRIPTION 'SEE ALSO'; do
			grep -q "^\.SH \"*$s" "$page" ||
				fail "$base: no $s section"
		done
		case $base in
		*.3)
			for s in 'RETURN VALUE' EXAMPLES; do
				grep -q "^\.SH \"*$s" "$page" ||
					fail "$base: no $s section"
			done
			grep -q 'pkg-config \\-\\-cflags \\-\\-libs libipc' \
				"$page" ||
				fail "$base: no pkg-config line in SYNOPSIS"
			;;
		esac
		;;
	esac
done

# The header's functions: the ipc_* names that a declaration at the start
# of a line (kernel style: the type on the same line) declares.  Comment
# lines start with " *", so they are not read.
functions=$(grep -E '^[A-Za-z_].*[^A-Za-z0-9_]\**ipc_[A-Za-z0-9_]+[[:space:]]*\(' \
	"$header" | sed -E 's/^[^(]*[^A-Za-z0-9_](ipc_[A-Za-z0-9_]+)[[:space:]]*\(.*/\1/' |
	sort -u)
if [ -z "$functions" ]; then
	echo "ERROR: no function found in $header"
	exit 99
fi
n=0
for f in $functions; do
	n=$((n + 1))
	[ -f "$man/$f.3" ] || fail "$f: no doc/man/$f.3 (page or .so alias)"
done
for page in "$man"/*.3; do
	[ -e "$page" ] || continue
	base=${page##*/}
	echo "$functions" | grep -qx "${base%.3}" ||
		fail "$base: not a function of $header"
done

if [ "$status" -eq 0 ]; then
	echo "PASS: $pages pages lint clean; the $n functions of the header" \
		"all have a section 3 page"
fi
exit "$status"
