#!/bin/sh
# check-installed.sh - build and run a program against an installed libipc.
#
# Compiles a small program with `pkg-config --cflags --libs libipc` only
# (no path into the source tree): a service (child process) and a client
# (parent) exchange one message in a private run directory ($IPC_RUNDIR in
# a temporary directory).  Used by .ci/run after installing the .deb
# files, and by the Debian autopkgtest (debian/tests/check-installed).
#
# Prints an automake-like summary ("# PASS: 1" or "# FAIL: 1") that CI
# counts with the test suites' own.  Exit status: 0 pass, 1 fail.
#
# SPDX-License-Identifier: ISC

set -u

CC=${CC:-cc}
PKG_CONFIG=${PKG_CONFIG:-pkg-config}

summary()
{
	echo "# TOTAL: 1"
	if [ "$1" = PASS ]; then
		echo "# PASS: 1"
		echo "# FAIL: 0"
	else
		echo "# PASS: 0"
		echo "# FAIL: 1"
	fi
}

fail()
{
	echo "FAIL: check-installed: $*"
	summary FAIL
	exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-installed.XXXXXX") ||
	fail "mktemp"
trap 'rm -rf "$tmp"' EXIT

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
summary PASS
exit 0
