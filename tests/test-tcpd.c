/*
 * libipc tests: ipc-tcpd, the TCP protocol service (doc/network.md
 * sections 2 and 3), as a real process on loopback.
 *
 * The test context serves the service "svc" in the fixture's run
 * directory; ipc-tcpd runs in the same directory.  Inbound, a raw TCP
 * client of the test plays the remote ipc-tcpd, so every byte of the
 * handshake can be checked; outbound, the test context plays ipcd: it
 * connects to the libipc service of one ipc-tcpd and asks for a URI that
 * names a second ipc-tcpd (or a raw TCP listener of the test).  Every
 * daemon is stopped with SIGTERM at the end and must exit 0 with its
 * socket removed (under valgrind: with no error and no leak).
 *
 * SPDX-License-Identifier: ISC
 */

#include "net-test.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define LOOPBACK "127.0.0.1"
#define SERVICE "svc"
/* Messages of the relay checks, and the size of the large ones. */
#define SERIES 100
#define LARGE (1024 * 1024)

/* ipc-tcpd in the fixture's run directory, "svc" allowed. */
static void tcpd_start(Fixture *f, struct net_daemon *d, const char *name,
		       const char *const *more)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new();

	g_ptr_array_add(args, (gpointer)"--allow");
	g_ptr_array_add(args, (gpointer)SERVICE);
	for (; more && *more; more++)
		g_ptr_array_add(args, (gpointer)*more);
	g_ptr_array_add(args, NULL);
	net_tcpd_start(d, f->rundir, LOOPBACK, name,
		       (const char *const *)args->pdata);
}

/* A raw TCP client that asked ipc-tcpd @d for @service. */
static int tcp_request(const struct net_daemon *d, const char *service)
{
	g_autofree char *req = g_strconcat("connect ", service, NULL);
	int fd = net_tcp_connect(d->addr, d->port);

	net_send_text(fd, req);
	return fd;
}

/* A raw TCP client relayed to the test's service: its fd and @local. */
static int tcp_relayed(Fixture *f, const struct net_daemon *d, int svc,
		       int *local)
{
	int fd = tcp_request(d, SERVICE);

	net_expect_text(fd, "ok");
	*local = ipc_test_accept(f->ctx, svc, NULL);
	return fd;
}

/* One message each way through a relay, to show that it still works. */
static void assert_relays(Fixture *f, int tcp, int local)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	net_send_text(tcp, "still there?");
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	g_assert_cmpint(ev.fd, ==, local);
	g_assert_cmpmem(ev.data, ev.len, "still there?", 12);
	g_assert_cmpint(ipc_write(f->ctx, local, "yes", 3), ==, 0);
	net_expect_text(tcp, "yes");
}

/* ------------------------------------------------------------------ */
/* Inbound                                                              */
/* ------------------------------------------------------------------ */

/* The request and the first messages in one write: none is lost. */
static void send_pipelined(int tcp)
{
	g_autoptr(GByteArray) out = g_byte_array_new();
	char payload[64];

	ipc_test_append_frame(out, "connect " SERVICE, 11);
	for (guint i = 0; i < SERIES; i++) {
		ipc_test_fill_numbered(payload, sizeof(payload), i);
		ipc_test_append_frame(out, payload, sizeof(payload));
	}
	ipc_test_write_all(tcp, out->data, out->len);
}

static void relay_series(Fixture *f, int tcp, int local)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) got = g_byte_array_new();
	char payload[64];

	for (guint i = 0; i < SERIES; i++) {
		ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
		g_assert_cmpint(ev.fd, ==, local);
		ipc_test_assert_numbered(ev.data, ev.len, sizeof(payload), i);
		ipc_test_fill_numbered(payload, sizeof(payload), i + SERIES);
		g_assert_cmpint(ipc_schedule(f->ctx, local, payload,
					     sizeof(payload)), ==, 0);
	}
	for (guint i = 0; i < SERIES; i++)
		ipc_test_wait_for(f->ctx, MESSAGE_TX, &ev);
	for (guint i = 0; i < SERIES; i++) {
		gsize len = ipc_test_read_frame(tcp, got);

		ipc_test_assert_numbered(got->data, len, sizeof(payload),
					 i + SERIES);
	}
}

