/*
 * IPC_NETWORK end to end on one host: ipc_connect_service() of the
 * library, a real ipcd (tests/bin/ipcd, under valgrind in make
 * check-valgrind), and a fake protocol service.
 *
 * SPDX-License-Identifier: ISC
 *
 * The fake protocol service "fake" runs in a forked child.  It reads the
 * URI ipcd sends, and acts after the URI's service part: "echo" replies
 * ok then echoes every message, "hello" replies ok and a message "hello"
 * in the same write (the bytes after ok must reach the client, not
 * ipcd), "stall" never replies, "close" closes, "long" and "toolong"
 * send an error reply of the most bytes ipcd takes and of one more,
 * "e2long" one of the most bytes whose errno name ipcd does not know;
 * "handover" replies ok with a socket of a socketpair attached, closes
 * its connection with ipcd and echoes the bytes of the socketpair's other
 * end (as ipc-sshd hands over ssh's socket), "handover2" and
 * "handoverpipe" attach two sockets or a pipe, "handerror" an error with
 * a socket; anything else is sent back as the reply itself, '_' read as ' ' (so
 * "error_EACCES_no" replies "error EACCES no").
 *
 * A fake ipcd, raw sockets in a forked child, sends the client replies
 * ipcd never would: ok without an fd, with two fds, with a pipe, an
 * oversized frame.
 *
 * ipcd runs with its output in a file, shown with g_test_message() when
 * it stops; it must exit 0 after SIGTERM or SIGINT (under valgrind: no
 * error, no leak) and remove its socket and lock files, which every
 * teardown checks.
 */

#include <config.h>

#include "ipc-test.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUTE "other x://y/z ; pong fake://h/echo"
#define PARALLEL 100
/* The longest reply of a protocol service ipcd reads (doc/network.md). */
#define REPLY_MAX 1024

/* ------------------------------------------------------------------ */
/* The fake protocol service                                            */
/* ------------------------------------------------------------------ */

/* What the fake does with each connection, by fd. */
enum fake_state { FAKE_NEW, FAKE_ECHO, FAKE_STALLED };

static void send_with_fds(int fd, const void *buf, size_t len,
			  const int *fds, int nfds);

/* The fake's ends of the socketpairs it handed over, by fd. */
static bool fake_handed[4096];

/*
 * Replies @reply on @fd (nothing queued there) with @nfds fds attached:
 * a socketpair's other ends, or a pipe's read end; for "ok" with one
 * socket, the fake's end echoes.
 */
static void fake_hand_over(void *ctx, int fd, const char *reply, int nfds,
			   bool pipe, enum fake_state *state)
{
	GByteArray *out = g_byte_array_new();
	int sv[2][2], fds[2], i;

	for (i = 0; i < nfds; i++) {
		if (pipe)
			ipc_test_pipe(sv[i]);
		else
			g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM |
						     SOCK_CLOEXEC, 0, sv[i]));
		fds[i] = sv[i][1];
	}
	ipc_test_append_frame(out, reply, strlen(reply));
	send_with_fds(fd, out->data, out->len, fds, nfds);
	g_byte_array_unref(out);
	for (i = 0; i < nfds; i++)
		close(sv[i][1]);
	if (nfds == 1 && !pipe && !strcmp(reply, "ok")) {
		g_assert_cmpint(sv[0][0], <, 4096);
		fake_handed[sv[0][0]] = true;
		g_assert_cmpint(ipc_add_external(ctx, sv[0][0]), ==, 0);
		/* ipcd's connection is done with: the client has ours. */
		ipc_close_fd(ctx, fd);
		return;
	}
	for (i = 0; i < nfds; i++)
		close(sv[i][0]);
	*state = FAKE_STALLED;
}

/* Echoes what came on the handed-over socket, byte for byte. */
static void fake_handed_echo(void *ctx, int fd)
{
	char buf[4096];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0) {
		fake_handed[fd] = false;
		ipc_close_fd(ctx, fd);
		return;
	}
	ipc_test_write_all(fd, buf, (size_t)n);
}

static void fake_reply(void *ctx, int fd, const char *what, size_t len,
		       enum fake_state *state)
{
	g_autofree char *reply = g_strndup(what, len);
	GByteArray *out;

	if (!strcmp(reply, "echo")) {
		g_assert_cmpint(ipc_schedule(ctx, fd, "ok", 2), ==, 0);
		*state = FAKE_ECHO;
	} else if (!strcmp(reply, "hello")) {
		/* One write: whoever reads the ok must leave "hello". */
		out = g_byte_array_new();
		ipc_test_append_frame(out, "ok", 2);
		ipc_test_append_frame(out, "hello", 5);
		ipc_test_write_all(fd, out->data, out->len);
		g_byte_array_unref(out);
		*state = FAKE_ECHO;
	} else if (!strcmp(reply, "long") || !strcmp(reply, "toolong")) {
		/* The longest reply ipcd takes, and one byte more. */
		size_t n = reply[0] == 'l' ? REPLY_MAX : REPLY_MAX + 1;
		char *big = g_malloc(n);

		memset(big, 'x', n);
		memcpy(big, "error EACCES ", 13);
		g_assert_cmpint(ipc_schedule(ctx, fd, big, n), ==, 0);
		g_free(big);
		*state = FAKE_STALLED;
	} else if (!strcmp(reply, "e2long")) {
		/* Valid, but "E2" reads as EPROTO: 4 bytes longer. */
		char *big = g_malloc(REPLY_MAX);

		memset(big, 'x', REPLY_MAX);
		memcpy(big, "error E2 ", 9);
		g_assert_cmpint(ipc_schedule(ctx, fd, big, REPLY_MAX), ==, 0);
		g_free(big);
		*state = FAKE_STALLED;
	} else if (!strcmp(reply, "handover")) {
		fake_hand_over(ctx, fd, "ok", 1, false, state);
	} else if (!strcmp(reply, "handover2")) {
		fake_hand_over(ctx, fd, "ok", 2, false, state);
	} else if (!strcmp(reply, "handoverpipe")) {
		fake_hand_over(ctx, fd, "ok", 1, true, state);
	} else if (!strcmp(reply, "handerror")) {
		fake_hand_over(ctx, fd, "error EACCES handed", 1, false, state);
	} else if (!strcmp(reply, "stall")) {
		*state = FAKE_STALLED;
	} else if (!strcmp(reply, "close")) {
		ipc_close_fd(ctx, fd);
	} else {
		g_strdelimit(reply, "_", ' ');
		g_assert_cmpint(ipc_schedule(ctx, fd, reply, len), ==, 0);
		*state = FAKE_STALLED;
	}
}

