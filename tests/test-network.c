/*
 * libipc tests: reaching a service on another host through IPC_NETWORK,
 * ipcd and two ipc-tcpd, end to end (doc/network.md).
 *
 * Two "hosts" on loopback: host A is the fixture's run directory, with
 * ipcd and an ipc-tcpd listening on 127.0.0.1; host B is a second run
 * directory, with an ipc-tcpd listening on 127.0.0.2 (127.0.0.1 where
 * that address cannot be bound) that lets "pong" and "echo" in.  On host
 * B the service is pongd, or "echo", served by the test context itself
 * (its socket made in B's run directory) when a test needs to act on the
 * service's side.  The client is the test context on host A, with
 * IPC_NETWORK routing the service to host B.  Every daemon is stopped
 * with SIGTERM at the end and must exit 0 with its socket removed: under
 * make check-valgrind that means no error and no leak in any of them.
 *
 * SPDX-License-Identifier: ISC
 */

#include "net-test.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define HOST_A "127.0.0.1"
#define HOST_B "127.0.0.2"
#define SERIES 100
#define CLIENTS 100
#define LARGE (1024 * 1024)

/* The daemons of both hosts. */
struct hosts {
	char *rundir_b;
	struct net_daemon ipcd;
	struct net_daemon tcpd_a;
	struct net_daemon tcpd_b;
	struct net_daemon pongd;	/* on host B, when started */
};

/* Starts ipcd and ipc-tcpd on A, ipc-tcpd on B with @b_args added. */
static void hosts_start(Fixture *f, struct hosts *h,
			const char *const *b_args)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	const char *addr_b = net_loopback_aliases() ? HOST_B : HOST_A;

	memset(h, 0, sizeof(*h));
	h->rundir_b = net_subdir(f, "host-b");
	g_ptr_array_add(args, (gpointer)"--allow");
	g_ptr_array_add(args, (gpointer)"pong");
	g_ptr_array_add(args, (gpointer)"--allow");
	g_ptr_array_add(args, (gpointer)"echo");
	g_ptr_array_add(args, (gpointer)"--allow");
	g_ptr_array_add(args, (gpointer)"nobody");
	for (; b_args && *b_args; b_args++)
		g_ptr_array_add(args, (gpointer)*b_args);
	g_ptr_array_add(args, NULL);
	net_tcpd_start(&h->tcpd_b, h->rundir_b, addr_b, "tcp",
		       (const char *const *)args->pdata);
	net_tcpd_start(&h->tcpd_a, f->rundir, HOST_A, "tcp", NULL);
	net_daemon_start(&h->ipcd, "IPCD", f->rundir, "ipc", NULL);
}

static void hosts_stop(struct hosts *h)
{
	if (h->pongd.pid)
		net_daemon_stop(&h->pongd);
	if (h->ipcd.pid)
		net_daemon_stop(&h->ipcd);
	if (h->tcpd_a.pid)
		net_daemon_stop(&h->tcpd_a);
	if (h->tcpd_b.pid)
		net_daemon_stop(&h->tcpd_b);
	g_clear_pointer(&h->rundir_b, g_free);
}

static void pongd_start_on_b(struct hosts *h)
{
	net_daemon_start(&h->pongd, "PONGD", h->rundir_b, "pong", NULL);
}

/* IPC_NETWORK routes @names (separated by spaces) to host B. */
static void route_to_b(const struct hosts *h, const char *names)
{
	g_auto(GStrv) v = g_strsplit(names, " ", -1);
	g_autoptr(GString) rules = g_string_new("");

	for (char **n = v; *n; n++)
		g_string_append_printf(rules, "%s tcp://%s:%u/%s ; ", *n,
				       h->tcpd_b.addr, h->tcpd_b.port, *n);
	g_assert_true(g_setenv("IPC_NETWORK", rules->str, TRUE));
}

/* The test context serves @name on host B: its socket in B's directory. */
static int serve_on_b(Fixture *f, const struct hosts *h, const char *name)
{
	int fd;

	g_assert_true(g_setenv("IPC_RUNDIR", h->rundir_b, TRUE));
	fd = ipc_test_service_init(f->ctx, name);
	g_assert_true(g_setenv("IPC_RUNDIR", f->rundir, TRUE));
	return fd;
}