static void relay_large(Fixture *f, int tcp, int local)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) got = g_byte_array_new();
	g_autofree char *big = g_malloc(LARGE);
	gsize len;

	ipc_test_fill(big, LARGE, 1);
	ipc_test_write_frame(tcp, big, LARGE);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	g_assert_cmpmem(ev.data, ev.len, big, LARGE);
	ipc_test_fill(big, LARGE, 2);
	g_assert_cmpint(ipc_write(f->ctx, local, big, LARGE), ==, 0);
	len = ipc_test_read_frame(tcp, got);
	g_assert_cmpmem(got->data, len, big, LARGE);
}

static void test_inbound_relay(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct net_daemon d;
	int svc, tcp, local;

	(void)data;
	svc = ipc_test_service_init(f->ctx, SERVICE);
	tcpd_start(f, &d, "tcp", NULL);

	tcp = net_tcp_connect(d.addr, d.port);
	send_pipelined(tcp);
	net_expect_text(tcp, "ok");
	local = ipc_test_accept(f->ctx, svc, NULL);
	relay_series(f, tcp, local);
	relay_large(f, tcp, local);

	/* The service leaves: the remote side sees the end of the stream. */
	g_assert_cmpint(ipc_close_fd(f->ctx, local), ==, 0);
	ipc_test_assert_eof(tcp);
	close(tcp);

	/* The remote side leaves: the service gets DISCONNECTION. */
	tcp = tcp_relayed(f, &d, svc, &local);
	assert_relays(f, tcp, local);
	close(tcp);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, local);

	net_daemon_stop(&d);
}

static void test_inbound_refused(Fixture *f, gconstpointer data)
{
	struct net_daemon d;
	int tcp;

	(void)data;
	ipc_test_service_init(f->ctx, "secret");
	tcpd_start(f, &d, "tcp", NULL);

	/* A service that exists but is not on the allow-list. */
	tcp = tcp_request(&d, "secret");
	net_expect_last(tcp, "error EACCES not allowed");
	close(tcp);

	/* Allowed, but nothing serves it. */
	tcp = tcp_request(&d, SERVICE);
	net_expect_last(tcp, "error ENOENT no such service");
	close(tcp);

	net_daemon_stop(&d);
}

/* Each garbage request gets EPROTO and the end of the stream. */
static void send_garbage(const struct net_daemon *d, const void *bytes,
			 size_t len)
{
	int tcp = net_tcp_connect(d->addr, d->port);

	ipc_test_write_all(tcp, bytes, len);
	net_expect_last(tcp, "error EPROTO bad request");
	close(tcp);
}

static void test_inbound_garbage(Fixture *f, gconstpointer data)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char huge[] = { 0x7f, 0xff, 0xff, 0xff, 'c', 'o' };
	/* One byte more than doc/network.md lets a request announce. */
	static const char big[] = { 0x00, 0x00, 0x10, 0x01 };
	g_autoptr(GByteArray) frame = g_byte_array_new();
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct net_daemon d;
	int svc, tcp, local, gone;

	(void)data;
	svc = ipc_test_service_init(f->ctx, SERVICE);
	tcpd_start(f, &d, "tcp", NULL);
	tcp = tcp_relayed(f, &d, svc, &local);

	send_garbage(&d, http, strlen(http));
	send_garbage(&d, huge, sizeof(huge));
	send_garbage(&d, big, sizeof(big));
	ipc_test_append_frame(frame, "connect a/b", 11);
	send_garbage(&d, frame->data, frame->len);
	g_byte_array_set_size(frame, 0);
	ipc_test_append_frame(frame, "hello " SERVICE, 9);
	send_garbage(&d, frame->data, frame->len);
	g_byte_array_set_size(frame, 0);
	ipc_test_append_frame(frame, "connect ", 8);
	send_garbage(&d, frame->data, frame->len);

	/* Half a request, then gone: dropped, nothing else changes. */
	gone = net_tcp_connect(d.addr, d.port);
	ipc_test_write_all(gone, "\0\0\0\x0b" "conn", 8);
	close(gone);
	assert_relays(f, tcp, local);
	close(tcp);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	net_daemon_stop(&d);
}