static void fake_message(void *ctx, enum fake_state *states,
			 const struct ipc_test_event *ev)
{
	const char *slash;

	g_assert_cmpint(ev->fd, <, 4096);
	if (states[ev->fd] == FAKE_ECHO) {
		g_assert_cmpint(ipc_schedule(ctx, ev->fd, ev->data, ev->len),
				==, 0);
		return;
	}
	g_assert_cmpint(states[ev->fd], ==, FAKE_NEW);
	slash = g_strrstr_len(ev->data, (gssize)ev->len, "/");
	g_assert_nonnull(slash);
	slash++;
	fake_reply(ctx, ev->fd, slash, ev->len - (size_t)(slash - ev->data),
		   &states[ev->fd]);
}

/* Serves "fake" until the pipe @arg closes. */
static void fake_child(void *arg)
{
	int stop = GPOINTER_TO_INT(arg);
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	enum fake_state *states = g_new0(enum fake_state, 4096);
	void *ctx = NULL;
	bool done = false;

	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	ipc_test_service_init(ctx, "fake");
	g_assert_cmpint(ipc_add_external(ctx, stop), ==, 0);
	while (!done) {
		ipc_test_next_event(ctx, &ev);
		switch (ev.type) {
		case CONNECTION:
			g_assert_cmpint(ev.newfd, <, 4096);
			states[ev.newfd] = FAKE_NEW;
			break;
		case MESSAGE_RX:
			fake_message(ctx, states, &ev);
			break;
		case EXTERNAL:
			if (ev.fd >= 0 && ev.fd < 4096 && fake_handed[ev.fd])
				fake_handed_echo(ctx, ev.fd);
			done = ev.fd == stop;
			break;
		case DISCONNECTION:
			if (ev.fd >= 0 && ev.fd < 4096)
				fake_handed[ev.fd] = false;
			done = ev.fd == stop;
			break;
		default:
			break;
		}
	}
	ipc_context_deinit(&ctx);
	g_free(states);
}

struct fake {
	pid_t pid;
	int stop;	/* closing it stops the fake */
};

static void fake_start(struct fake *fake)
{
	int fds[2];

	ipc_test_pipe(fds);
	/* Neither the fake (ipc_test_fork closes it) nor ipcd may keep it. */
	g_assert_no_errno(fcntl(fds[1], F_SETFD, FD_CLOEXEC));
	fake->pid = ipc_test_fork(fake_child, GINT_TO_POINTER(fds[0]));
	close(fds[0]);
	fake->stop = fds[1];
	/* Ready when it accepts. */
	for (;;) {
		int fd = ipc_test_raw_try_connect("fake");

		if (fd >= 0) {
			close(fd);
			break;
		}
		g_usleep(10000);
	}
}

static void fake_stop(struct fake *fake)
{
	close(fake->stop);
	ipc_test_reap(fake->pid);
}

/* ------------------------------------------------------------------ */
/* ipcd                                                                 */
/* ------------------------------------------------------------------ */

struct ipcd {
	GPid pid;
	char *log;	/* its stdout and stderr */
};

