#!/bin/sh
# test-examples.sh - the pongd echo service and its pong client, end to end.
#
# Starts pongd in a private run directory, runs pong against it in a few
# ways, stops pongd with SIGTERM and checks that it exited 0 and removed
# its socket and lock files.  Under make check-valgrind ($VALGRIND set)
# both programs run under memcheck too.
#
# Run by make check, which exports PONGD and PONG (the programs' paths).
# Exit status: 0 pass, 1 fail, 99 error.
#
# SPDX-License-Identifier: ISC

set -u

if [ ! -x "${PONGD:-}" ] || [ ! -x "${PONG:-}" ]; then
	echo "ERROR: PONGD and PONG must name the built examples"
	exit 99
fi

# Every wait is bounded: seconds for pongd to start and to stop, and for
# one pong run.  valgrind makes start-up much slower.
start_limit=10
run_limit=60
run=
if [ -n "${VALGRIND:-}" ]; then
	start_limit=60
	run="$VALGRIND --quiet ${MEMCHECK_FLAGS:-}"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-examples.XXXXXX") || exit 99
IPC_RUNDIR=$tmp/run
export IPC_RUNDIR
pongd_pid=

cleanup()
{
	# timeout passes SIGTERM on to pongd, and SIGKILL after its -k.
	if [ -n "$pongd_pid" ]; then
		kill -TERM "$pongd_pid" 2>/dev/null
		wait "$pongd_pid" 2>/dev/null
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

# Runs pong with its arguments; its stdout goes to $tmp/out.
pong()
{
	echo "+ pong $*"
	# shellcheck disable=SC2086 # $run is a command line
	timeout -k 5 "$run_limit" $run "$PONG" "$@" >"$tmp/out"
}

# Waits until pongd's socket exists (pongd is still running).
wait_for_socket()
{
	tries=$((start_limit * 10))
	while [ ! -S "$IPC_RUNDIR/pong" ]; do
		if ! kill -0 "$pongd_pid" 2>/dev/null; then
			echo "FAIL: pongd exited before creating its socket"
			return 1
		fi
		tries=$((tries - 1))
		if [ "$tries" -le 0 ]; then
			echo "FAIL: no socket after $start_limit s"
			return 1
		fi
		sleep 0.1
	done
}

# pongd runs under timeout so that even a pongd ignoring SIGTERM ends:
# timeout passes our SIGTERM on to it and exits with its status.  With
# --foreground it signals pongd alone, not its own process group as well:
# a second SIGTERM would kill a pongd that is still closing.
echo "+ pongd (IPC_RUNDIR=$IPC_RUNDIR)"
# shellcheck disable=SC2086
# A sanitizer's exit-time leak check can take seconds on a loaded machine:
# give pongd 30 s between SIGTERM and SIGKILL.
timeout --foreground -k 30 $((start_limit + 4 * run_limit)) $run "$PONGD" &
pongd_pid=$!
wait_for_socket || exit 1

# One default message.
if ! pong || [ "$(cat "$tmp/out")" != hello ]; then
	fail "pong did not print hello"
fi

# Several messages, one of them empty (a zero-length message).
printf 'one\ntwo words\n\nlast\n' >"$tmp/expected"
if ! pong one "two words" "" last || ! cmp -s "$tmp/expected" "$tmp/out"; then
	fail "pong did not print its four messages back:"
	cat "$tmp/out"
fi

# Many messages queued at once come back whole and in order.
if ! pong -n 1000 || [ "$(cat "$tmp/out")" != "1000 replies, in order" ]; then
	fail "pong -n 1000 did not get its replies in order"
fi

# A message larger than pongd's first buffer (4 KiB) makes it grow the
# buffer and take the message again; the one after it must follow whole.
big=$(seq 1 30000 | tr -d '\n' | head -c 100000)
printf '%s\nafter\n' "$big" >"$tmp/expected"
if ! pong "$big" after || ! cmp -s "$tmp/expected" "$tmp/out"; then
	fail "pong did not get a 100000-byte message and the next one back"
fi

# No such service: pong fails and says why.
if pong -s no-such-service 2>"$tmp/err"; then
	fail "pong succeeded without a service"
fi
cat "$tmp/err"

# A second instance of the service is refused; the first one goes on.
echo "+ pongd (second instance)"
# shellcheck disable=SC2086
if timeout -k 5 "$run_limit" $run "$PONGD" 2>"$tmp/err"; then
	fail "a second pongd started"
fi
cat "$tmp/err"
if ! pong still-there || [ "$(cat "$tmp/out")" != still-there ]; then
	fail "pongd stopped answering after a second instance was refused"
fi

# SIGTERM: pongd exits 0 and leaves nothing behind.
echo "+ kill -TERM pongd"
stop_start=$(date +%s)
kill -TERM "$pongd_pid"
wait "$pongd_pid"
pongd_status=$?
pongd_pid=
echo "pongd stopped in $(($(date +%s) - stop_start)) s"
if [ "$pongd_status" -ne 0 ]; then
	fail "pongd exited with status $pongd_status after SIGTERM"
fi
for f in "$IPC_RUNDIR/pong" "$IPC_RUNDIR/pong.lock"; do
	if [ -e "$f" ] || [ -L "$f" ]; then
		fail "pongd left $f behind"
	fi
done

[ "$status" -eq 0 ] && echo "PASS"
exit "$status"
