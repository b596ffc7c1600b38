/*
 * libipc tests: running out of fds.  When accept(2) fails with EMFILE the
 * service keeps serving its connections, new clients wait in the listen
 * backlog and are served once fds are free again, and the loop does not
 * spin meanwhile.
 *
 * The service runs in a forked child whose soft RLIMIT_NOFILE leaves it
 * exactly CAPACITY free fds; the clients are raw sockets of the test
 * process.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define NAME "fds"

/* Connections the service can hold once its fds are limited. */
#define CAPACITY 6
/* Clients that arrive while it holds CAPACITY. */
#define WAITING 3
/* How long the service is watched while it cannot accept. */
#define STALL_US (1000 * 1000)
/*
 * The share of that time it may spend on the CPU.  A loop that retried
 * accept(2) without pausing would use all of it; pausing 100 ms between
 * tries uses well under 1 % (more under valgrind).  Generous on purpose:
 * this tells spinning from waiting, it is not a speed measure.
 */
#define MAX_CPU_SHARE 0.25

/* child -> parent: the service is ready with its fds limited. */
static int ready_pipe[2];

/* Lowest fd number above which @count fd numbers are free: the soft limit
 * that leaves exactly @count fds to open. */
static rlim_t limit_leaving(int count)
{
	int fd;

	for (fd = 0; count > 0; fd++) {
		errno = 0;
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
			count--;
	}
	return (rlim_t)fd;
}

/* Child: an echo service whose fds run out after CAPACITY connections;
 * it stops after CAPACITY + WAITING connections have come and gone. */
static void service_child(void *arg)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	guint connected = 0, gone = 0;
	struct rlimit rl;
	void *ctx = NULL;
	int svc;

	(void)arg;
	close(ready_pipe[0]);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	svc = ipc_test_service_init(ctx, NAME);
	g_assert_no_errno(getrlimit(RLIMIT_NOFILE, &rl));
	rl.rlim_cur = limit_leaving(CAPACITY);
	g_assert_no_errno(setrlimit(RLIMIT_NOFILE, &rl));
	/* The pipe stays open: closing it would free one more fd. */
	ipc_test_notify(ready_pipe[1]);

	while (gone < CAPACITY + WAITING) {
		ipc_test_next_event(ctx, &ev);
		switch (ev.type) {
		case CONNECTION:
			g_assert_cmpint(ev.fd, ==, svc);
			connected++;
			g_assert_cmpuint(connected - gone, <=, CAPACITY);
			break;
		case MESSAGE_RX:
			g_assert_cmpint(ipc_schedule(ctx, ev.fd, ev.data, ev.len),
					==, 0);
			break;
		case MESSAGE_TX:
			break;
		case DISCONNECTION:
			gone++;
			break;
		default:
			g_test_message("unexpected %s",
				       ipc_test_event_name(ev.type));
			g_assert_not_reached();
		}
	}
	g_assert_cmpuint(connected, ==, CAPACITY + WAITING);
	ipc_context_deinit(&ctx);
}

/* Sends @text from @fd and reads its echo. */
static void round_trip(int fd, const char *text)
{
	g_autoptr(GByteArray) frame = g_byte_array_new();

	ipc_test_write_frame(fd, text, strlen(text));
	ipc_test_read_frame(fd, frame);
	g_assert_cmpmem(frame->data, frame->len, text, strlen(text));
}

/* Reads the echo of @text on @fd. */
static void expect_echo(int fd, const char *text)
{
	g_autoptr(GByteArray) frame = g_byte_array_new();

	ipc_test_read_frame(fd, frame);
	g_assert_cmpmem(frame->data, frame->len, text, strlen(text));
}

/* Nothing came back on @fd yet (the service has not accepted it). */
static void expect_nothing(int fd)
{
	char byte;

	errno = 0;
	g_assert_cmpint(recv(fd, &byte, 1, MSG_DONTWAIT), ==, -1);
	g_assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

/* User plus system CPU time of process @pid, in seconds. */
static double cpu_seconds(pid_t pid)
{
	g_autofree char *path = g_strdup_printf("/proc/%d/stat", (int)pid);
	g_autofree char *text = NULL;
	unsigned long utime = 0, stime = 0;
	const char *p;

	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	/* The fields after the command name, which may hold spaces. */
	p = strrchr(text, ')');
	g_assert_nonnull(p);
	g_assert_cmpint(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
			       "%*u %*u %lu %lu", &utime, &stime), ==, 2);
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

static void test_exhausted(Fixture *f, gconstpointer data)
{
	int clients[CAPACITY], waiting[WAITING];
	char text[64];
	double cpu0, cpu1;
	gint64 wall0, wall1;
	pid_t pid;

	(void)f;
	(void)data;
	/* valgrind enforces the fd limit itself: the kernel accepts, then
	 * valgrind closes the new fd and reports EMFILE, so a waiting client
	 * is dropped instead of left in the backlog. */
	if (ipc_test_under_valgrind()) {
		g_test_skip("valgrind closes connections accepted beyond "
			    "its own fd limit");
		return;
	}
	ipc_test_pipe(ready_pipe);
	pid = ipc_test_fork(service_child, NULL);
	close(ready_pipe[1]);
	ipc_test_wait_notify(ready_pipe[0]);
	close(ready_pipe[0]);

	/* CAPACITY clients are served: the service's fds are all in use. */
	for (int i = 0; i < CAPACITY; i++) {
		clients[i] = ipc_test_raw_connect(NAME);
		g_snprintf(text, sizeof(text), "client %d", i);
		round_trip(clients[i], text);
	}
	/* More clients: connect() succeeds (the kernel's backlog), and what
	 * they send waits there. */
	for (int i = 0; i < WAITING; i++) {
		waiting[i] = ipc_test_raw_connect(NAME);
		g_snprintf(text, sizeof(text), "waiting %d", i);
		ipc_test_write_frame(waiting[i], text, strlen(text));
	}
	/* The connected clients are still served meanwhile. */
	for (int i = 0; i < CAPACITY; i++) {
		g_snprintf(text, sizeof(text), "still client %d", i);
		round_trip(clients[i], text);
	}

	/* The service waits for fds without spinning. */
	cpu0 = cpu_seconds(pid);
	wall0 = g_get_monotonic_time();
	g_usleep(STALL_US);
	cpu1 = cpu_seconds(pid);
	wall1 = g_get_monotonic_time();
	g_test_message("service CPU time while out of fds: %.3f s in %.3f s",
		       cpu1 - cpu0, (double)(wall1 - wall0) / 1e6);
	g_assert_cmpfloat(cpu1 - cpu0, <=,
			  MAX_CPU_SHARE * (double)(wall1 - wall0) / 1e6);
	for (int i = 0; i < WAITING; i++)
		expect_nothing(waiting[i]);
	round_trip(clients[0], "after the stall");

	/* Two fds free: the first two waiting clients are served, in the
	 * order they came; the third still waits. */
	close(clients[0]);
	close(clients[1]);
	expect_echo(waiting[0], "waiting 0");
	expect_echo(waiting[1], "waiting 1");
	round_trip(waiting[0], "served");
	expect_nothing(waiting[2]);
	close(clients[2]);
	expect_echo(waiting[2], "waiting 2");

	for (int i = 3; i < CAPACITY; i++)
		close(clients[i]);
	for (int i = 0; i < WAITING; i++)
		close(waiting[i]);
	ipc_test_reap(pid);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/fds/exhausted", test_exhausted, NULL);
	return g_test_run();
}