static void test_inbound_stalled(Fixture *f, gconstpointer data)
{
	static const char *const fast[] = { "--timeout", "300", NULL };
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct net_daemon d;
	int svc, tcp, local, silent, half;

	(void)data;
	svc = ipc_test_service_init(f->ctx, SERVICE);
	tcpd_start(f, &d, "tcp", fast);

	tcp = tcp_relayed(f, &d, svc, &local);
	silent = net_tcp_connect(d.addr, d.port);
	half = net_tcp_connect(d.addr, d.port);
	ipc_test_write_all(half, "\0\0\0\x0b" "conn", 8);
	/* Both get the time-out reply, then the end of the stream. */
	net_expect_last(silent, "error ETIMEDOUT timed out");
	net_expect_last(half, "error ETIMEDOUT timed out");
	close(silent);
	close(half);

	/* A relayed connection has no time limit. */
	assert_relays(f, tcp, local);
	close(tcp);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	net_daemon_stop(&d);
}

/* ------------------------------------------------------------------ */
/* Outbound                                                             */
/* ------------------------------------------------------------------ */

/*
 * As ipcd does: connect to the libipc service @tcpd_service, send @uri
 * and read the reply into @ev; CONNECTION events of @svc met on the way
 * are accepted and their fd stored in *@local.
 */
static int ask(Fixture *f, const char *tcpd_service, const char *uri,
	       int svc, int *local, IpcTestEvent *ev)
{
	int fd = ipc_test_connect(f->ctx, tcpd_service);

	g_assert_cmpint(ipc_write(f->ctx, fd, uri, strlen(uri)), ==, 0);
	for (;;) {
		ipc_test_next_event(f->ctx, ev);
		if (ev->type == CONNECTION && ev->fd == svc) {
			*local = ev->newfd;
			continue;
		}
		g_assert_cmpstr(ipc_test_event_name(ev->type), ==,
				"MESSAGE_RX");
		g_assert_cmpint(ev->fd, ==, fd);
		return fd;
	}
}

/* Asks for @uri and expects the error reply @reply, then the close. */
static void ask_refused(Fixture *f, const char *uri, const char *reply)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int fd, local = -1;

	g_test_message("asking for %s", uri);
	fd = ask(f, "tcp", uri, -1, &local, &ev);
	g_assert_cmpmem(ev.data, MIN(ev.len, strlen(reply)), reply,
			strlen(reply));
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, fd);
}

static void test_outbound_relay(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autofree char *uri = NULL;
	struct net_daemon a, b;
	int svc, fd, local = -1;

	(void)data;
	svc = ipc_test_service_init(f->ctx, SERVICE);
	tcpd_start(f, &a, "tcp", NULL);
	tcpd_start(f, &b, "tcp-b", NULL);
	uri = g_strdup_printf("tcp://%s:%u/%s", b.addr, b.port, SERVICE);

	fd = ask(f, "tcp", uri, svc, &local, &ev);
	g_assert_cmpmem(ev.data, ev.len, "ok", 2);
	if (local < 0)
		local = ipc_test_accept(f->ctx, svc, NULL);

	/* Now an ordinary connection, through a and b. */
	g_assert_cmpint(ipc_write(f->ctx, fd, "ping", 4), ==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, ev.index, local, "ping", 4);
	g_assert_cmpint(ipc_write(f->ctx, local, "pong", 4), ==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, ev.index, fd, "pong", 4);

	/* The service leaves: the client gets DISCONNECTION. */
	g_assert_cmpint(ipc_close_fd(f->ctx, local), ==, 0);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, fd);

	net_daemon_stop(&b);
	net_daemon_stop(&a);
}

