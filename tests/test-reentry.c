/*
 * libipc tests: switch callbacks that call back into the library.
 *
 * A switch relays side A (a socketpair end with raw input and output
 * callbacks) and side B (a socketpair end speaking the libipc framing).
 * One message goes through, from A to B (the input callback runs) or from
 * B to A (the output callback runs), and that callback calls one library
 * function on the context, as a protocol service would: open connections
 * (the connection table grows and moves), close its own fd or the other
 * side's, close everything, wait, free the context, write elsewhere, read,
 * change callbacks, switch other fds.  What ipc_set_switch_callbacks(3)
 * promises must hold, the relay must keep its state, and under ASan (CI)
 * nothing may touch freed memory.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define NAME "reentry"
/* Enough new slots to move the table at least twice (16 -> 64). */
#define MANY 40

enum action {
	ACT_CONNECT,		/* ipc_connect_service(), MANY times */
	ACT_SERVICE,		/* ipc_service_init() */
	ACT_EXTERNAL,		/* ipc_add_external(), MANY times */
	ACT_CLOSE_SELF,		/* ipc_close_fd() of the callback's fd */
	ACT_CLOSE_INDEX,	/* ipc_close() of the callback's own index */
	ACT_CLOSE_PEER,		/* ipc_close_fd() of the other side */
	ACT_CLOSE_ALL,		/* ipc_close_all() */
	ACT_WAIT,		/* ipc_wait_event(): -EBUSY */
	ACT_DEINIT,		/* ipc_context_deinit(): does nothing */
	ACT_SEND,		/* ipc_schedule() and ipc_write() elsewhere */
	ACT_READ,		/* ipc_read_fd() and ipc_read() */
	ACT_CALLBACKS,		/* ipc_set_switch_callbacks(fd, NULL, NULL) */
	ACT_SWITCH,		/* ipc_add_switch() of two other fds */
	ACT_SETTINGS,		/* timer, limits, credentials */
};

struct reentry_case {
	enum action action;
	gboolean in;		/* the input callback acts, else the output */
};

/* What the callbacks see: they reach the context as programs do. */
static struct {
	void *ctx;
	const struct reentry_case *c;
	int a, b;		/* the switched fds */
	int a_peer;		/* the other end of A's socketpair */
	int client, served;	/* a libipc connection of the context */
	size_t a_index;		/* A's index, for ipc_close() and ipc_read() */
	gboolean armed;		/* the next callback acts */
	gboolean acted;
	int opened[MANY + 4];	/* fds the action added */
	int n_opened;
} cb;

static void opened(int fd)
{
	g_assert_cmpint(cb.n_opened, <, (int)G_N_ELEMENTS(cb.opened));
	cb.opened[cb.n_opened++] = fd;
}

static void add_pipe(void)
{
	int p[2];

	g_assert_no_errno(pipe(p));
	g_assert_cmpint(ipc_add_external(cb.ctx, p[0]), ==, 0);
	opened(p[1]);
}

/* Runs the case's action from the callback of @fd; returns what the
 * callback returns. */