/* ipc_connect_service() of a NUL-terminated name; its return value. */
static int try_connect(Fixture *f, const char *name, int *fd)
{
	return ipc_connect_service(f->ctx, fd, name, (uint16_t)strlen(name));
}

/* ------------------------------------------------------------------ */
/* Messages                                                             */
/* ------------------------------------------------------------------ */

/* @n numbered messages of @size bytes to pongd, their echoes in order. */
static void ping_series(Fixture *f, int fd, guint n, size_t size)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autofree char *payload = g_malloc(size);
	guint got = 0;

	for (guint i = 0; i < n; i++) {
		ipc_test_fill_numbered(payload, size, i);
		g_assert_cmpint(ipc_schedule(f->ctx, fd, payload, size), ==,
				0);
	}
	while (got < n) {
		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == MESSAGE_TX)
			continue;
		g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
				"MESSAGE_RX");
		g_assert_cmpint(ev.fd, ==, fd);
		ipc_test_assert_numbered(ev.data, ev.len, size, got);
		got++;
	}
}

static void test_pong(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct hosts h;
	int fd;

	(void)data;
	hosts_start(f, &h, NULL);
	pongd_start_on_b(&h);
	route_to_b(&h, "pong");

	fd = ipc_test_connect(f->ctx, "pong");
	ping_series(f, fd, SERIES, 64);
	ping_series(f, fd, 4, LARGE);
	/* Zero-length messages are messages too. */
	g_assert_cmpint(ipc_write(f->ctx, fd, NULL, 0), ==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, ev.index, fd, NULL, 0);
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);

	g_unsetenv("IPC_NETWORK");
	hosts_stop(&h);
}

/* The README's walkthrough: the pong program, unchanged, on host A. */
static void test_pong_program(Fixture *f, gconstpointer data)
{
	const char *argv[] = { g_getenv("PONG"), "hello", "world", NULL };
	g_autofree char *out = NULL;
	GError *error = NULL;
	struct hosts h;
	int status;

	(void)data;
	g_assert_nonnull(argv[0]);
	hosts_start(f, &h, NULL);
	pongd_start_on_b(&h);
	route_to_b(&h, "pong");
	g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL,
		     &out, NULL, &status, &error);
	g_assert_no_error(error);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_assert_cmpstr(out, ==, "hello\nworld\n");
	g_unsetenv("IPC_NETWORK");
	hosts_stop(&h);
}

/* 100 routed clients open at once, their messages interleaved. */
static void test_many(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int fds[CLIENTS];
	guint next[CLIENTS] = { 0 };
	guint done = 0;
	char payload[32];
	struct hosts h;

	(void)data;
	hosts_start(f, &h, NULL);
	pongd_start_on_b(&h);
	route_to_b(&h, "pong");
	for (guint i = 0; i < CLIENTS; i++)
		fds[i] = ipc_test_connect(f->ctx, "pong");
	/* Two rounds: every client has two messages in flight. */
	for (guint round = 0; round < 2; round++) {
		for (guint i = 0; i < CLIENTS; i++) {
			ipc_test_fill_numbered(payload, sizeof(payload),
					       i * 2 + round);
			g_assert_cmpint(ipc_schedule(f->ctx, fds[i], payload,
						     sizeof(payload)), ==, 0);
		}
	}
	while (done < 2 * CLIENTS) {
		guint i;

		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == MESSAGE_TX)
			continue;
		g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
				"MESSAGE_RX");
		for (i = 0; i < CLIENTS && fds[i] != ev.fd; i++)
			;
		g_assert_cmpuint(i, <, CLIENTS);
		ipc_test_assert_numbered(ev.data, ev.len, sizeof(payload),
					 i * 2 + next[i]);
		next[i]++;
		done++;
	}
	g_assert_cmpint(ipc_close_all(f->ctx), ==, 0);
	g_unsetenv("IPC_NETWORK");
	hosts_stop(&h);
}

/* ------------------------------------------------------------------ */
/* Disconnections                                                       */
/* ------------------------------------------------------------------ */