/*
 * Fds cannot cross TCP: ipc-tcpd disconnects the client that sends some
 * (the message goes nowhere, never silently; doc/network.md), closes
 * them, and the service sees the connection end.
 */
static void test_outbound_fds(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autofree char *uri = NULL;
	struct net_daemon a, b;
	int svc, fd, local = -1, pipefd[2];
	gboolean client_gone = FALSE, service_gone = FALSE;

	(void)data;
	svc = ipc_test_service_init(f->ctx, SERVICE);
	tcpd_start(f, &a, "tcp", NULL);
	tcpd_start(f, &b, "tcp-b", NULL);
	uri = g_strdup_printf("tcp://%s:%u/%s", b.addr, b.port, SERVICE);
	fd = ask(f, "tcp", uri, svc, &local, &ev);
	g_assert_cmpmem(ev.data, ev.len, "ok", 2);
	if (local < 0)
		local = ipc_test_accept(f->ctx, svc, NULL);
	g_assert_cmpint(ipc_write(f->ctx, fd, "ping", 4), ==, 0);
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, ev.index, local, "ping", 4);

	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     pipefd));
	g_assert_cmpint(ipc_schedule_fds(f->ctx, fd, "fds", 3, &pipefd[1], 1),
			==, 0);
	close(pipefd[1]);
	while (!client_gone || !service_gone) {
		ipc_test_next_event(f->ctx, &ev);
		g_assert_cmpint(ev.type, !=, MESSAGE_RX);
		if (ev.type == DISCONNECTION && ev.fd == fd)
			client_gone = TRUE;
		else if (ev.type == DISCONNECTION && ev.fd == local)
			service_gone = TRUE;
	}
	/* ipc-tcpd closed its copy of the socket's other end. */
	ipc_test_assert_eof(pipefd[0]);
	close(pipefd[0]);

	net_daemon_stop(&b);
	net_daemon_stop(&a);
}

static void test_outbound_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *uri = NULL;
	struct net_daemon a, b;
	guint16 closed_port;
	int probe;

	(void)data;
	ipc_test_service_init(f->ctx, "secret");
	tcpd_start(f, &a, "tcp", NULL);
	tcpd_start(f, &b, "tcp-b", NULL);

	ask_refused(f, "pong", "error EINVAL");
	ask_refused(f, "udp://127.0.0.1:9/x", "error EINVAL");
	ask_refused(f, "tcp://127.0.0.1/x", "error EINVAL");
	/* A port nobody listens on: the one a closed listener had. */
	probe = net_tcp_listen(LOOPBACK, &closed_port);
	close(probe);
	uri = g_strdup_printf("tcp://%s:%u/%s", LOOPBACK, closed_port,
			      SERVICE);
	ask_refused(f, uri, "error ECONNREFUSED");
	/* The remote's refusals come back as it sent them. */
	g_free(uri);
	uri = g_strdup_printf("tcp://%s:%u/secret", b.addr, b.port);
	ask_refused(f, uri, "error EACCES not allowed");
	g_free(uri);
	uri = g_strdup_printf("tcp://%s:%u/%s", b.addr, b.port, SERVICE);
	ask_refused(f, uri, "error ENOENT no such service");

	net_daemon_stop(&b);
	net_daemon_stop(&a);
}

/*
 * As ipcd does, asks ipc-tcpd for @uri, which names the raw @listener of
 * the test; returns the remote side once it read the request.  *@fd is
 * the asking connection.
 */
static int remote_asked(Fixture *f, int listener, const char *uri, int *fd)
{
	int remote;

	*fd = ipc_test_connect(f->ctx, "tcp");
	g_assert_cmpint(ipc_write(f->ctx, *fd, uri, strlen(uri)), ==, 0);
	remote = accept(listener, NULL, NULL);
	g_assert_no_errno(remote);
	net_expect_text(remote, "connect " SERVICE);
	return remote;
}