/* Starts tests/bin/ipcd with @args; returns once it accepts. */
static void ipcd_start(struct ipcd *d, const char *const *args)
{
	g_autofree char *path = g_test_build_filename(G_TEST_BUILT, "bin",
						      "ipcd", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	GError *error = NULL;
	int logfd, fd;

	g_ptr_array_add(argv, path);
	for (; args && *args; args++)
		g_ptr_array_add(argv, (char *)*args);
	g_ptr_array_add(argv, NULL);
	logfd = g_file_open_tmp("ipcd-log-XXXXXX", &d->log, &error);
	g_assert_no_error(error);
	g_spawn_async_with_fds(NULL, (char **)argv->pdata, NULL,
			       G_SPAWN_DO_NOT_REAP_CHILD, NULL, NULL, &d->pid,
			       -1, logfd, logfd, &error);
	g_assert_no_error(error);
	close(logfd);
	while ((fd = ipc_test_raw_try_connect("ipc")) < 0) {
		g_assert_cmpint(waitpid(d->pid, NULL, WNOHANG), ==, 0);
		g_usleep(10000);
	}
	close(fd);
}

/* Shows ipcd's fds and RSS (the figures of an attack's before and after). */
static void ipcd_figures(const struct ipcd *d, const char *when)
{
	gsize rss;

	ipc_test_memory(d->pid, NULL, &rss);
	g_test_message("ipcd %s: %d fds, RSS %.1f MiB", when,
		       ipc_test_count_fds_of(d->pid), rss / 1048576.0);
}

/* ipcd's output so far. */
static char *ipcd_log(const struct ipcd *d)
{
	GError *error = NULL;
	char *text;

	g_file_get_contents(d->log, &text, NULL, &error);
	g_assert_no_error(error);
	return text;
}

/* Stops ipcd with @sig; returns its output. */
static char *ipcd_stop(struct ipcd *d, int sig)
{
	char *text;
	int status;

	g_assert_no_errno(kill(d->pid, sig));
	g_assert_cmpint(waitpid(d->pid, &status, 0), ==, d->pid);
	g_spawn_close_pid(d->pid);
	text = ipcd_log(d);
	g_test_message("ipcd said:\n%s", text);
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_assert_nonnull(strstr(text, "ipcd: stopped"));
	unlink(d->log);
	g_free(d->log);
	return text;
}

/* ------------------------------------------------------------------ */
/* Fixture: a fake protocol service and ipcd                            */
/* ------------------------------------------------------------------ */

struct net {
	struct ipc_test_fixture base;
	struct fake fake;
	struct ipcd ipcd;
	char *log;	/* ipcd's output once stopped */
};

static const char *const short_limits[] = {
	"--client-timeout=300", "--service-timeout=300", NULL,
};

static void net_setup(struct net *n, gconstpointer data)
{
	ipc_test_setup(&n->base, data);
	fake_start(&n->fake);
	ipcd_start(&n->ipcd, data);
	g_unsetenv("IPC_LOOKUP_TIMEOUT_MS");
}

static void net_teardown(struct net *n, gconstpointer data)
{
	if (!n->log)
		n->log = ipcd_stop(&n->ipcd, SIGTERM);
	fake_stop(&n->fake);
	g_free(n->log);
	g_unsetenv("IPC_NETWORK");
	ipc_test_teardown(&n->base, data);
}

#define NET_ADD(path, func, args) \
	g_test_add(path, struct net, args, net_setup, func, net_teardown)

/* ipc_connect_service() of @name with IPC_NETWORK set to @rules. */
static int routed_connect(void *ctx, const char *rules, const char *name,
			  int *fd)
{
	g_assert_true(g_setenv("IPC_NETWORK", rules, TRUE));
	return ipc_connect_service(ctx, fd, name, (uint16_t)strlen(name));
}

/* Messages both ways, in order, on a connection to the echo. */
static void assert_echoes(void *ctx, int fd)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	char payload[64];
	guint32 i;

	for (i = 0; i < 8; i++) {
		ipc_test_fill_numbered(payload, sizeof(payload), i);
		g_assert_cmpint(ipc_schedule(ctx, fd, payload, sizeof(payload)),
				==, 0);
	}
	for (i = 0; i < 8; i++) {
		ipc_test_wait_for_ignoring(ctx, MESSAGE_RX,
					   IPC_TEST_BIT(MESSAGE_TX), &ev);
		g_assert_cmpint(ev.fd, ==, fd);
		ipc_test_assert_numbered(ev.data, ev.len, sizeof(payload), i);
	}
}

/* The routed connection reaches the fake: its peer is the fake's pid. */
static void test_routed_echo(struct net *n, gconstpointer data)
{
	pid_t pid;
	int fd = -1;

	(void)data;
	g_assert_cmpint(routed_connect(n->base.ctx, ROUTE, "pong", &fd), ==,
			0);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(ipc_peer_credentials(n->base.ctx, fd, &pid, NULL,
					     NULL), ==, 0);
	g_assert_cmpint(pid, ==, n->fake.pid);
	g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
	g_assert_cmpint(fcntl(fd, F_GETFL) & O_NONBLOCK, ==, O_NONBLOCK);
	assert_echoes(n->base.ctx, fd);
	g_assert_cmpint(ipc_close_fd(n->base.ctx, fd), ==, 0);
	n->log = ipcd_stop(&n->ipcd, SIGTERM);
	g_assert_nonnull(strstr(n->log, "pong -> fake://h/echo: ok"));
}

/*
 * A protocol service that sends a socket with its ok (ipc-sshd): the
 * client gets that socket, not ipcd's connection to the service (which
 * the fake closed at once), and talks to the fake through it.
 */
static void test_routed_handover(struct net *n, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int fd = -1;

	(void)data;
	g_assert_cmpint(routed_connect(n->base.ctx, "pong fake://h/handover",
				       "pong", &fd), ==, 0);
	g_assert_cmpint(fcntl(fd, F_GETFD) & FD_CLOEXEC, ==, FD_CLOEXEC);
	assert_echoes(n->base.ctx, fd);
	g_assert_cmpint(ipc_close_fd(n->base.ctx, fd), ==, 0);
	/* The fake saw the end of the socket: it hands over another. */
	g_assert_cmpint(routed_connect(n->base.ctx, "pong fake://h/handover",
				       "pong", &fd), ==, 0);
	assert_echoes(n->base.ctx, fd);
	fake_stop(&n->fake);
	ipc_test_wait_for(n->base.ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, fd);
	fake_start(&n->fake);
	n->log = ipcd_stop(&n->ipcd, SIGTERM);
	g_assert_nonnull(strstr(n->log, "pong -> fake://h/handover: ok"));
}

/* The bytes the protocol service sent right after ok reach the client. */
static void test_routed_bytes_after_ok(struct net *n, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int fd = -1;

	(void)data;
	g_assert_cmpint(routed_connect(n->base.ctx, "pong fake://h/hello",
				       "pong", &fd), ==, 0);
	ipc_test_wait_for(n->base.ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, ev.index, fd, "hello", 5);
	assert_echoes(n->base.ctx, fd);
}

/* The peer leaving reaches the client as a DISCONNECTION. */
static void test_routed_peer_gone(struct net *n, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int fd = -1;

	(void)data;
	g_assert_cmpint(routed_connect(n->base.ctx, ROUTE, "pong", &fd), ==,
			0);
	fake_stop(&n->fake);
	ipc_test_wait_for(n->base.ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, fd);
	fake_start(&n->fake);
}

