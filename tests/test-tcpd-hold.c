/*
 * libipc tests: ipc-tcpd holds against a hostile network (issue 15).
 * Every attack runs on loopback, bounded in time, against real daemons:
 * ipc-tcpd (tests/bin/ipc-tcpd) relaying to pongd, the echo service.
 *
 * - flood-then-close: a remote peer relayed to the echo service sends
 *   frames for a while without reading the echoes, then closes; three
 *   rounds.  Both daemons' fds and RSS must come back near their
 *   baselines within RECOVERY_S seconds.
 * - idle-flood: hundreds of idle TCP peers, ipc-tcpd under a lowered
 *   RLIMIT_NOFILE: real requests and local clients are served
 *   throughout, each within SERVED_MS.
 * - full-backlog: a service that never accepts, its backlog full: other
 *   relays keep flowing, the requests for it get ETIMEDOUT at their time
 *   limit, and one gets through once the backlog has room.
 * - slow-resolver: a host name whose lookup takes longer than the time
 *   limit stalls nothing; the requester gets ETIMEDOUT at its time limit;
 *   a name that resolves at once still works; an IPv6 address with an
 *   unknown zone is refused at once, never looked up as a name.
 *
 * "Served within SERVED_MS" is no speed threshold: it tells "served" from
 * "stalled for a handshake window or a lookup" (seconds), with room for
 * a loaded machine.  Each daemon's fds and RSS are shown before and
 * after each attack (g_test_message): the figures of the note.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include "net-test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define LOOPBACK "127.0.0.1"
#define ECHO "pong"
/* Time a request or a message may take through a daemon that is not
 * stalled (a stall lasts seconds); longer under valgrind. */
#define SERVED_MS 1000
#define SERVED_MS_VALGRIND 4000

/* flood-then-close */
#define ROUNDS 3
#define FLOOD_MS 1500
#define FLOOD_FRAME (16 * 1024)
/* The bound the library documents for a relay whose side is gone. */
#define RECOVERY_S 10
#define RECOVERY_POLL_MS 100
/* "Near the baseline": a few fds of a relay not yet reaped, no more. */
#define FDS_SLACK 0
#define RSS_SLACK (4 * 1024 * 1024)

/* idle-flood */
#define FLOOD_FD_LIMIT 256
#define IDLE_PEERS 300
#define IDLE_MORE 40
#define REAL_REQUESTS 8
#define IDLE_SOURCES 30

/* full-backlog, slow-resolver: the handshake time limit (ms) */
#define LIMIT_MS 1000
#define LIMIT "1000"
/* A lookup longer than the time limit, shorter than the test's alarm. */
#define SLOW_NAME_MS 8000

static int served_ms(void)
{
	return ipc_test_under_valgrind() ? SERVED_MS_VALGRIND : SERVED_MS;
}

static gint64 now_ms(void)
{
	return g_get_monotonic_time() / 1000;
}

/* ------------------------------------------------------------------ */
/* Measures of a daemon                                                 */
/* ------------------------------------------------------------------ */

struct figures {
	int fds;
	gsize rss;
};

static void measure(const char *who, GPid pid, const char *when,
		    struct figures *fig)
{
	fig->fds = ipc_test_count_fds_of(pid);
	ipc_test_memory(pid, NULL, &fig->rss);
	g_test_message("%s %s: %d fds, RSS %.1f MiB", who, when, fig->fds,
		       fig->rss / 1048576.0);
}

/* ------------------------------------------------------------------ */
/* Raw peers with bounded waits                                         */
/* ------------------------------------------------------------------ */

/* Reads one frame from @fd, which must arrive within @ms. */
static void expect_within(int fd, const char *text, int ms)
{
	g_test_message("waiting %d ms for \"%s\"", ms, text);
	g_assert_true(ipc_test_poll(fd, POLLIN, ms));
	net_expect_text(fd, text);
}

/* A raw TCP request for @service to ipc-tcpd @d, from 127.0.0.1. */
static int tcp_request(const struct net_daemon *d, const char *service)
{
	g_autofree char *req = g_strconcat("connect ", service, NULL);
	int fd = net_tcp_connect(d->addr, d->port);

	net_send_text(fd, req);
	return fd;
}

/* A message to the echo service through @fd comes back within @ms. */
static void assert_echo(int fd, int ms)
{
	gint64 start = now_ms();

	net_send_text(fd, "echo?");
	expect_within(fd, "echo?", ms);
	g_assert_cmpint(now_ms() - start, <=, ms);
}