/* The reply of the asking connection @fd: @len bytes equal to @reply. */
static void expect_refusal(Fixture *f, int fd, const char *reply, size_t len)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	g_assert_cmpint(ev.fd, ==, fd);
	g_assert_cmpmem(ev.data, MIN(ev.len, len), reply, len);
	/* Short enough for ipcd, which reads at most 1 KiB. */
	g_assert_cmpuint(ev.len, <, 128);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, fd);
}

/* The remote accepts, then stalls, goes away or answers badly. */
static void test_outbound_bad_remote(Fixture *f, gconstpointer data)
{
	static const char *const fast[] = { "--timeout", "300", NULL };
	g_autoptr(GString) refusal = g_string_new("error EACCES ");
	g_autofree char *uri = NULL;
	struct net_daemon a;
	guint16 port;
	int listener, remote, fd;

	(void)data;
	tcpd_start(f, &a, "tcp", fast);
	listener = net_tcp_listen(LOOPBACK, &port);
	uri = g_strdup_printf("tcp://%s:%u/%s", LOOPBACK, port, SERVICE);

	/* Never answered: the time limit, then the end of the stream. */
	remote = remote_asked(f, listener, uri, &fd);
	expect_refusal(f, fd, "error ETIMEDOUT timed out", 25);
	ipc_test_assert_eof(remote);
	close(remote);

	/* Closed without a reply. */
	remote = remote_asked(f, listener, uri, &fd);
	close(remote);
	expect_refusal(f, fd, "error ECONNRESET", 16);

	/* A long refusal: passed on, its text cut short. */
	for (int i = 0; i < 1000; i++)
		g_string_append_c(refusal, 'x');
	remote = remote_asked(f, listener, uri, &fd);
	net_send_text(remote, refusal->str);
	expect_refusal(f, fd, "error EACCES xxx", 16);
	ipc_test_assert_eof(remote);
	close(remote);

	/* A reply that is not one. */
	remote = remote_asked(f, listener, uri, &fd);
	net_send_text(remote, "HTTP/1.1 400 Bad Request");
	expect_refusal(f, fd, "error EPROTO bad reply", 22);
	ipc_test_assert_eof(remote);
	close(remote);

	close(listener);
	net_daemon_stop(&a);
}

/* A client of the libipc service that never sends its URI. */
static void test_outbound_silent_client(Fixture *f, gconstpointer data)
{
	static const char *const fast[] = { "--timeout", "300", NULL };
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct net_daemon a;
	int fd;

	(void)data;
	tcpd_start(f, &a, "tcp", fast);
	fd = ipc_test_connect(f->ctx, "tcp");
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	g_assert_cmpmem(ev.data, ev.len, "error ETIMEDOUT timed out", 25);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, fd);
	net_daemon_stop(&a);
}

/* ------------------------------------------------------------------ */
/* The command line                                                     */
/* ------------------------------------------------------------------ */