/* Each error reply of the protocol service, or of ipcd, as -errno. */
static void test_routed_errors(struct net *n, gconstpointer data)
{
	static const struct {
		const char *rules;
		int err;
	} cases[] = {
		{ "pong fake://h/error_EACCES_not_allowed", -EACCES },
		{ "pong fake://h/error_ENOENT", -ENOENT },
		{ "pong fake://h/error_EHOSTUNREACH_x", -EHOSTUNREACH },
		{ "pong fake://h/error_EWHAT_unknown", -EPROTO },
		{ "pong fake://h/garbage", -EPROTO },
		{ "pong fake://h/close", -ECONNRESET },
		{ "pong fake://h/handover2", -EPROTO },
		{ "pong fake://h/handoverpipe", -EPROTO },
		{ "pong fake://h/handerror", -EACCES },
		{ "pong fake://h/long", -EACCES },
		{ "pong fake://h/toolong", -EPROTO },
		{ "pong nosuch://h/x", -ENOENT },
		{ "pong not-a-uri", -EINVAL },
		{ "pong fake://h/a/b", -EINVAL },
		{ "pong ipc://h/x", -EINVAL },
	};
	size_t i;
	int fd;

	(void)data;
	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("IPC_NETWORK=\"%s\"", cases[i].rules);
		fd = -1;
		g_assert_cmpint(routed_connect(n->base.ctx, cases[i].rules,
					       "pong", &fd), ==, cases[i].err);
		g_assert_cmpint(fd, ==, -1);
	}
	/* ipcd is still there. */
	g_assert_cmpint(routed_connect(n->base.ctx, ROUTE, "pong", &fd), ==,
			0);
	assert_echoes(n->base.ctx, fd);
	n->log = ipcd_stop(&n->ipcd, SIGTERM);
	g_assert_nonnull(strstr(n->log, "error EACCES not allowed"));
}

/* A lookup of exactly 64 KiB is served; one byte more is not sent. */
static void test_routed_long_rules(struct net *n, gconstpointer data)
{
	/* The lookup is "pong;" and the rules. */
	const size_t most = 64 * 1024 - 5;
	GString *rules = g_string_new(NULL);
	int fd = -1;

	(void)data;
	while (rules->len < most - 40)
		g_string_append(rules, "other x://y/z ; ");
	g_string_append(rules, "pong fake://h/echo ;");
	while (rules->len < most)
		g_string_append_c(rules, ' ');
	g_assert_cmpint(routed_connect(n->base.ctx, rules->str, "pong", &fd),
			==, 0);
	assert_echoes(n->base.ctx, fd);
	g_string_append_c(rules, ' ');
	fd = -1;
	g_assert_cmpint(routed_connect(n->base.ctx, rules->str, "pong", &fd),
			==, -EMSGSIZE);
	g_assert_cmpint(fd, ==, -1);
	g_string_free(rules, TRUE);
}

/* ipcd times a stalled protocol service out: -ETIMEDOUT, from ipcd. */
static void test_routed_service_stalls(struct net *n, gconstpointer data)
{
	int fd = -1;

	(void)data;
	g_assert_cmpint(routed_connect(n->base.ctx, "pong fake://h/stall",
				       "pong", &fd), ==, -ETIMEDOUT);
	n->log = ipcd_stop(&n->ipcd, SIGTERM);
	g_assert_nonnull(strstr(n->log, "error ETIMEDOUT the protocol"));
}

/* No rule for the name, no IPC_NETWORK, the name "ipc": local. */
static void test_local_paths(struct net *n, gconstpointer data)
{
	static const char *const rules[] = {
		"other fake://h/echo", "", ";;", "pong", "pongx fake://h/echo",
	};
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int svc = ipc_test_service_init(n->base.ctx, "pong");
	size_t i;
	int fd;

	(void)data;
	for (i = 0; i < G_N_ELEMENTS(rules) + 1; i++) {
		if (i < G_N_ELEMENTS(rules))
			g_assert_true(g_setenv("IPC_NETWORK", rules[i], TRUE));
		else
			g_unsetenv("IPC_NETWORK");
		fd = ipc_test_connect(n->base.ctx, "pong");
		ipc_test_wait_for(n->base.ctx, CONNECTION, &ev);
		g_assert_cmpint(ev.fd, ==, svc);
		g_assert_cmpint(ipc_close_fd(n->base.ctx, ev.newfd), ==, 0);
		g_assert_cmpint(ipc_close_fd(n->base.ctx, fd), ==, 0);
	}
	/* "ipc" itself is never routed. */
	g_assert_cmpint(routed_connect(n->base.ctx, "ipc fake://h/echo", "ipc",
				       &fd), ==, 0);
	g_assert_cmpint(ipc_close_fd(n->base.ctx, fd), ==, 0);
	g_assert_cmpint(ipc_close_fd(n->base.ctx, svc), ==, 0);
}

/* ------------------------------------------------------------------ */
/* Misbehaving clients of ipcd                                          */
/* ------------------------------------------------------------------ */

/* Reads ipcd's reply to a raw client: the reply text, then EOF. */
static char *raw_reply(int fd)
{
	g_autoptr(GByteArray) frame = g_byte_array_new();
	gsize len = ipc_test_read_frame(fd, frame);

	ipc_test_assert_eof(fd);
	return g_strndup((const char *)frame->data, len);
}

static void check_bad_lookup(const void *lookup, size_t len,
			     const char *reply)
{
	int fd = ipc_test_raw_connect("ipc");
	g_autofree char *got = NULL;

	ipc_test_write_frame(fd, lookup, (guint32)len);
	got = raw_reply(fd);
	g_assert_cmpstr(got, ==, reply);
	close(fd);
}