static char act(int fd)
{
	const char *name2 = NAME "-2";
	char type, buf[16];
	size_t index, len = sizeof(buf);
	int i, fd2, newfd, pair1[2], pair2[2];
	void *copy = cb.ctx;
	pid_t pid;
	uid_t uid;
	gid_t gid;

	cb.acted = TRUE;
	switch (cb.c->action) {
	case ACT_CONNECT:
		for (i = 0; i < MANY; i++) {
			fd2 = ipc_test_connect(cb.ctx, NAME);
			g_assert_cmpint(fd2, >=, 0);
		}
		break;
	case ACT_SERVICE:
		g_assert_cmpint(ipc_service_init(cb.ctx, &fd2, name2,
						 (uint16_t)strlen(name2)), ==, 0);
		break;
	case ACT_EXTERNAL:
		for (i = 0; i < MANY; i++)
			add_pipe();
		break;
	case ACT_CLOSE_SELF:
		g_assert_cmpint(ipc_close_fd(cb.ctx, fd), ==, 0);
		/* At end of file a callback returns CB_FD_CLOSING. */
		return cb.c->in ? CB_FD_CLOSING : CB_NO_ERROR;
	case ACT_CLOSE_INDEX:
		g_assert_cmpint(ipc_close(cb.ctx, cb.a_index), ==, 0);
		return cb.c->in ? CB_FD_CLOSING : CB_NO_ERROR;
	case ACT_CLOSE_PEER:
		g_assert_cmpint(ipc_close_fd(cb.ctx, fd == cb.a ? cb.b : cb.a),
				==, 0);
		break;
	case ACT_CLOSE_ALL:
		g_assert_cmpint(ipc_close_all(cb.ctx), ==, 0);
		break;
	case ACT_WAIT:
		g_assert_cmpint(ipc_wait_event(cb.ctx, &type, &index, &fd2,
					       &newfd, buf, &len), ==, -EBUSY);
		g_assert_cmpint(type, ==, ERROR);
		break;
	case ACT_DEINIT:
		ipc_context_deinit(&copy);
		g_assert_true(copy == cb.ctx);
		break;
	case ACT_SEND:
		g_assert_cmpint(ipc_schedule(cb.ctx, cb.client, "one", 3), ==,
				0);
		g_assert_cmpint(ipc_write(cb.ctx, cb.client, "two", 3), ==, 0);
		break;
	case ACT_READ:
		g_assert_cmpint(ipc_read_fd(cb.ctx, fd, buf, &len), ==,
				-EINVAL);
		len = sizeof(buf);
		g_assert_cmpint(ipc_read(cb.ctx, cb.a_index, buf, &len), ==,
				-EINVAL);
		break;
	case ACT_CALLBACKS:
		g_assert_cmpint(ipc_set_switch_callbacks(cb.ctx, fd, NULL,
							 NULL), ==, 0);
		break;
	case ACT_SWITCH:
		g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM |
					     SOCK_CLOEXEC, 0, pair1));
		g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM |
					     SOCK_CLOEXEC, 0, pair2));
		g_assert_cmpint(ipc_add_external(cb.ctx, pair1[0]), ==, 0);
		g_assert_cmpint(ipc_add_external(cb.ctx, pair2[0]), ==, 0);
		g_assert_cmpint(ipc_add_switch(cb.ctx, pair1[0], pair2[0]), ==,
				0);
		opened(pair1[1]);
		opened(pair2[1]);
		break;
	case ACT_SETTINGS:
		ipc_context_timer(cb.ctx, 50);
		g_assert_cmpint(ipc_context_max_message_size(cb.ctx,
				IPC_MAX_MESSAGE_SIZE_DEFAULT), ==, 0);
		g_assert_cmpint(ipc_context_queue_limits(cb.ctx,
				IPC_QUEUE_HIGH_WATER_DEFAULT,
				IPC_QUEUE_MAX_DEFAULT), ==, 0);
		g_assert_cmpint(ipc_peer_credentials(cb.ctx, cb.client, &pid,
						     &uid, &gid), ==, 0);
		g_assert_cmpint(pid, ==, getpid());
		break;
	}
	return CB_NO_ERROR;
}

static char cb_in(int fd, char *payload, size_t *mlen)
{
	ssize_t n = read(fd, payload, *mlen);

	if (n == 0)
		return CB_FD_CLOSING;
	if (n < 0)
		return errno == EAGAIN ? CB_IGNORE : CB_ERROR;
	*mlen = (size_t)n;
	if (cb.c->in && cb.armed && !cb.acted)
		return act(fd);
	return CB_NO_ERROR;
}

static char cb_out(int fd, const char *payload, size_t mlen)
{
	ipc_test_write_all(fd, payload, mlen);
	if (!cb.c->in && cb.armed && !cb.acted)
		return act(fd);
	return CB_NO_ERROR;
}

/* What the loop saw. */
struct seen {
	int gone_a, gone_b;	/* DISCONNECTION events */
	guint served_rx;	/* messages the served connection got */
};

