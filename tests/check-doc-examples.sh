#!/bin/sh
# check-doc-examples.sh - every C example of the documentation compiles,
# and the whole programs run.
#
# Reads the ```c blocks of README.md and doc/*.md and the .EX/.EE blocks of
# the section 3 and 7 man pages (sections 1 and 8 show shell commands).
# The line right before a block may say what it is, in Markdown
#	<!-- example: WORDS -->
# and in roff
#	.\" example: WORDS
# where WORDS are:
#   program   (or no marker) a whole program: compiled, linked and run
#             in a private run directory, it must exit 0;
#   service   a whole program serving "echo": run in a private run
#             directory, it must echo a message larger than 4 KiB and
#             then a small one (tests/bin/pong), and serve every client;
#   client    a whole program that talks to the "echo" service: run
#             against each service, it must print "hello" and exit 0;
#   body      the statements of main(): compiled as main's body (with
#             the usual headers), then treated as the other words say;
#   top       file-scope code that includes what it needs (functions,
#             definitions): compiled with an empty main();
#   fragment  statements of an event loop: compiled in a function whose
#             parameters are the loop's variables (ctx, type, index, fd,
#             newfd, buf, len, size, ret, answer, answer_len, allowed_uid);
#   case      a fragment that is a case of a switch on type;
#   text      not C (a unit file, an environment line): skipped;
#   epoll     with another word: run only with the epoll backend (it
#             needs ipc_context_fd()), compiled with both.
# Everything is compiled with the build's compiler, CFLAGS and warnings
# against the just-built lib/libipc.la (through libtool, -no-install, so
# that valgrind follows the programs); the unused-name and shadow warnings
# are off for the snippets only.  Under make check-valgrind ($VALGRIND
# set) the programs run under memcheck.
#
# Run by make check, which exports top_srcdir, top_builddir, CC, CFLAGS,
# LDFLAGS, WARN_CFLAGS, LIBTOOL and PONG.  Writes only to $TMPDIR.
# Exit status: 0 pass, 1 fail, 99 error.
#
# SPDX-License-Identifier: ISC

set -u

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
CC=${CC:-cc}
CFLAGS=${CFLAGS:-}
LDFLAGS=${LDFLAGS:-}
WARN_CFLAGS=${WARN_CFLAGS:-}
LIBTOOL=${LIBTOOL:-"sh $top_builddir/libtool"}

if [ ! -f "$top_builddir/lib/libipc.la" ] || [ ! -x "${PONG:-}" ]; then
	echo "ERROR: lib/libipc.la and PONG (tests/bin/pong) must be built"
	exit 99
fi

# Bounds on every wait, in seconds; valgrind is much slower.
start_limit=10
run_limit=60
run=
if [ -n "${VALGRIND:-}" ]; then
	start_limit=60
	run="$VALGRIND --quiet ${MEMCHECK_FLAGS:-}"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-doc-examples.XXXXXX") || exit 99
service_pid=