static void test_garbage_lookups(struct net *n, gconstpointer data)
{
	static const char huge[] = "\x7f\xff\xff\xffxyz";
	int fd;

	(void)data;
	check_bad_lookup("pong", 4, "error EPROTO bad lookup");
	check_bad_lookup("", 0, "error EPROTO bad lookup");
	check_bad_lookup(";pong fake://h/echo", 19, "error EPROTO bad lookup");
	check_bad_lookup("a/b;a/b fake://h/echo", 21,
			 "error EPROTO bad lookup");
	check_bad_lookup("..;.. fake://h/echo", 19, "error EPROTO bad lookup");
	check_bad_lookup("po\0ng;x", 7, "error EPROTO bad lookup");
	check_bad_lookup("pong;", 5, "error ENOENT no rule for this service");
	check_bad_lookup("pong;pong fake://h", 18, "error EINVAL bad URI");
	/* A name with a terminal escape: valid, logged harmless. */
	check_bad_lookup("p\x1b[2Jng;", 9,
			 "error ENOENT no rule for this service");

	/* A frame over the limit: dropped without a reply. */
	fd = ipc_test_raw_connect("ipc");
	ipc_test_write_all(fd, huge, sizeof(huge) - 1);
	ipc_test_assert_eof(fd);
	close(fd);

	/* Two lookups on one connection: the second is garbage. */
	fd = ipc_test_raw_connect("ipc");
	ipc_test_write_frame(fd, "pong;pong fake://h/stall", 24);
	ipc_test_write_frame(fd, "pong;pong fake://h/stall", 24);
	g_autofree char *got = raw_reply(fd);
	g_assert_cmpstr(got, ==, "error EPROTO bad lookup");
	close(fd);

	g_assert_cmpint(routed_connect(n->base.ctx, ROUTE, "pong", &fd), ==,
			0);
	assert_echoes(n->base.ctx, fd);
	n->log = ipcd_stop(&n->ipcd, SIGTERM);
	g_assert_nonnull(strstr(n->log, ": p?[2Jng: error ENOENT"));
	g_assert_null(strchr(n->log, '\x1b'));
}

/*
 * A protocol service whose backlog is full: ipcd neither blocks nor
 * refuses at once.  Others are served meanwhile, the lookup gets
 * ETIMEDOUT at the service's time limit, and one gets through once the
 * backlog has room.
 */
static void test_routed_service_busy(struct net *n, gconstpointer data)
{
	static const char lookup[] = "pong;pong busy://h/x";
	g_autoptr(GByteArray) uri = g_byte_array_new();
	g_autofree char *got = NULL;
	gsize len;
	int listener, filler, waiting, accepted, fd;

	(void)data;
	ipcd_figures(&n->ipcd, "before");
	listener = ipc_test_raw_listen_full("busy", &filler);
	ipc_test_expect_leftover(&n->base, "busy");

	waiting = ipc_test_raw_connect("ipc");
	ipc_test_write_frame(waiting, lookup, sizeof(lookup) - 1);
	g_assert_cmpint(routed_connect(n->base.ctx, ROUTE, "pong", &fd), ==,
			0);
	assert_echoes(n->base.ctx, fd);
	got = raw_reply(waiting);
	g_assert_cmpstr(got, ==,
			"error ETIMEDOUT the protocol service is busy");
	close(waiting);

	/* Room in the backlog: the waiting lookup gets through. */
	waiting = ipc_test_raw_connect("ipc");
	ipc_test_write_frame(waiting, lookup, sizeof(lookup) - 1);
	g_usleep(100 * 1000);
	accepted = accept(listener, NULL, NULL);
	g_assert_no_errno(accepted);
	close(accepted);	/* the filler's */
	g_assert_true(ipc_test_poll(listener, POLLIN, 5000));
	accepted = accept(listener, NULL, NULL);
	g_assert_no_errno(accepted);
	len = ipc_test_read_frame(accepted, uri);
	g_assert_cmpmem(uri->data, len, "busy://h/x", 10);
	ipc_test_write_frame(accepted, "ok", 2);
	g_clear_pointer(&got, g_free);
	got = raw_reply(waiting);
	g_assert_cmpstr(got, ==, "ok");
	close(accepted);
	close(waiting);
	close(filler);
	close(listener);
	ipcd_figures(&n->ipcd, "after");
}

/*
 * The protocol service's longest valid error reply, with an errno name
 * ipcd does not know: forwarded as EPROTO with its text cut to fit the
 * 1 KiB a client reads, never dropped.
 */
static void test_long_unknown_error(struct net *n, gconstpointer data)
{
	static const char lookup[] = "pong;pong fake://h/e2long";
	g_autofree char *got = NULL;
	int fd = ipc_test_raw_connect("ipc");
	size_t i;

	(void)data;
	ipcd_figures(&n->ipcd, "before");
	ipc_test_write_frame(fd, lookup, sizeof(lookup) - 1);
	got = raw_reply(fd);
	close(fd);
	g_assert_cmpuint(strlen(got), ==, REPLY_MAX);
	g_assert_true(g_str_has_prefix(got, "error EPROTO xxx"));
	for (i = strlen("error EPROTO "); i < REPLY_MAX; i++)
		g_assert_cmpint(got[i], ==, 'x');
	/* What ipc_connect_service() makes of it. */
	g_assert_cmpint(routed_connect(n->base.ctx, "pong fake://h/e2long",
				       "pong", &fd), ==, -EPROTO);
	ipcd_figures(&n->ipcd, "after");
	n->log = ipcd_stop(&n->ipcd, SIGTERM);
	g_assert_nonnull(strstr(n->log, ": error EPROTO xxx"));
}

