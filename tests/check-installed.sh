#!/bin/sh
# check-installed.sh - build and run a program against an installed libipc.
#
# Compiles a small program with `pkg-config --cflags --libs libipc` only
# (no path into the source tree): a service (child process) and a client
# (parent) exchange one message in a private run directory ($IPC_RUNDIR in
# a temporary directory).  Used by .ci/run after installing the .deb
# files, and by the Debian autopkgtest (debian/tests/check-installed).
#
# When ipcctl is installed too (libipc-tools) and the examples' sources
# are (libipc-doc: $EXAMPLES, by default /usr/share/doc/libipc-doc/examples),
# a second check builds the example pongd with pkg-config, starts it and
# talks to it with ipcctl.
#
# Prints an automake-like summary ("# PASS: N", "# FAIL: N") that CI
# counts with the test suites' own.  Exit status: 0 pass, 1 fail.
#
# SPDX-License-Identifier: ISC

set -u

CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

passed=0

# summary FAILED: the counts, the checks passed so far plus FAILED.
summary()
{
	echo "# TOTAL: $((passed + $1))"
	echo "# PASS: $passed"
	echo "# FAIL: $1"
}

fail()
{
	echo "FAIL: check-installed: $*"
	summary 1
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-installed.XXXXXX") ||
	fail "mktemp"
pongd_pid=
trap 'if [ -n "$pongd_pid" ]; then kill "$pongd_pid" 2>/dev/null; fi;
	rm -rf "$tmp"' EXIT

flags=$("$PKG_CONFIG" --cflags --libs libipc) ||
	fail "pkg-config does not know libipc"
echo "pkg-config --cflags --libs libipc: $flags"

cat >"$tmp/echo.c" <<'CEOF'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libipc.h>

/* The service: answers the first message it gets, then stops. */
static int serve(int ready)
{
	char type, buf[256];
	size_t index, len;
	int fd, origin, newfd, ret;
	void *ctx;

	if (ipc_context_init(&ctx) < 0)
		return 1;
	ret = ipc_service_init(ctx, &fd, "check", 5);
	if (write(ready, ret == 0 ? "y" : "n", 1) != 1 || ret < 0)
		goto out;
	for (;;) {
		len = sizeof(buf);
		ret = ipc_wait_event(ctx, &type, &index, &origin, &newfd,
				     buf, &len);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			break;
		if (type == MESSAGE_RX) {
			ret = ipc_write(ctx, origin, buf, len);
			break;
		}
	}
out:
	ipc_context_deinit(&ctx);
	return ret < 0;
}

int main(void)
{
	char ok, buf[256];
	size_t len = sizeof(buf);
	int pipefd[2], fd, ret, status;
	void *ctx;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		_exit(serve(pipefd[1]));
	if (read(pipefd[0], &ok, 1) != 1 || ok != 'y') {
		fprintf(stderr, "the service did not start\n");
		return 1;
	}
	if (ipc_context_init(&ctx) < 0)
		return 1;
	ret = ipc_connect_service(ctx, &fd, "check", 5);
	if (ret == 0)
		ret = ipc_write(ctx, fd, "hello", 5);
	if (ret == 0)
		ret = ipc_read_fd(ctx, fd, buf, &len);
	ipc_context_deinit(&ctx);
	if (ret < 0) {
		fprintf(stderr, "client: %s\n", strerror(-ret));
		return 1;
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "the service failed\n");
		return 1;
	}
	if (len != 5 || memcmp(buf, "hello", 5) != 0) {
		fprintf(stderr, "wrong answer: %.*s\n", (int)len, buf);
		return 1;
	}
	printf("client: sent hello, got %.*s back\n", (int)len, buf);
	return 0;
}
CEOF

# shellcheck disable=SC2086 # $flags is a list of compiler options
"$CC" -Wall -Wextra -Werror -o "$tmp/echo" "$tmp/echo.c" $flags ||
	fail "cannot compile against the installed libipc"
mkdir -m 0700 "$tmp/run" || fail "mkdir"
IPC_RUNDIR=$tmp/run timeout 60 "$tmp/echo" ||
	fail "the example failed"
echo "PASS: check-installed: built with pkg-config only, one message" \
	"exchanged"
passed=1

# The installed example and ipcctl: pongd, built from its installed
# source, serves; ipcctl waits for it, lists it and sends it a message;
# SIGTERM stops pongd, which removes its files.
EXAMPLES=${EXAMPLES:-/usr/share/doc/libipc-doc/examples}
if [ -r "$EXAMPLES/pongd.c" ] && command -v ipcctl >/dev/null 2>&1
then
	# shellcheck disable=SC2086 # $flags is a list of compiler options
	"$CC" -Wall -Wextra -Werror -o "$tmp/pongd" "$EXAMPLES/pongd.c" \
		$flags || fail "cannot compile $EXAMPLES/pongd.c"
	export IPC_RUNDIR="$tmp/run"
	"$tmp/pongd" &
	pongd_pid=$!
	timeout 60 ipcctl wait --timeout 30 pong ||
		fail "ipcctl wait: pongd did not come"
	ipcctl list | grep -q '^alive .* pong$' ||
		fail "ipcctl list does not show pongd alive"
	reply=$(timeout 60 ipcctl send pong installed) ||
		fail "ipcctl send failed"
	[ "$reply" = installed ] || fail "ipcctl send: reply \"$reply\""
	kill -TERM "$pongd_pid" && wait "$pongd_pid" ||
		fail "pongd did not stop cleanly"
	pongd_pid=
	[ ! -e "$IPC_RUNDIR/pong" ] || fail "pongd left its socket"
	echo "PASS: check-installed: the installed example pongd and ipcctl," \
		"one message exchanged"
	passed=2
else
	echo "check-installed: $EXAMPLES/pongd.c (libipc-doc) or ipcctl" \
		"(libipc-tools) not installed: only the library was checked"
fi
summary 0
exit 0