/* Runs ipc-tcpd in the fixture's run directory; its exit status. */
static int run_tcpd(const char *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	GError *error = NULL;
	int status;

	g_ptr_array_add(argv, (gpointer)g_getenv("IPC_TCPD"));
	for (; *args; args++)
		g_ptr_array_add(argv, (gpointer)*args);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL, (char **)argv->pdata, NULL,
		     G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, NULL,
		     &status, &error);
	g_assert_no_error(error);
	g_assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_command_line(Fixture *f, gconstpointer data)
{
	static const char *const help[] = { "--help", NULL };
	static const char *const bad[] = { "--no-such-option", NULL };
	static const char *const bad_name[] = { "--allow", "a/b", NULL };
	static const char *const bad_timeout[] = { "--timeout", "0", NULL };
	static const char *const bad_listen[] = { "--listen", "nowhere",
						  NULL };
	static const char *const bad_max[] = { "--max-handshakes", "0",
					       NULL };
	static const char *const bad_source[] = { "--max-per-source", "1x",
						  NULL };
	g_autofree char *in_use = NULL;
	guint16 port;
	int listener;

	(void)f;
	(void)data;
	g_assert_cmpint(run_tcpd(help), ==, 0);
	g_assert_cmpint(run_tcpd(bad), ==, 2);
	g_assert_cmpint(run_tcpd(bad_name), ==, 2);
	g_assert_cmpint(run_tcpd(bad_timeout), ==, 2);
	g_assert_cmpint(run_tcpd(bad_listen), ==, 1);
	g_assert_cmpint(run_tcpd(bad_max), ==, 2);
	g_assert_cmpint(run_tcpd(bad_source), ==, 2);
	/* The TCP port is taken: exit 1, nothing left behind. */
	listener = net_tcp_listen(LOOPBACK, &port);
	in_use = g_strdup_printf("%s:%u", LOOPBACK, port);
	{
		const char *const args[] = { "--listen", in_use, NULL };

		g_assert_cmpint(run_tcpd(args), ==, 1);
	}
	/* IPC_TCPD_LISTEN says where to listen when --listen does not. */
	g_assert_true(g_setenv("IPC_TCPD_LISTEN", in_use, TRUE));
	g_assert_cmpint(run_tcpd(help + 1), ==, 1);
	g_unsetenv("IPC_TCPD_LISTEN");
	close(listener);
}

/* --allow-file; SIGINT stops it as SIGTERM does. */
static void test_allow_file(Fixture *f, gconstpointer data)
{
	g_autofree char *list = ipc_test_path(f, "allowed");
	g_autofree char *list_arg = NULL;
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct net_daemon d;
	int svc, tcp, local;

	(void)data;
	ipc_test_expect_leftover(f, "allowed");
	g_assert_true(g_file_set_contents(list, "# who may come in\n\n"
					  "  " SERVICE "\t\nother\n", -1,
					  NULL));
	list_arg = g_strconcat("--allow-file=", list, NULL);
	svc = ipc_test_service_init(f->ctx, SERVICE);
	ipc_test_service_init(f->ctx, "secret");
	{
		const char *const args[] = { list_arg, NULL };

		net_tcpd_start(&d, f->rundir, LOOPBACK, "tcp", args);
	}
	tcp = tcp_relayed(f, &d, svc, &local);
	assert_relays(f, tcp, local);
	close(tcp);
	tcp = tcp_request(&d, "secret");
	net_expect_last(tcp, "error EACCES not allowed");
	close(tcp);

	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	net_daemon_stop_by(&d, SIGINT);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	IPC_TEST_ADD("/ipc/tcpd/inbound/relay", test_inbound_relay, NULL);
	IPC_TEST_ADD("/ipc/tcpd/inbound/refused", test_inbound_refused, NULL);
	IPC_TEST_ADD("/ipc/tcpd/inbound/garbage", test_inbound_garbage, NULL);
	IPC_TEST_ADD("/ipc/tcpd/inbound/stalled", test_inbound_stalled, NULL);
	IPC_TEST_ADD("/ipc/tcpd/outbound/relay", test_outbound_relay, NULL);
	IPC_TEST_ADD("/ipc/tcpd/outbound/fds", test_outbound_fds, NULL);
	IPC_TEST_ADD("/ipc/tcpd/outbound/refused", test_outbound_refused,
		     NULL);
	IPC_TEST_ADD("/ipc/tcpd/outbound/bad-remote",
		     test_outbound_bad_remote, NULL);
	IPC_TEST_ADD("/ipc/tcpd/outbound/silent-client",
		     test_outbound_silent_client, NULL);
	IPC_TEST_ADD("/ipc/tcpd/command-line", test_command_line, NULL);
	IPC_TEST_ADD("/ipc/tcpd/allow-file", test_allow_file, NULL);
	return g_test_run();
}
