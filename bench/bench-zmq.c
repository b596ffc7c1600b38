/*
 * ipc-bench - ZeroMQ over ipc://: REQ/REP ping-pong, PUSH/PULL streams.
 *
 * SPDX-License-Identifier: ISC
 *
 * Built only when configure found libzmq.  ZeroMQ sockets do not report
 * their peers leaving, so a client ends with a marker message (see
 * marker_len()) and waits on the done pipe before it closes.
 */

#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

/* A blocked receive looks at the stop pipe this often (ms). */
#define RECV_TIMEOUT_MS 500

struct zsock {
	const struct run *r;
	void *ctx;
	void **socks;
	unsigned int n;
	char *buf;
	size_t cap;
};

static int zfail(struct result *res, const char *what)
{
	int err = zmq_errno();

	return fail(res, -err, "zmq %s: %s", what, zmq_strerror(err));
}

/* A context and @n sockets of @type, bound or connected to r->url. */
static int zopen(struct zsock *z, const struct run *r, struct result *res,
		 int type, unsigned int n, bool bind)
{
	int timeout = RECV_TIMEOUT_MS;
	unsigned int i;

	z->r = r;
	z->cap = r->size + 1;
	z->buf = xmalloc(z->cap);
	memset(z->buf, 0, z->cap);
	z->socks = calloc(n, sizeof(*z->socks));
	z->ctx = zmq_ctx_new();
	if (!z->ctx || !z->socks)
		return zfail(res, "context");
	raise_nofile(2 * n + 64, "a ZeroMQ client");
	zmq_ctx_set(z->ctx, ZMQ_MAX_SOCKETS, (int)n + 16);
	if (bind)
		unlink(r->path);
	for (i = 0; i < n; i++) {
		z->socks[i] = zmq_socket(z->ctx, type);
		if (!z->socks[i])
			return zfail(res, "socket");
		z->n = i + 1;
		zmq_setsockopt(z->socks[i], ZMQ_RCVTIMEO, &timeout,
			       sizeof(timeout));
		if ((bind ? zmq_bind : zmq_connect)(z->socks[i], r->url) < 0)
			return zfail(res, bind ? "bind" : "connect");
	}
	return 0;
}

static void zclose(struct zsock *z)
{
	int linger = 0;
	unsigned int i;

	for (i = 0; i < z->n; i++) {
		zmq_setsockopt(z->socks[i], ZMQ_LINGER, &linger,
			       sizeof(linger));
		zmq_close(z->socks[i]);
	}
	if (z->ctx)
		zmq_ctx_term(z->ctx);
	free(z->socks);
	free(z->buf);
}

/*
 * Receives one message into z->buf: its length, or -errno (-ESHUTDOWN
 * once the driver said stop: the peer is gone without a word).
 */
static int zrecv(struct zsock *z, void *sock)
{
	int n;

	for (;;) {
		n = zmq_recv(sock, z->buf, z->cap, 0);
		if (n >= 0 || (zmq_errno() != EINTR && zmq_errno() != EAGAIN))
			break;
		if (zmq_errno() == EAGAIN && stop_requested(z->r))
			return -ESHUTDOWN;
	}
	if (n < 0)
		return -zmq_errno();
	return (size_t)n > z->cap ? -EMSGSIZE : n;
}

static int zsend(void *sock, const char *p, size_t len)
{
	while (zmq_send(sock, p, len, 0) < 0)
		if (zmq_errno() != EINTR)
			return -zmq_errno();
	return 0;
}

int bench_zmq_echo(const struct run *r, struct result *res)
{
	struct zsock z = { 0 };
	int n;

	if (zopen(&z, r, res, ZMQ_REP, 1, true) == 0) {
		ready_send(r, 'R');
		while ((n = zrecv(&z, z.socks[0])) >= 0 &&
		       (size_t)n != marker_len(r->size)) {
			if (zsend(z.socks[0], z.buf, (size_t)n) < 0)
				break;
			res->msgs++;
		}
		if (n < 0)
			fail(res, n, "zmq_recv: %s", zmq_strerror(-n));
		done_send(r);
		stop_wait(r);
	}
	zclose(&z);
	unlink(r->path);
	return res->err;
}

static int req_roundtrip(void *arg, const char *msg, size_t len,
			 const char **reply, size_t *rlen)
{
	struct zsock *z = arg;
	int ret;

	ret = zsend(z->socks[0], msg, len);
	if (ret < 0)
		return ret;
	ret = zrecv(z, z->socks[0]);
	if (ret < 0)
		return ret;
	*reply = z->buf;
	*rlen = (size_t)ret;
	return 0;
}

int bench_zmq_client(const struct run *r, struct result *res)
{
	struct zsock z = { 0 };
	char marker[1] = { 0 };

	if (zopen(&z, r, res, ZMQ_REQ, 1, false) == 0 &&
	    ready_send(r, 'R') == 0 && go_wait(r) == 0 &&
	    pingpong_run(r, res, req_roundtrip, &z) == 0) {
		if (zsend(z.socks[0], marker, marker_len(r->size)) == 0)
			done_wait(r);
	}
	zclose(&z);
	return res->err;
}

int bench_zmq_sink(const struct run *r, struct result *res)
{
	struct zsock z = { 0 };
	struct sink sink;
	int n = 0;

	sink_init(&sink, r, res);
	if (zopen(&z, r, res, ZMQ_PULL, 1, true) == 0) {
		res->rss_start_kib = rss_peak_kib();
		ready_send(r, 'R');
		while (!sink.done && (n = zrecv(&z, z.socks[0])) >= 0 &&
		       sink_take(&sink, SINK_ANONYMOUS, z.buf, (size_t)n) >= 0)
			;
		if (n < 0)
			fail(res, n, "zmq_recv: %s", zmq_strerror(-n));
		res->rss_peak_kib = rss_peak_kib();
	}
	done_send(r);
	sink_report(&sink);
	stop_wait(r);
	zclose(&z);
	unlink(r->path);
	return res->err;
}

static int push_send(void *arg, unsigned int conn, const char *payload,
			   size_t len)
{
	struct zsock *z = arg;

	return zsend(z->socks[conn], payload, len);
}

int bench_zmq_sender(const struct run *r, struct result *res)
{
	static const struct sender_ops ops = { .send = push_send };
	struct zsock z = { 0 };

	if (zopen(&z, r, res, ZMQ_PUSH, r->nconns, false) == 0 &&
	    ready_send(r, 'R') == 0 && go_wait(r) == 0) {
		if (stream_run(r, res, &ops, &z) == 0)
			done_wait(r);
		res->rss_peak_kib = rss_peak_kib();
	}
	zclose(&z);
	return res->err;
}