/* Runs the loop until two timer ticks came after the action. */
static void run(void *ctx, struct seen *s)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int ticks = 0;

	ipc_context_timer(ctx, 100);
	while (ticks < 2) {
		ipc_test_next_event(ctx, &ev);
		if (ev.type == TIMER && cb.acted) {
			ticks++;
			ipc_context_timer(ctx, 100);
		} else if (ev.type == DISCONNECTION && ev.fd == cb.a) {
			s->gone_a++;
		} else if (ev.type == DISCONNECTION && ev.fd == cb.b) {
			s->gone_b++;
		} else if (ev.type == MESSAGE_RX && ev.fd == cb.served) {
			s->served_rx++;
		} else if (ev.type == CONNECTION) {
			g_assert_cmpint(ev.newfd, >=, 0);
		}
	}
}

/* One message from A to B before the case: A's index from its
 * SWITCH_RX. */
static void warm_up(void *ctx, int b_peer)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) frame = g_byte_array_new();

	ipc_test_write_all(cb.a_peer, "warm", 4);
	ipc_test_wait_for(ctx, SWITCH_RX, &ev);
	g_assert_cmpint(ev.fd, ==, cb.a);
	cb.a_index = ev.index;
	ipc_test_wait_for(ctx, SWITCH_TX, &ev);
	g_assert_cmpint(ev.fd, ==, cb.b);
	g_assert_cmpuint(ipc_test_read_frame(b_peer, frame), ==, 4);
	g_assert_cmpmem(frame->data, frame->len, "warm", 4);
}

static gboolean is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_reentry(Fixture *f, gconstpointer data)
{
	const struct reentry_case *c = data;
	g_autoptr(GByteArray) frame = g_byte_array_new();
	struct seen s = { 0 };
	int svc, pa[2], pb[2], i;
	gboolean closes_a, closes_b, all;
	char buf[16];

	memset(&cb, 0, sizeof(cb));
	cb.ctx = f->ctx;
	cb.c = c;
	svc = ipc_test_service_init(f->ctx, NAME);
	cb.client = ipc_test_connect(f->ctx, NAME);
	cb.served = ipc_test_accept(f->ctx, svc, NULL);
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     pa));
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				     pb));
	cb.a = pa[0];
	cb.b = pb[0];
	cb.a_peer = pa[1];
	g_assert_cmpint(ipc_add_external(f->ctx, cb.a), ==, 0);
	g_assert_cmpint(ipc_add_external(f->ctx, cb.b), ==, 0);
	g_assert_cmpint(ipc_add_switch(f->ctx, cb.a, cb.b), ==, 0);
	g_assert_cmpint(ipc_set_switch_callbacks(f->ctx, cb.a, cb_in, cb_out),
			==, 0);
	warm_up(f->ctx, pb[1]);
	cb.armed = TRUE;
	if (c->in)
		ipc_test_write_all(pa[1], "ping", 4);
	else
		ipc_test_write_frame(pb[1], "pong", 4);
	run(f->ctx, &s);
	g_assert_true(cb.acted);

	all = c->action == ACT_CLOSE_ALL;
	/* Both callbacks are A's: its own fd is A, the other side B. */
	closes_a = all || c->action == ACT_CLOSE_SELF ||
		   c->action == ACT_CLOSE_INDEX;
	closes_b = all || c->action == ACT_CLOSE_PEER ||
		   ((c->action == ACT_CLOSE_SELF ||
		     c->action == ACT_CLOSE_INDEX) && c->in);
	/* The message went through, unless the input callback closed its
	 * fd (CB_FD_CLOSING: nothing to forward). */
	if (c->in && !(closes_a && closes_b && !all)) {
		g_assert_cmpuint(ipc_test_read_frame(pb[1], frame), ==, 4);
		g_assert_cmpmem(frame->data, frame->len, "ping", 4);
	} else if (!c->in) {
		ipc_test_read_all(pa[1], buf, 4);
		g_assert_cmpmem(buf, 4, "pong", 4);
	}
	/* CB_FD_CLOSING closes both sides, each reported once; a close by
	 * the program is not reported. */
	if (c->in && (c->action == ACT_CLOSE_SELF ||
		      c->action == ACT_CLOSE_INDEX)) {
		g_assert_cmpint(s.gone_a, ==, 1);
		g_assert_cmpint(s.gone_b, ==, 1);
	} else {
		g_assert_cmpint(s.gone_a, ==, 0);
		g_assert_cmpint(s.gone_b, ==, 0);
	}
	g_assert_true(is_open(cb.a) == !closes_a);
	g_assert_true(is_open(cb.b) == !closes_b);
	if (c->action == ACT_SEND)
		g_assert_cmpuint(s.served_rx, ==, 2);
	if (all) {
		g_assert_false(is_open(svc));
		g_assert_false(is_open(cb.client));
	}
	for (i = 0; i < cb.n_opened; i++)
		close(cb.opened[i]);
	close(pa[1]);
	close(pb[1]);
}