/* A routed client of the test's own "echo" on B: client fd and @local. */
static int connect_echo(Fixture *f, int svc, int *local)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int fd = ipc_test_connect(f->ctx, "echo");

	*local = ipc_test_accept(f->ctx, svc, NULL);
	/* Both ways, to know the relay is up end to end. */
	g_assert_cmpint(ipc_write(f->ctx, fd, "A to B", 6), ==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, ev.index, *local, "A to B", 6);
	g_assert_cmpint(ipc_write(f->ctx, *local, "B to A", 6), ==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, ev.index, fd, "B to A", 6);
	return fd;
}

static void test_disconnect(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct hosts h;
	int svc, fd, local;

	(void)data;
	hosts_start(f, &h, NULL);
	svc = serve_on_b(f, &h, "echo");
	route_to_b(&h, "echo");

	/* The service closes: the client gets DISCONNECTION. */
	fd = connect_echo(f, svc, &local);
	g_assert_cmpint(ipc_close_fd(f->ctx, local), ==, 0);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, fd);

	/* The client closes: the service gets DISCONNECTION. */
	fd = connect_echo(f, svc, &local);
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, local);

	g_assert_cmpint(ipc_close_fd(f->ctx, svc), ==, 0);
	g_unsetenv("IPC_NETWORK");
	hosts_stop(&h);
}

/* Messages in flight while something dies: DISCONNECTION, no hang. */
static void expect_disconnection(Fixture *f, int fd)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	for (;;) {
		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == DISCONNECTION)
			break;
		g_assert_true(ev.type == MESSAGE_RX || ev.type == MESSAGE_TX);
	}
	g_assert_cmpint(ev.fd, ==, fd);
}

static void schedule_burst(Fixture *f, int fd)
{
	char payload[4096];

	memset(payload, 'x', sizeof(payload));
	for (guint i = 0; i < SERIES; i++)
		g_assert_cmpint(ipc_schedule(f->ctx, fd, payload,
					     sizeof(payload)), ==, 0);
}

/* A routed connection to pongd, a burst of messages on their way. */
static int pong_mid_stream(Fixture *f, const struct hosts *h)
{
	int fd;

	route_to_b(h, "pong");
	fd = ipc_test_connect(f->ctx, "pong");
	ping_series(f, fd, 1, 16);
	schedule_burst(f, fd);
	return fd;
}

static void test_service_killed(Fixture *f, gconstpointer data)
{
	struct hosts h;
	int fd;

	(void)data;
	hosts_start(f, &h, NULL);
	pongd_start_on_b(&h);
	fd = pong_mid_stream(f, &h);
	net_daemon_kill(&h.pongd);
	expect_disconnection(f, fd);
	g_unsetenv("IPC_NETWORK");
	hosts_stop(&h);
}

/* Either ipc-tcpd killed mid-stream. */
static void test_tcpd_killed(Fixture *f, gconstpointer data)
{
	struct hosts h;
	int fd;

	(void)data;
	hosts_start(f, &h, NULL);
	pongd_start_on_b(&h);
	fd = pong_mid_stream(f, &h);
	net_daemon_kill(&h.tcpd_b);
	expect_disconnection(f, fd);

	/* A new ipc-tcpd on B, then the one on A dies. */
	g_test_message("restarting ipc-tcpd on host B");
	{
		const char *const args[] = { "--allow", "pong", NULL };

		net_tcpd_start(&h.tcpd_b, h.rundir_b, net_loopback_aliases() ?
			       HOST_B : HOST_A, "tcp", args);
	}
	fd = pong_mid_stream(f, &h);
	net_daemon_kill(&h.tcpd_a);
	expect_disconnection(f, fd);
	/* Killed, it could not remove its socket and lock file. */
	ipc_test_expect_leftover(f, "tcp");
	ipc_test_expect_leftover(f, "tcp.lock");

	g_unsetenv("IPC_NETWORK");
	hosts_stop(&h);
}

/* ------------------------------------------------------------------ */
/* Refusals and bad peers                                               */
/* ------------------------------------------------------------------ */