/* A client that sends nothing, or half a lookup, times out alone. */
static void test_client_stalls(struct net *n, gconstpointer data)
{
	int idle = ipc_test_raw_connect("ipc");
	int half = ipc_test_raw_connect("ipc");
	g_autofree char *got1 = NULL, *got2 = NULL;
	int fd;

	(void)data;
	ipc_test_write_all(half, "\0\0\0\x30pong;", 9);
	/* Others are served meanwhile. */
	g_assert_cmpint(routed_connect(n->base.ctx, ROUTE, "pong", &fd), ==,
			0);
	assert_echoes(n->base.ctx, fd);
	got1 = raw_reply(idle);
	got2 = raw_reply(half);
	g_assert_cmpstr(got1, ==, "error ETIMEDOUT no lookup in time");
	g_assert_cmpstr(got2, ==, "error ETIMEDOUT no lookup in time");
	close(idle);
	close(half);
}

/* Clients leaving at each step: ipcd drops them and goes on. */
static void test_client_leaves(struct net *n, gconstpointer data)
{
	int fd;

	(void)data;
	/* Before a byte, inside the header, inside the payload. */
	close(ipc_test_raw_connect("ipc"));
	fd = ipc_test_raw_connect("ipc");
	ipc_test_write_all(fd, "\0\0", 2);
	close(fd);
	fd = ipc_test_raw_connect("ipc");
	ipc_test_write_all(fd, "\0\0\0\x20pong;", 9);
	close(fd);
	/* While ipcd waits for the protocol service. */
	fd = ipc_test_raw_connect("ipc");
	ipc_test_write_frame(fd, "pong;pong fake://h/stall", 24);
	close(fd);

	g_assert_cmpint(routed_connect(n->base.ctx, ROUTE, "pong", &fd), ==,
			0);
	assert_echoes(n->base.ctx, fd);
	n->log = ipcd_stop(&n->ipcd, SIGTERM);
	g_assert_nonnull(strstr(n->log, "pong -> fake://h/stall: client left"));
}

/* Raw lookups, all sent before any reply is read: all served. */
static void test_parallel(struct net *n, gconstpointer data)
{
	static const char lookup[] = "pong;" ROUTE;
	int fds[PARALLEL], conns[PARALLEL];
	g_autoptr(GByteArray) frame = g_byte_array_new();
	char buf[8];
	int i;

	(void)n;
	(void)data;
	for (i = 0; i < PARALLEL; i++) {
		fds[i] = ipc_test_raw_connect("ipc");
		ipc_test_write_frame(fds[i], lookup, sizeof(lookup) - 1);
	}
	for (i = 0; i < PARALLEL; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} control;
		struct iovec iov = { buf, 6 };
		struct msghdr msg = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = control.buf,
			.msg_controllen = sizeof(control.buf),
		};
		struct cmsghdr *cmsg;

		g_assert_cmpint(recvmsg(fds[i], &msg, MSG_WAITALL |
					MSG_CMSG_CLOEXEC), ==, 6);
		g_assert_cmpmem(buf, 6, "\0\0\0\2ok", 6);
		cmsg = CMSG_FIRSTHDR(&msg);
		g_assert_nonnull(cmsg);
		g_assert_cmpint(cmsg->cmsg_type, ==, SCM_RIGHTS);
		memcpy(&conns[i], CMSG_DATA(cmsg), sizeof(int));
		ipc_test_assert_eof(fds[i]);
		close(fds[i]);
	}
	for (i = 0; i < PARALLEL; i++) {
		char payload[16];

		g_snprintf(payload, sizeof(payload), "conn %d", i);
		/* Made non-blocking by ipcd; this test reads blocking. */
		g_assert_no_errno(fcntl(conns[i], F_SETFL, 0));
		ipc_test_write_frame(conns[i], payload,
				     (guint32)strlen(payload));
	}
	for (i = 0; i < PARALLEL; i++) {
		char payload[16];

		g_snprintf(payload, sizeof(payload), "conn %d", i);
		g_assert_cmpint(ipc_test_read_frame(conns[i], frame), ==,
				strlen(payload));
		g_assert_cmpmem(frame->data, frame->len, payload,
				strlen(payload));
		close(conns[i]);
	}
}

/* SIGINT too; clients in the middle of a lookup do not hold ipcd. */
static void test_stop_busy(struct net *n, gconstpointer data)
{
	int idle = ipc_test_raw_connect("ipc");
	int waiting = ipc_test_raw_connect("ipc");
	int fd;

	(void)data;
	ipc_test_write_frame(waiting, "pong;pong fake://h/stall", 24);
	g_assert_cmpint(routed_connect(n->base.ctx, ROUTE, "pong", &fd), ==,
			0);
	n->log = ipcd_stop(&n->ipcd, SIGINT);
	ipc_test_assert_eof(idle);
	ipc_test_assert_eof(waiting);
	close(idle);
	close(waiting);
}

/* ------------------------------------------------------------------ */
/* No ipcd, a stalled one, a lying one                                  */
/* ------------------------------------------------------------------ */

/* No ipcd, or a stale socket: the local path. */
static void test_no_ipcd(struct ipc_test_fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int svc = ipc_test_service_init(f->ctx, "pong");
	int fd, stale, round;

	(void)data;
	for (round = 0; round < 2; round++) {
		if (round == 1) {
			/* A socket nobody listens on any more. */
			stale = ipc_test_raw_listen("ipc");
			close(stale);
			ipc_test_expect_leftover(f, "ipc");
		}
		g_assert_cmpint(routed_connect(f->ctx, ROUTE, "pong", &fd), ==,
				0);
		ipc_test_wait_for(f->ctx, CONNECTION, &ev);
		g_assert_cmpint(ev.fd, ==, svc);
		g_assert_cmpint(ipc_close_fd(f->ctx, ev.newfd), ==, 0);
		g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	}
	g_assert_cmpint(ipc_close_fd(f->ctx, svc), ==, 0);
	g_unsetenv("IPC_NETWORK");
}