cleanup()
{
	if [ -n "$service_pid" ]; then
		kill -KILL "$service_pid" 2>/dev/null
		wait "$service_pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 99' HUP INT TERM

status=0

fail()
{
	echo "FAIL: $*"
	status=1
}

# ------------------------------------------------------------------
# Extraction: $tmp/ex-N.src (the block) and one line per block in
# $tmp/list: "N<TAB>file:line<TAB>words".
# ------------------------------------------------------------------
extract()
{
	awk -v dir="$tmp" -v list="$tmp/list" '
	function unroff(s) {
		gsub(/\\e/, "\001", s)
		gsub(/\\-/, "-", s)
		gsub(/\\\(aq/, "\047", s)
		gsub(/\\\(dq|\\\(lq|\\\(rq/, "\"", s)
		gsub(/\\&/, "", s)
		gsub(/\001/, "\\\\", s)
		return s
	}
	function start() {
		id = NR "-" FNR
		out = dir "/ex-" id ".src"
		printf "%s\t%s:%d\t%s\n", id, label, FNR + 1,
			words == "" ? "program" : words >> list
		inside = 1
	}
	FNR == 1 {
		inside = 0
		words = ""
		label = FILENAME
		sub(/^.*\/README\.md$/, "README.md", label)
		sub(/^.*\/doc\//, "doc/", label)
		roff = FILENAME !~ /\.md$/
	}
	inside && ((roff && /^\.EE/) || (!roff && /^```/)) {
		inside = 0
		close(out)
		next
	}
	inside {
		print (roff ? unroff($0) : $0) > out
		next
	}
	(roff && /^\.EX/) || (!roff && /^```c[ \t]*$/) {
		start()
		next
	}
	{
		# A marker says what the block right after it is.
		words = ""
		if (roff && match($0, /^\.\\" example:/))
			words = substr($0, RLENGTH + 1)
		else if (!roff && match($0, /^<!-- example:.*-->/)) {
			words = substr($0, 14)
			sub(/-->.*/, "", words)
		}
		gsub(/^[ \t]+|[ \t]+$/, "", words)
	}
	END {
		if (inside)
			print "unterminated block in " label > "/dev/stderr"
	}' "$@"
}

# ------------------------------------------------------------------
# Wrapping and compiling
# ------------------------------------------------------------------
headers='#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <libipc.h>'

empty_main='int main(void) { return 0; }'
loop_variables='void *ctx, char type, size_t index, int fd, int newfd,
	char *buf, size_t len, size_t size, int ret, const char *answer,
	size_t answer_len, uid_t allowed_uid'

snippet_flags="-Wno-unused-parameter -Wno-unused-function \
-Wno-unused-variable -Wno-unused-but-set-variable -Wno-shadow"

# wrap ID WORDS: writes $tmp/ex-ID.c; prints the extra compiler flags.
wrap()
{
	src=$tmp/ex-$1.src
	c=$tmp/ex-$1.c

	case " $2 " in
	*" body "*)
		{
			echo "$headers"
			echo "int main(void)"
			echo "{"
			cat "$src"
			echo "return 0;"
			echo "}"
		} >"$c"
		;;
	*" top "*)
		{
			cat "$src"
			echo "$empty_main"
		} >"$c"
		echo "$snippet_flags"
		;;
	*" fragment "* | *" case "*)
		{
			echo "$headers"
			echo "static void example($loop_variables)"
			echo "{"
			case " $2 " in
			*" case "*) echo "switch (type) {" ;;
			*) echo "{" ;;
			esac
			cat "$src"
			echo "}"
			echo "}"
			echo "$empty_main"
		} >"$c"
		echo "$snippet_flags"
		;;
	*)
		cp "$src" "$c"
		;;
	esac
}

# compile ID WORDS: $tmp/ex-ID from $tmp/ex-ID.c, or fails.
compile()
{
	extra=$(wrap "$1" "$2")
	# shellcheck disable=SC2086 # word lists
	$LIBTOOL --quiet --tag=CC --mode=link $CC \
		-I"$top_srcdir/include" $WARN_CFLAGS $CFLAGS $extra \
		-no-install $LDFLAGS -o "$tmp/ex-$1" "$tmp/ex-$1.c" \
		"$top_builddir/lib/libipc.la" >"$tmp/cc.out" 2>&1
	rc=$?
	if [ $rc -ne 0 ] || [ -s "$tmp/cc.out" ]; then
		cat "$tmp/cc.out"
		echo "--- the file compiled:"
		cat -n "$tmp/ex-$1.c"
		return 1
	fi
	return 0
}

# ------------------------------------------------------------------
# Running
# ------------------------------------------------------------------
# run_program LABEL PROGRAM OUT: runs it in the current IPC_RUNDIR.
run_program()
{
	# shellcheck disable=SC2086 # $run is a command line
	timeout -k 5 "$run_limit" $run "$2" >"$3" 2>"$tmp/err"
	rc=$?
	if [ $rc -ne 0 ]; then
		fail "$1: exit status $rc"
		cat "$tmp/err"
	fi
	return $rc
}

# wait_for_service PID: until $IPC_RUNDIR/echo is a socket.
wait_for_service()
{
	tries=$((start_limit * 10))
	while [ ! -S "$IPC_RUNDIR/echo" ]; do
		if ! kill -0 "$1" 2>/dev/null; then
			echo "the service exited before creating its socket"
			return 1
		fi
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			echo "no socket after $start_limit s"
			return 1
		fi
		sleep 0.1
	done
}

# A message larger than the examples' 4 KiB buffer: 64 KiB of text.
big=$(awk 'BEGIN { s = "0123456789abcdef"; while (length(s) < 65536)
	s = s s; print s }')

# check_service LABEL PROGRAM: the echo checks, then every client.
check_service()
{
	IPC_RUNDIR=$(mktemp -d "$tmp/run.XXXXXX") || exit 99
	export IPC_RUNDIR
	# shellcheck disable=SC2086 # $run is a command line
	$run "$2" 2>"$tmp/service.err" &
	service_pid=$!
	if ! wait_for_service "$service_pid" >"$tmp/wait.out"; then
		fail "$1: $(cat "$tmp/wait.out")"
		cat "$tmp/service.err"
		return
	fi
	printf '%s\nsmall\n' "$big" >"$tmp/expected"
	if ! timeout -k 5 "$run_limit" "$PONG" -s echo "$big" small \
			>"$tmp/out" 2>"$tmp/err"; then
		fail "$1: pong with a 64 KiB and a small message failed"
		cat "$tmp/err" "$tmp/service.err"
	elif ! cmp -s "$tmp/out" "$tmp/expected"; then
		fail "$1: the 64 KiB and the small message did not come back"
	else
		echo "ok: $1 echoed 64 KiB, then a small message"
	fi
	for client in $clients; do
		id=${client%%:*}
		label=${client#*:}
		if run_program "$label against $1" "$tmp/ex-$id" \
				"$tmp/out"; then
			if [ "$(cat "$tmp/out")" != hello ]; then
				fail "$label against $1: printed" \
					"\"$(cat "$tmp/out")\", not hello"
			else
				echo "ok: $label against $1"
			fi
		fi
	done
	if ! kill -0 "$service_pid" 2>/dev/null; then
		fail "$1: the service is gone after its clients"
		cat "$tmp/service.err"
	fi
	kill -TERM "$service_pid" 2>/dev/null
	wait "$service_pid" 2>/dev/null
	service_pid=
}

# ------------------------------------------------------------------
# Main
# ------------------------------------------------------------------
set -- "$top_srcdir/README.md"
for f in "$top_srcdir"/doc/*.md "$top_srcdir"/doc/man/*.3 \
		"$top_srcdir"/doc/man/*.7; do
	[ -f "$f" ] && set -- "$@" "$f"
done
: >"$tmp/list"
extract "$@" || exit 99

[ -n "$run" ] && echo "the programs run under: $run"
blocks=0
services=
clients=
programs=
tab=$(printf '\t')
while IFS=$tab read -r id label words; do
	blocks=$((blocks + 1))
	case " $words " in
	*" text "*)
		echo "skip: $label ($words)"
		continue
		;;
	esac
	if ! compile "$id" "$words"; then
		fail "$label ($words) does not compile"
		continue
	fi
	echo "ok: $label ($words) compiles"
	case " $words " in
	*" epoll "*)
		if [ "${IPC_BACKEND:-epoll}" != epoll ]; then
			echo "skip running: $label needs the context fd," \
				"which the $IPC_BACKEND backend lacks"
			continue
		fi
		;;
	esac
	case " $words " in
	*" top "* | *" fragment "* | *" case "*) ;;
	*" service "*) services="$services $id:$label" ;;
	*" client "*) clients="$clients $id:$label" ;;
	*) programs="$programs $id:$label" ;;
	esac
done <"$tmp/list"

if [ "$blocks" -eq 0 ]; then
	echo "ERROR: no example found under $top_srcdir"
	exit 99
fi
if [ -z "$services" ] || [ -z "$clients" ]; then
	fail "no echo service or no client among the examples"
fi

for program in $programs; do
	IPC_RUNDIR=$(mktemp -d "$tmp/run.XXXXXX") || exit 99
	export IPC_RUNDIR
	if run_program "${program#*:}" "$tmp/ex-${program%%:*}" \
			"$tmp/out"; then
		echo "ok: ${program#*:} ran"
	fi
done
for service in $services; do
	check_service "${service#*:}" "$tmp/ex-${service%%:*}"
done

echo "$blocks examples"
exit $status