/* A new relay to the echo service, served within @ms: its fd. */
static int relayed_within(const struct net_daemon *d, int ms)
{
	gint64 start = now_ms();
	int fd = tcp_request(d, ECHO);

	expect_within(fd, "ok", ms);
	assert_echo(fd, ms);
	g_assert_cmpint(now_ms() - start, <=, ms);
	return fd;
}

/*
 * A local client of ipc-tcpd's libipc service (as ipcd is), asking for
 * @uri: the raw Unix connection once "ok" came within @ms.
 */
static int routed_within(const char *uri, int ms)
{
	gint64 start = now_ms();
	int fd = ipc_test_raw_connect("tcp");

	net_send_text(fd, uri);
	expect_within(fd, "ok", ms);
	assert_echo(fd, ms);
	g_assert_cmpint(now_ms() - start, <=, ms);
	return fd;
}

/* The echo service and ipc-tcpd with it allowed, and @more options. */
static void daemons_start(Fixture *f, struct net_daemon *echo,
			  struct net_daemon *tcpd, const char *const *more)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	static const char *const echo_args[] = { ECHO, NULL };

	net_daemon_start(echo, "PONGD", f->rundir, ECHO, echo_args);
	g_ptr_array_add(args, (gpointer)"--allow");
	g_ptr_array_add(args, (gpointer)ECHO);
	for (; more && *more; more++)
		g_ptr_array_add(args, (gpointer)*more);
	g_ptr_array_add(args, NULL);
	net_tcpd_start(tcpd, f->rundir, LOOPBACK, "tcp",
		       (const char *const *)args->pdata);
}

/* ------------------------------------------------------------------ */
/* flood-then-close                                                     */
/* ------------------------------------------------------------------ */

/*
 * Sends whole frames to @fd (non-blocking) for FLOOD_MS without reading
 * what comes back; returns the bytes sent.
 */