#define BACKLOG_FILL 256

/* Non-blocking connects to "ipc" until one would wait; -1 after them. */
static void fill_backlog(struct ipc_test_fixture *f, int *fds)
{
	g_autofree char *path = ipc_test_path(f, "ipc");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int i;

	g_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	for (i = 0; i < BACKLOG_FILL; i++) {
		fds[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
				SOCK_CLOEXEC, 0);
		g_assert_no_errno(fds[i]);
		if (connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			g_assert_cmpint(errno, ==, EAGAIN);
			close(fds[i]);
			fds[i] = -1;
			return;
		}
	}
	g_assert_not_reached();
}

/* An "ipc" that accepts nothing and says nothing: bounded by the limit. */
static void test_ipcd_stalled(struct ipc_test_fixture *f, gconstpointer data)
{
	int listener = ipc_test_raw_listen("ipc");
	int fillers[BACKLOG_FILL];
	int fd = -1, i;

	(void)data;
	g_assert_true(g_setenv("IPC_LOOKUP_TIMEOUT_MS", "200", TRUE));
	g_assert_cmpint(routed_connect(f->ctx, ROUTE, "pong", &fd), ==,
			-ETIMEDOUT);
	g_assert_cmpint(fd, ==, -1);
	/* Its backlog full: the connect itself waits, bounded. */
	fill_backlog(f, fillers);
	g_assert_cmpint(routed_connect(f->ctx, ROUTE, "pong", &fd), ==,
			-ETIMEDOUT);
	g_assert_cmpint(fd, ==, -1);
	for (i = 0; i < BACKLOG_FILL && fillers[i] >= 0; i++)
		close(fillers[i]);
	g_unsetenv("IPC_LOOKUP_TIMEOUT_MS");
	g_unsetenv("IPC_NETWORK");
	close(listener);
	ipc_test_expect_leftover(f, "ipc");
}

/* What the fake ipcd sends back: the reply and the fds with it. */
struct liar {
	const char *name;
	const char *reply;	/* NULL: close without a reply */
	guint32 announce;	/* header length, 0 for the reply's own */
	int nfds;		/* socket fds sent with the reply */
	bool pipe;		/* send a pipe instead */
	int expect;
	size_t pad;		/* reply padded with 'x' to this length */
};

static void send_with_fds(int fd, const void *buf, size_t len,
			  const int *fds, int nfds)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} control;
	struct iovec iov = { (void *)buf, len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	if (nfds) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
		memcpy(CMSG_DATA(cmsg), fds, (size_t)nfds * sizeof(int));
	}
	g_assert_cmpint(sendmsg(fd, &msg, MSG_NOSIGNAL), ==, (ssize_t)len);
}

/* The fake ipcd's go-ahead, once it listens. */
static int liar_ready[2];

static void liar_child(void *arg)
{
	const struct liar *l = arg;
	g_autoptr(GByteArray) lookup = g_byte_array_new();
	g_autoptr(GByteArray) out = g_byte_array_new();
	int listener = ipc_test_raw_listen("ipc");
	int fds[2] = { -1, -1 }, c;
	ssize_t n;
	char byte;

	ipc_test_notify(liar_ready[1]);
	c = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	g_assert_no_errno(c);
	ipc_test_read_frame(c, lookup);
	g_assert_cmpmem(lookup->data, lookup->len, "pong;" ROUTE,
			sizeof("pong;" ROUTE) - 1);
	if (l->pipe)
		g_assert_no_errno(pipe2(fds, O_CLOEXEC));
	else if (l->nfds)
		g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM |
					     SOCK_CLOEXEC, 0, fds));
	if (l->reply) {
		size_t len = MAX(strlen(l->reply), l->pad);
		g_autofree char *reply = g_malloc(len);

		memset(reply, 'x', len);
		memcpy(reply, l->reply, strlen(l->reply));
		ipc_test_append_frame(out, reply, (guint32)len);
		if (l->announce) {
			guint32 be = GUINT32_TO_BE(l->announce);

			memcpy(out->data, &be, sizeof(be));
		}
		/* A frame the client must not read: sent with the reply. */
		ipc_test_append_frame(out, "extra", 5);
		send_with_fds(c, out->data, out->len, fds,
			      l->pipe ? 1 : l->nfds);
	}
	/* What was sent is the client's alone now. */
	if (fds[0] >= 0)
		close(fds[0]);
	if (l->nfds == 2)
		fds[1] = -1;
	if (l->expect == 0) {
		/* The client holds the other end: talk on it. */
		ipc_test_write_frame(fds[1], "hi", 2);
	}
	/*
	 * Until the client closes what it got; closing with "extra" unread
	 * (as it must) resets the connection.
	 */
	n = l->reply ? read(l->expect == 0 ? fds[1] : c, &byte, 1) : 0;
	g_assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
	if (fds[1] >= 0)
		close(fds[1]);
	close(c);
	close(listener);
}

