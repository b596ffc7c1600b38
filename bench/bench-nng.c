/*
 * ipc-bench - nng over ipc://: req0/rep0 ping-pong, push0/pull0 streams.
 *
 * SPDX-License-Identifier: ISC
 *
 * Built only when configure found nng.  As with ZeroMQ, a client ends
 * with a marker message and waits on the done pipe before it closes (nng
 * may drop what a closed socket had not sent yet).  The listening side
 * closes only once the driver says stop, after the clients closed: nng
 * 1.5 dialers whose listener went away redial in a loop that leaks a
 * socket per attempt, and hundreds of them took nng_close() minutes.
 */

#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

/* A blocked receive looks at the stop pipe this often (ms). */
#define RECV_TIMEOUT_MS 500

struct nsock {
	const struct run *r;
	nng_socket *socks;
	unsigned int n;
	char *buf;
	size_t cap;
};

static int nfail(struct result *res, const char *what, int rv)
{
	return fail(res, -EPROTO, "nng %s: %s", what, nng_strerror(rv));
}

/* @n sockets made by @open, listening or dialled on r->url. */
static int nopen(struct nsock *ns, const struct run *r, struct result *res,
		 int (*open)(nng_socket *), unsigned int n, bool listen)
{
	unsigned int i;
	int rv;

	ns->r = r;
	ns->cap = r->size + 1;
	ns->buf = xmalloc(ns->cap);
	memset(ns->buf, 0, ns->cap);
	ns->socks = calloc(n, sizeof(*ns->socks));
	if (!ns->socks)
		return fail(res, -ENOMEM, "out of memory");
	raise_nofile(2 * n + 64, "an nng client");
	if (listen)
		unlink(r->path);
	for (i = 0; i < n; i++) {
		rv = open(&ns->socks[i]);
		if (rv)
			return nfail(res, "open", rv);
		ns->n = i + 1;
		nng_socket_set_size(ns->socks[i], NNG_OPT_RECVMAXSZ, 0);
		nng_socket_set_ms(ns->socks[i], NNG_OPT_RECVTIMEO,
				  RECV_TIMEOUT_MS);
		rv = listen ? nng_listen(ns->socks[i], r->url, NULL, 0) :
			      nng_dial(ns->socks[i], r->url, NULL, 0);
		if (rv)
			return nfail(res, listen ? "listen" : "dial", rv);
	}
	return 0;
}

static void nclose(struct nsock *ns)
{
	unsigned int i;

	for (i = 0; i < ns->n; i++)
		nng_close(ns->socks[i]);
	free(ns->socks);
	free(ns->buf);
}

/* One message into ns->buf: its length, or -errno. */
static int nrecv(struct nsock *ns, nng_socket sock)
{
	size_t len;
	int rv;

	for (;;) {
		len = ns->cap;
		rv = nng_recv(sock, ns->buf, &len, 0);
		if (!rv)
			break;
		if (rv != NNG_ETIMEDOUT && rv != NNG_EINTR)
			return -EPROTO;
		if (rv == NNG_ETIMEDOUT && stop_requested(ns->r))
			return -ESHUTDOWN;
	}
	return len > ns->cap ? -EMSGSIZE : (int)len;
}

static int nsend(nng_socket sock, const char *p, size_t len)
{
	int rv;

	while ((rv = nng_send(sock, (void *)p, len, 0)) == NNG_EINTR)
		;
	return rv ? -EPROTO : 0;
}

int bench_nng_echo(const struct run *r, struct result *res)
{
	struct nsock ns = { 0 };
	int n;

	if (nopen(&ns, r, res, nng_rep0_open, 1, true) == 0) {
		ready_send(r, 'R');
		while ((n = nrecv(&ns, ns.socks[0])) >= 0 &&
		       (size_t)n != marker_len(r->size)) {
			if (nsend(ns.socks[0], ns.buf, (size_t)n) < 0)
				break;
			res->msgs++;
		}
		if (n < 0)
			fail(res, n, "nng_recv failed");
		done_send(r);
		stop_wait(r);
	}
	nclose(&ns);
	return res->err;
}

static int req_roundtrip(void *arg, const char *msg, size_t len,
			 const char **reply, size_t *rlen)
{
	struct nsock *ns = arg;
	int ret;

	ret = nsend(ns->socks[0], msg, len);
	if (ret < 0)
		return ret;
	ret = nrecv(ns, ns->socks[0]);
	if (ret < 0)
		return ret;
	*reply = ns->buf;
	*rlen = (size_t)ret;
	return 0;
}

int bench_nng_client(const struct run *r, struct result *res)
{
	struct nsock ns = { 0 };
	char marker[1] = { 0 };

	if (nopen(&ns, r, res, nng_req0_open, 1, false) == 0 &&
	    ready_send(r, 'R') == 0 && go_wait(r) == 0 &&
	    pingpong_run(r, res, req_roundtrip, &ns) == 0) {
		if (nsend(ns.socks[0], marker, marker_len(r->size)) == 0)
			done_wait(r);
	}
	nclose(&ns);
	return res->err;
}

int bench_nng_sink(const struct run *r, struct result *res)
{
	struct nsock ns = { 0 };
	struct sink sink;
	int n = 0;

	sink_init(&sink, r, res);
	if (nopen(&ns, r, res, nng_pull0_open, 1, true) == 0) {
		res->rss_start_kib = rss_peak_kib();
		ready_send(r, 'R');
		while (!sink.done && (n = nrecv(&ns, ns.socks[0])) >= 0 &&
		       sink_take(&sink, SINK_ANONYMOUS, ns.buf, (size_t)n) >= 0)
			;
		if (n < 0)
			fail(res, n, "nng_recv failed");
		res->rss_peak_kib = rss_peak_kib();
	}
	done_send(r);
	sink_report(&sink);
	stop_wait(r);
	nclose(&ns);
	return res->err;
}

static int push_send(void *arg, unsigned int conn, const char *payload,
			   size_t len)
{
	struct nsock *ns = arg;

	return nsend(ns->socks[conn], payload, len);
}

int bench_nng_sender(const struct run *r, struct result *res)
{
	static const struct sender_ops ops = { .send = push_send };
	struct nsock ns = { 0 };

	if (nopen(&ns, r, res, nng_push0_open, r->nconns, false) == 0 &&
	    ready_send(r, 'R') == 0 && go_wait(r) == 0) {
		if (stream_run(r, res, &ops, &ns) == 0)
			done_wait(r);
		res->rss_peak_kib = rss_peak_kib();
	}
	nclose(&ns);
	return res->err;
}