#define CASE(name, act, dir)                                                \
	static const struct reentry_case name = { act, dir }

CASE(connect_in, ACT_CONNECT, TRUE);
CASE(connect_out, ACT_CONNECT, FALSE);
CASE(service_in, ACT_SERVICE, TRUE);
CASE(service_out, ACT_SERVICE, FALSE);
CASE(external_in, ACT_EXTERNAL, TRUE);
CASE(external_out, ACT_EXTERNAL, FALSE);
CASE(close_self_in, ACT_CLOSE_SELF, TRUE);
CASE(close_self_out, ACT_CLOSE_SELF, FALSE);
CASE(close_index_in, ACT_CLOSE_INDEX, TRUE);
CASE(close_index_out, ACT_CLOSE_INDEX, FALSE);
CASE(close_peer_in, ACT_CLOSE_PEER, TRUE);
CASE(close_peer_out, ACT_CLOSE_PEER, FALSE);
CASE(close_all_in, ACT_CLOSE_ALL, TRUE);
CASE(close_all_out, ACT_CLOSE_ALL, FALSE);
CASE(wait_in, ACT_WAIT, TRUE);
CASE(wait_out, ACT_WAIT, FALSE);
CASE(deinit_in, ACT_DEINIT, TRUE);
CASE(deinit_out, ACT_DEINIT, FALSE);
CASE(send_in, ACT_SEND, TRUE);
CASE(send_out, ACT_SEND, FALSE);
CASE(read_in, ACT_READ, TRUE);
CASE(read_out, ACT_READ, FALSE);
CASE(callbacks_in, ACT_CALLBACKS, TRUE);
CASE(callbacks_out, ACT_CALLBACKS, FALSE);
CASE(switch_in, ACT_SWITCH, TRUE);
CASE(switch_out, ACT_SWITCH, FALSE);
CASE(settings_in, ACT_SETTINGS, TRUE);
CASE(settings_out, ACT_SETTINGS, FALSE);

#define ADD(path, c) IPC_TEST_ADD("/ipc/reentry/" path, test_reentry, &c)

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	ADD("in/connect", connect_in);
	ADD("out/connect", connect_out);
	ADD("in/service", service_in);
	ADD("out/service", service_out);
	ADD("in/external", external_in);
	ADD("out/external", external_out);
	ADD("in/close-self", close_self_in);
	ADD("out/close-self", close_self_out);
	ADD("in/close-index", close_index_in);
	ADD("out/close-index", close_index_out);
	ADD("in/close-peer", close_peer_in);
	ADD("out/close-peer", close_peer_out);
	ADD("in/close-all", close_all_in);
	ADD("out/close-all", close_all_out);
	ADD("in/wait", wait_in);
	ADD("out/wait", wait_out);
	ADD("in/deinit", deinit_in);
	ADD("out/deinit", deinit_out);
	ADD("in/send", send_in);
	ADD("out/send", send_out);
	ADD("in/read", read_in);
	ADD("out/read", read_out);
	ADD("in/callbacks", callbacks_in);
	ADD("out/callbacks", callbacks_out);
	ADD("in/switch", switch_in);
	ADD("out/switch", switch_out);
	ADD("in/settings", settings_in);
	ADD("out/settings", settings_out);
	return g_test_run();
}