static void test_liar(struct ipc_test_fixture *f, gconstpointer data)
{
	const struct liar *l = data;
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autofree char *path = ipc_test_path(f, "ipc");
	int fd = -1;
	pid_t pid;

	ipc_test_pipe(liar_ready);
	pid = ipc_test_fork(liar_child, (void *)l);
	ipc_test_wait_notify(liar_ready[0]);
	close(liar_ready[0]);
	close(liar_ready[1]);
	g_assert_cmpint(routed_connect(f->ctx, ROUTE, "pong", &fd), ==,
			l->expect);
	if (l->expect == 0) {
		ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
		ipc_test_assert_message(&ev, ev.index, fd, "hi", 2);
		g_assert_cmpint(ipc_close_fd(f->ctx, fd), ==, 0);
	} else {
		g_assert_cmpint(fd, ==, -1);
	}
	ipc_test_reap(pid);
	g_assert_no_errno(unlink(path));
	g_unsetenv("IPC_NETWORK");
}

static const struct liar liars[] = {
	{ "ok-fd", "ok", 0, 1, false, 0 },
	{ "error-with-fd", "error EACCES no", 0, 1, false, -EACCES },
	{ "error", "error ENOENT", 0, 0, false, -ENOENT },
	{ "ok-no-fd", "ok", 0, 0, false, -EPROTO },
	{ "ok-two-fds", "ok", 0, 2, false, -EPROTO },
	{ "ok-pipe", "ok", 0, 0, true, -EPROTO },
	{ "garbage", "yes", 0, 1, false, -EPROTO },
	{ "oversized", "ok", 1u << 20, 1, false, -EPROTO },
	/* The longest reply a client takes, and one byte more. */
	{ "longest", "error EACCES ", 0, 0, false, -EACCES, 1024 },
	{ "too-long", "error EACCES ", 0, 0, false, -EPROTO, 1025 },
	{ "close", NULL, 0, 0, false, -EPROTO },
};

/* ------------------------------------------------------------------ */
/* The command line                                                     */
/* ------------------------------------------------------------------ */

static int ipcd_run(const char *const *args, char **out)
{
	g_autofree char *path = g_test_build_filename(G_TEST_BUILT, "bin",
						      "ipcd", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	GError *error = NULL;
	int status;

	g_ptr_array_add(argv, path);
	for (; *args; args++)
		g_ptr_array_add(argv, (char *)*args);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL, (char **)argv->pdata, NULL, G_SPAWN_DEFAULT, NULL,
		     NULL, out, NULL, &status, &error);
	g_assert_no_error(error);
	g_assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_command_line(struct ipc_test_fixture *f, gconstpointer data)
{
	static const char *const help[] = { "--help", NULL };
	static const char *const version[] = { "--version", NULL };
	static const char *const bad[][3] = {
		{ "--client-timeout=0", NULL }, { "--service-timeout=x", NULL },
		{ "--client-timeout=-5", NULL }, { "--nope", NULL },
		{ "extra", NULL },
	};
	g_autofree char *out = NULL;
	g_autofree char *log = NULL;
	struct ipcd d;
	size_t i;

	(void)data;
	g_assert_cmpint(ipcd_run(help, &out), ==, 0);
	g_assert_true(g_str_has_prefix(out, "Usage: ipcd"));
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(ipcd_run(version, &out), ==, 0);
	g_assert_true(g_str_has_prefix(out, "ipcd (libipc) "));
	for (i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_clear_pointer(&out, g_free);
		g_assert_cmpint(ipcd_run(bad[i], &out), ==, 2);
	}
	/* A second ipcd in the same run directory. */
	ipcd_start(&d, NULL);
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(ipcd_run((const char *const[]){ NULL }, &out), ==, 1);
	log = ipcd_stop(&d, SIGTERM);
	(void)f;
}

int main(int argc, char **argv)
{
	size_t i;

	ipc_test_init(&argc, &argv);
	NET_ADD("/ipc/ipcd/routed/echo", test_routed_echo, NULL);
	NET_ADD("/ipc/ipcd/routed/handover", test_routed_handover, NULL);
	NET_ADD("/ipc/ipcd/routed/bytes-after-ok", test_routed_bytes_after_ok,
		NULL);
	NET_ADD("/ipc/ipcd/routed/peer-gone", test_routed_peer_gone, NULL);
	NET_ADD("/ipc/ipcd/routed/errors", test_routed_errors, NULL);
	NET_ADD("/ipc/ipcd/routed/long-rules", test_routed_long_rules, NULL);
	NET_ADD("/ipc/ipcd/routed/service-stalls", test_routed_service_stalls,
		short_limits);
	NET_ADD("/ipc/ipcd/routed/long-unknown-error",
		test_long_unknown_error, NULL);
	NET_ADD("/ipc/ipcd/routed/service-busy", test_routed_service_busy,
		short_limits);
	NET_ADD("/ipc/ipcd/local-paths", test_local_paths, NULL);
	NET_ADD("/ipc/ipcd/garbage-lookups", test_garbage_lookups, NULL);
	NET_ADD("/ipc/ipcd/client-stalls", test_client_stalls, short_limits);
	NET_ADD("/ipc/ipcd/client-leaves", test_client_leaves, NULL);
	NET_ADD("/ipc/ipcd/parallel", test_parallel, NULL);
	NET_ADD("/ipc/ipcd/stop-busy", test_stop_busy, NULL);
	IPC_TEST_ADD("/ipc/ipcd/no-ipcd", test_no_ipcd, NULL);
	IPC_TEST_ADD("/ipc/ipcd/ipcd-stalled", test_ipcd_stalled, NULL);
	for (i = 0; i < G_N_ELEMENTS(liars); i++) {
		g_autofree char *path = g_strdup_printf("/ipc/ipcd/liar/%s",
							liars[i].name);

		IPC_TEST_ADD(path, test_liar, &liars[i]);
	}
	IPC_TEST_ADD("/ipc/ipcd/command-line", test_command_line, NULL);
	return g_test_run();
}