static void test_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *rules = NULL;
	struct hosts h;
	guint16 closed_port;
	int fd = -1, probe;

	(void)data;
	hosts_start(f, &h, NULL);
	pongd_start_on_b(&h);
	/* "secret" runs on B but is not on B's allow-list. */
	serve_on_b(f, &h, "secret");
	route_to_b(&h, "secret");
	g_assert_cmpint(try_connect(f, "secret", &fd), ==, -EACCES);
	/* Allowed, but nothing serves it. */
	route_to_b(&h, "nobody");
	g_assert_cmpint(try_connect(f, "nobody", &fd), ==, -ENOENT);
	/* No ipc-tcpd at that address. */
	probe = net_tcp_listen(HOST_A, &closed_port);
	close(probe);
	rules = g_strdup_printf("pong tcp://%s:%u/pong", HOST_A, closed_port);
	g_assert_true(g_setenv("IPC_NETWORK", rules, TRUE));
	g_assert_cmpint(try_connect(f, "pong", &fd), ==, -ECONNREFUSED);

	g_unsetenv("IPC_NETWORK");
	hosts_stop(&h);
}

/* Garbage and stalled handshakes on B's TCP port; a relay goes on. */
static void test_bad_peers(Fixture *f, gconstpointer data)
{
	static const char *const fast[] = { "--timeout", "300", NULL };
	static const char http[] = "GET / HTTP/1.1\r\nHost: b\r\n\r\n";
	struct hosts h;
	int fd, garbage, stalled;

	(void)data;
	hosts_start(f, &h, fast);
	pongd_start_on_b(&h);
	route_to_b(&h, "pong");
	fd = ipc_test_connect(f->ctx, "pong");
	ping_series(f, fd, 1, 16);

	garbage = net_tcp_connect(h.tcpd_b.addr, h.tcpd_b.port);
	stalled = net_tcp_connect(h.tcpd_b.addr, h.tcpd_b.port);
	ipc_test_write_all(garbage, http, strlen(http));
	net_expect_last(garbage, "error EPROTO bad request");
	net_expect_last(stalled, "error ETIMEDOUT timed out");
	close(garbage);
	close(stalled);

	ping_series(f, fd, SERIES, 64);
	g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	g_unsetenv("IPC_NETWORK");
	hosts_stop(&h);
}

/* A "remote ipc-tcpd" that accepts and never answers: -ETIMEDOUT. */
static void test_remote_stalls(Fixture *f, gconstpointer data)
{
	g_autofree char *rules = NULL;
	struct net_daemon tcpd_a, ipcd;
	guint16 port;
	int listener, fd = -1;

	(void)data;
	{
		static const char *const fast[] = { "--timeout", "300", NULL };

		net_tcpd_start(&tcpd_a, f->rundir, HOST_A, "tcp", fast);
	}
	net_daemon_start(&ipcd, "IPCD", f->rundir, "ipc", NULL);
	listener = net_tcp_listen(HOST_A, &port);
	rules = g_strdup_printf("pong tcp://%s:%u/pong", HOST_A, port);
	g_assert_true(g_setenv("IPC_NETWORK", rules, TRUE));
	g_assert_cmpint(try_connect(f, "pong", &fd), ==, -ETIMEDOUT);
	g_unsetenv("IPC_NETWORK");
	close(listener);
	net_daemon_stop(&ipcd);
	net_daemon_stop(&tcpd_a);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/network/pong", test_pong, NULL);
	IPC_TEST_ADD("/ipc/network/pong-program", test_pong_program, NULL);
	IPC_TEST_ADD("/ipc/network/many", test_many, NULL);
	IPC_TEST_ADD("/ipc/network/disconnect", test_disconnect, NULL);
	IPC_TEST_ADD("/ipc/network/service-killed", test_service_killed,
		     NULL);
	IPC_TEST_ADD("/ipc/network/tcpd-killed", test_tcpd_killed, NULL);
	IPC_TEST_ADD("/ipc/network/refused", test_refused, NULL);
	IPC_TEST_ADD("/ipc/network/bad-peers", test_bad_peers, NULL);
	IPC_TEST_ADD("/ipc/network/remote-stalls", test_remote_stalls, NULL);
	return g_test_run();
}
