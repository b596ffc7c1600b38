#!/bin/sh
# check-docs.sh - every document ships, every function has an example.
#
# - Every doc/*.md is installed by make install (dist_doc_DATA in
#   Makefile.am) and shipped by a Debian package (debian/*.install or
#   *.docs; not checked in a tarball of make dist, which has no debian/)
#   and an RPM package (rpm/libipc.spec.in).
# - Every function declared in include/libipc.h has an example on its
#   page of the HTML reference: a @code block in its comment, or a call
#   in one of the examples (examples/*.c, which doc/examples.dox makes
#   Doxygen list on the page of each function they call).
#
# Run by make check, which exports top_srcdir.
# Exit status: 0 pass, 1 fail, 99 error.
#
# SPDX-License-Identifier: ISC

set -u

top_srcdir=${top_srcdir:-.}
header=$top_srcdir/include/libipc.h

if [ ! -r "$header" ] || [ ! -r "$top_srcdir/Makefile.am" ]; then
	echo "ERROR: cannot read $header or $top_srcdir/Makefile.am"
	exit 99
fi

status=0
fail()
{
	echo "FAIL: $*"
	status=1
}

# The dist_doc_DATA assignment of Makefile.am, continuation lines joined.
doc_data=$(sed -n '/^dist_doc_DATA *=/,/[^\\]$/p' "$top_srcdir/Makefile.am")

docs=0
for md in "$top_srcdir"/doc/*.md; do
	[ -e "$md" ] || continue
	docs=$((docs + 1))
	name=${md##*/}
	case " $(echo "$doc_data" | tr -s ' \t\\\n' '    ') " in
	*" doc/$name "*) ;;
	*) fail "doc/$name: not in dist_doc_DATA (Makefile.am)" ;;
	esac
	# debian/ is in the repository, not in the tarball of make dist.
	if [ -d "$top_srcdir/debian" ] &&
	   ! cat "$top_srcdir"/debian/*.install "$top_srcdir"/debian/*.docs \
			2>/dev/null | grep -q "[/ ]$name\( \|\$\)"; then
		fail "doc/$name: in no Debian package (debian/*.install, *.docs)"
	fi
	if ! grep -v '^%exclude' "$top_srcdir/rpm/libipc.spec.in" |
			grep -q "/$name\( \|\$\)"; then
		fail "doc/$name: in no RPM package (rpm/libipc.spec.in)"
	fi
done

# Each function: the text of its comment (from "/**" to the declaration).
functions=0
for fn in $(sed -n 's/^[a-z][a-z_ ]*[ *]\(ipc_[a-z_]*\)(.*/\1/p' "$header"); do
	functions=$((functions + 1))
	if awk -v fn="$fn" '
		/^\/\*\*/ { doc = "" }
		{ doc = doc "\n" $0 }
		$0 ~ "^[a-z].*[ *]" fn "\\(" && doc ~ /@code/ { found = 1 }
		END { exit !found }' "$header"; then
		continue
	fi
	if grep -q "\\b$fn(" "$top_srcdir"/examples/*.c; then
		continue
	fi
	fail "$fn: no @code example in include/libipc.h and no call in examples/"
done

if [ "$docs" -eq 0 ] || [ "$functions" -eq 0 ]; then
	echo "ERROR: found $docs documents and $functions functions"
	exit 99
fi
[ $status -eq 0 ] &&
	echo "PASS: $docs documents shipped, $functions functions with an example"
exit $status