static gsize flood(int fd)
{
	g_autofree char *frame = g_malloc(4 + FLOOD_FRAME);
	gint64 end = now_ms() + FLOOD_MS;
	gsize off = 0, sent = 0;

	frame[0] = 0;
	frame[1] = (char)(FLOOD_FRAME >> 16);
	frame[2] = (char)(FLOOD_FRAME >> 8);
	frame[3] = (char)FLOOD_FRAME;
	ipc_test_fill(frame + 4, FLOOD_FRAME, 7);
	ipc_test_set_nonblocking(fd);
	for (;;) {
		gint64 left = end - now_ms();
		ssize_t n;

		/*
		 * Only whole frames: stop at a frame's end, or with a frame
		 * cut when the relay takes no more bytes for FLOOD_MS.
		 */
		if (left <= 0 && (off == 0 || left < -FLOOD_MS))
			break;
		if (left <= 0)
			left = FLOOD_MS + left + 1;
		if (!ipc_test_poll(fd, POLLOUT, (int)left))
			continue;
		n = send(fd, frame + off, 4 + FLOOD_FRAME - off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		g_assert_cmpint(n, >, 0);
		sent += (gsize)n;
		off = (off + (gsize)n) % (4 + FLOOD_FRAME);
	}
	return sent;
}

static gboolean recovered(const struct figures *now,
			  const struct figures *base, gboolean check_rss)
{
	return now->fds <= base->fds + FDS_SLACK &&
	       (!check_rss || now->rss <= base->rss + RSS_SLACK);
}

static void test_flood_then_close(Fixture *f, gconstpointer data)
{
	struct figures tbase, ebase, tnow, enow;
	struct net_daemon echo, tcpd;
	/* RSS means nothing under valgrind or a sanitizer. */
	gboolean check_rss = !ipc_test_memory_instrumented();
	gint64 deadline;
	int fd;

	(void)data;
	daemons_start(f, &echo, &tcpd, NULL);
	/* One relay first: what a relay allocates once is in the baseline. */
	fd = relayed_within(&tcpd, served_ms());
	close(fd);
	g_usleep(RECOVERY_POLL_MS * 1000);
	measure("ipc-tcpd", tcpd.pid, "before", &tbase);
	measure("pongd", echo.pid, "before", &ebase);

	for (int round = 0; round < ROUNDS; round++) {
		gsize sent;

		fd = tcp_request(&tcpd, ECHO);
		expect_within(fd, "ok", served_ms());
		sent = flood(fd);
		close(fd);
		g_test_message("round %d: %zu bytes sent, none read", round,
			       sent);
		measure("ipc-tcpd", tcpd.pid, "after the round", &tnow);
		measure("pongd", echo.pid, "after the round", &enow);
	}

	/* Within the documented bound, both are back near the baseline. */
	deadline = now_ms() + RECOVERY_S * 1000;
	for (;;) {
		tnow.fds = ipc_test_count_fds_of(tcpd.pid);
		ipc_test_memory(tcpd.pid, NULL, &tnow.rss);
		enow.fds = ipc_test_count_fds_of(echo.pid);
		ipc_test_memory(echo.pid, NULL, &enow.rss);
		if ((recovered(&tnow, &tbase, check_rss) &&
		     recovered(&enow, &ebase, check_rss)) ||
		    now_ms() > deadline)
			break;
		g_usleep(RECOVERY_POLL_MS * 1000);
	}
	measure("ipc-tcpd", tcpd.pid, "at the end", &tnow);
	measure("pongd", echo.pid, "at the end", &enow);
	g_assert_cmpint(tnow.fds, <=, tbase.fds + FDS_SLACK);
	g_assert_cmpint(enow.fds, <=, ebase.fds + FDS_SLACK);
	if (check_rss) {
		g_assert_cmpuint(tnow.rss, <=, tbase.rss + RSS_SLACK);
		g_assert_cmpuint(enow.rss, <=, ebase.rss + RSS_SLACK);
	}
	/* And both still serve. */
	fd = relayed_within(&tcpd, served_ms());
	close(fd);
	net_daemon_stop(&tcpd);
	net_daemon_stop(&echo);
}

/* ------------------------------------------------------------------ */
/* idle-flood                                                           */
/* ------------------------------------------------------------------ */

/*
 * Opens @n idle TCP connections to @d (non-blocking connects, never a
 * byte sent), from 127.0.0.2 to 127.0.0.(1 + @sources) in turn where
 * loopback takes them, else from 127.0.0.1.
 */
static void idle_open(const struct net_daemon *d, GArray *fds, int n,
		      guint sources)
{
	gboolean aliases = net_loopback_aliases();
	struct sockaddr_in to = { .sin_family = AF_INET };

	to.sin_port = htons(d->port);
	g_assert_cmpint(inet_pton(AF_INET, d->addr, &to.sin_addr), ==, 1);
	for (int i = 0; i < n; i++) {
		int fd = socket(AF_INET,
				SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

		g_assert_no_errno(fd);
		if (aliases) {
			struct sockaddr_in from = { .sin_family = AF_INET };

			from.sin_addr.s_addr = htonl(0x7f000002 +
						     fds->len % sources);
			g_assert_no_errno(bind(fd, (struct sockaddr *)&from,
					       sizeof(from)));
		}
		if (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0)
			g_assert_cmpint(errno, ==, EINPROGRESS);
		g_array_append_val(fds, fd);
	}
}

static void test_idle_flood(Fixture *f, gconstpointer data)
{
	g_autoptr(GArray) idle = g_array_new(FALSE, FALSE, sizeof(int));
	g_autofree char *uri = NULL;
	struct net_daemon echo, tcpd;
	struct figures before, after;
	struct rlimit rl;

	(void)data;
	g_assert_cmpuint(ipc_test_raise_fd_limit(2048), >=,
			 IDLE_PEERS + IDLE_MORE * REAL_REQUESTS + 64);
	daemons_start(f, &echo, &tcpd, NULL);
	uri = g_strdup_printf("tcp://%s:%u/%s", tcpd.addr, tcpd.port, ECHO);
	/*
	 * The limit set from outside, as prlimit(1) would; not under
	 * valgrind, which answers getrlimit(2) with the limit it started
	 * with (its own fds sit at the top of it): the flood then meets the
	 * handshake limits only.
	 */
	if (ipc_test_under_valgrind()) {
		g_test_message("under valgrind: RLIMIT_NOFILE left as it is");
	} else {
		g_assert_no_errno(prlimit(tcpd.pid, RLIMIT_NOFILE, NULL, &rl));
		rl.rlim_cur = FLOOD_FD_LIMIT;
		g_assert_no_errno(prlimit(tcpd.pid, RLIMIT_NOFILE, &rl, NULL));
	}
	measure("ipc-tcpd", tcpd.pid, "before", &before);

	/* From IDLE_SOURCES addresses: the overall limits are met. */
	idle_open(&tcpd, idle, IDLE_PEERS, IDLE_SOURCES);
	for (int i = 0; i < REAL_REQUESTS; i++) {
		int fd, local;

		fd = relayed_within(&tcpd, served_ms());
		local = routed_within(uri, served_ms());
		close(fd);
		close(local);
		idle_open(&tcpd, idle, IDLE_MORE, IDLE_SOURCES);
	}
	measure("ipc-tcpd", tcpd.pid, "during the flood", &after);
	for (guint i = 0; i < idle->len; i++)
		close(g_array_index(idle, int, i));
	net_daemon_stop(&tcpd);
	net_daemon_stop(&echo);
}

/*
 * One address floods: it sheds its own oldest handshakes, not another
 * address's, even past the overall limit.
 */
static void test_per_source(Fixture *f, gconstpointer data)
{
	static const char *const more[] = {
		"--max-handshakes", "64", "--max-per-source", "16", NULL,
	};
	g_autoptr(GArray) idle = g_array_new(FALSE, FALSE, sizeof(int));
	struct net_daemon echo, tcpd;
	struct figures before, after;
	int bystander;

	(void)data;
	if (!net_loopback_aliases()) {
		g_test_skip("127.0.0.2 cannot be bound");
		return;
	}
	daemons_start(f, &echo, &tcpd, more);
	measure("ipc-tcpd", tcpd.pid, "before", &before);
	/* Idle for now, from 127.0.0.1. */
	bystander = net_tcp_connect(tcpd.addr, tcpd.port);
	g_usleep(100 * 1000);
	/* 100 idle from 127.0.0.2 alone. */
	idle_open(&tcpd, idle, 100, 1);
	g_usleep(500 * 1000);
	/* The bystander was not shed: its request is served. */
	net_send_text(bystander, "connect " ECHO);
	expect_within(bystander, "ok", served_ms());
	assert_echo(bystander, served_ms());
	measure("ipc-tcpd", tcpd.pid, "after", &after);
	close(bystander);
	for (guint i = 0; i < idle->len; i++)
		close(g_array_index(idle, int, i));
	net_daemon_stop(&tcpd);
	net_daemon_stop(&echo);
}

/* ------------------------------------------------------------------ */
/* full-backlog                                                         */
/* ------------------------------------------------------------------ */

static void test_full_backlog(Fixture *f, gconstpointer data)
{
	static const char *const more[] = {
		"--allow", "slow", "--timeout", LIMIT, NULL,
	};
	struct net_daemon echo, tcpd;
	struct figures before, after;
	int listener, filler, relay, fresh, slow1, slow2, slow3, accepted;
	gint64 start;

	(void)data;
	/* "slow": a service that never accepts, its backlog full. */
	listener = ipc_test_raw_listen_full("slow", &filler);
	ipc_test_expect_leftover(f, "slow");
	daemons_start(f, &echo, &tcpd, more);
	measure("ipc-tcpd", tcpd.pid, "before", &before);
	relay = relayed_within(&tcpd, served_ms());

	start = now_ms();
	slow1 = tcp_request(&tcpd, "slow");
	slow2 = tcp_request(&tcpd, "slow");
	/* Others flow meanwhile: an established relay and a new one. */
	assert_echo(relay, served_ms());
	fresh = relayed_within(&tcpd, served_ms());
	/* Each time limit is kept, counted from its request. */
	expect_within(slow1, "error ETIMEDOUT the service is busy",
		      LIMIT_MS + served_ms());
	ipc_test_assert_eof(slow1);
	expect_within(slow2, "error ETIMEDOUT the service is busy",
		      LIMIT_MS + served_ms());
	ipc_test_assert_eof(slow2);
	g_assert_cmpint(now_ms() - start, <=, LIMIT_MS + served_ms());
	assert_echo(relay, served_ms());

	/* Once the backlog has room, a waiting request gets through. */
	slow3 = tcp_request(&tcpd, "slow");
	g_usleep(LIMIT_MS / 4 * 1000);
	accepted = accept(listener, NULL, NULL);
	g_assert_no_errno(accepted);
	close(accepted);	/* the filler's */
	expect_within(slow3, "ok", served_ms());
	accepted = accept(listener, NULL, NULL);
	g_assert_no_errno(accepted);
	net_send_text(slow3, "through");
	expect_within(accepted, "through", served_ms());
	measure("ipc-tcpd", tcpd.pid, "after", &after);

	close(accepted);
	close(slow1);
	close(slow2);
	close(slow3);
	close(fresh);
	close(relay);
	close(filler);
	close(listener);
	net_daemon_stop(&tcpd);
	net_daemon_stop(&echo);
}

/* ------------------------------------------------------------------ */
/* slow-resolver                                                        */
/* ------------------------------------------------------------------ */

/* ipc-tcpd @d with the slow resolver preloaded. */
static void slow_tcpd_start(Fixture *f, struct net_daemon *d)
{
	static const char *const args[] = {
		"--allow", ECHO, "--timeout", LIMIT, NULL,
	};
	const char *shim = g_getenv("SLOW_RESOLVER");
	g_autofree char *old = g_strdup(g_getenv("LD_PRELOAD"));
	g_autofree char *preload = NULL;

	g_assert_nonnull(shim);
	g_assert_true(g_file_test(shim, G_FILE_TEST_EXISTS));
	/* After valgrind's own preloads, when it runs us. */
	preload = old && *old ? g_strconcat(old, ":", shim, NULL) :
				g_strdup(shim);
	g_assert_true(g_setenv("LD_PRELOAD", preload, TRUE));
	net_tcpd_start(d, f->rundir, LOOPBACK, "tcp", args);
	if (old)
		g_assert_true(g_setenv("LD_PRELOAD", old, TRUE));
	else
		g_unsetenv("LD_PRELOAD");
}

static void test_slow_resolver(Fixture *f, gconstpointer data)
{
	static const char *const echo_args[] = { ECHO, NULL };
	static const char *const b_args[] = { "--allow", ECHO, NULL };
	g_autofree char *stalled = NULL, *quick = NULL, *numeric = NULL;
	g_autofree char *zone = NULL;
	struct net_daemon echo, a, b;
	struct figures before, after;
	int relay, waiting, fd;
	gint64 start;

	(void)data;
	net_daemon_start(&echo, "PONGD", f->rundir, ECHO, echo_args);
	slow_tcpd_start(f, &a);
	net_tcpd_start(&b, f->rundir, LOOPBACK, "tcp-b", b_args);
	stalled = g_strdup_printf("tcp://d%d.slow.test:%u/%s", SLOW_NAME_MS,
				  b.port, ECHO);
	quick = g_strdup_printf("tcp://d0.slow.test:%u/%s", b.port, ECHO);
	numeric = g_strdup_printf("tcp://%s:%u/%s", LOOPBACK, b.port, ECHO);
	zone = g_strdup_printf("tcp://[::1%%d%d.slow.test]:%u/%s",
			       SLOW_NAME_MS, b.port, ECHO);
	measure("ipc-tcpd", a.pid, "before", &before);
	relay = relayed_within(&a, served_ms());

	/* An IPv6 address whose zone is unknown is never taken for a name. */
	fd = ipc_test_raw_connect("tcp");
	net_send_text(fd, zone);
	expect_within(fd, "error EHOSTUNREACH cannot resolve the host",
		      served_ms());
	close(fd);

	start = now_ms();
	waiting = ipc_test_raw_connect("tcp");
	net_send_text(waiting, stalled);
	/* The lookup runs; everything else flows. */
	assert_echo(relay, served_ms());
	fd = routed_within(numeric, served_ms());
	close(fd);
	fd = routed_within(quick, served_ms());
	close(fd);
	/* The time limit covers the lookup. */
	expect_within(waiting, "error ETIMEDOUT timed out",
		      LIMIT_MS + served_ms());
	g_assert_cmpint(now_ms() - start, <=, LIMIT_MS + served_ms());
	ipc_test_assert_eof(waiting);
	assert_echo(relay, served_ms());
	measure("ipc-tcpd", a.pid, "after", &after);

	close(waiting);
	close(relay);
	/* Stops at once, its resolver thread still waiting. */
	net_daemon_stop(&a);
	net_daemon_stop(&b);
	net_daemon_stop(&echo);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/tcpd-hold/idle-flood", test_idle_flood, NULL);
	IPC_TEST_ADD("/ipc/tcpd-hold/per-source", test_per_source, NULL);
	IPC_TEST_ADD("/ipc/tcpd-hold/full-backlog", test_full_backlog, NULL);
	IPC_TEST_ADD("/ipc/tcpd-hold/slow-resolver", test_slow_resolver,
		     NULL);
	/*
	 * Last, as a failure ends the program: this one depends on the
	 * library's time bound for a relay whose one side is gone.
	 */
	IPC_TEST_ADD("/ipc/tcpd-hold/flood-then-close", test_flood_then_close,
		     NULL);
	return g_test_run();
}
