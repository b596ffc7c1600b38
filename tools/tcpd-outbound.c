/*
 * ipc-tcpd, outbound: a local client (ipcd) asks for
 * tcp://HOST:PORT/SERVICE; the name resolved by a thread, the connect,
 * the remote ipc-tcpd's reply, the switch.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <libipc.h>

#include "daemon.h"
#include "tcpd.h"

/* ------------------------------------------------------------------ */
/* Outbound: a local client asks for tcp://HOST:PORT/SERVICE            */
/* ------------------------------------------------------------------ */

/* Ends the request of requester @req: its TCP side, then itself. */
static void outbound_end(struct tcpd *d, int req)
{
	int tcp = d->peers[req]->other;

	if (tcp >= 0)
		peer_close(d, tcp);
	peer_close(d, req);
}

/* Fails the request of requester @req with an error reply of our own. */
void outbound_fail(struct tcpd *d, int req, int err, const char *text)
{
	struct peer *r = d->peers[req];

	log_line("out %s: %s %s", r->uri[0] ? r->uri : "?",
		 ipc__errno_name(err), text);
	ipc_send_error(d, req, err, text);
	outbound_end(d, req);
}

/*
 * Starts the non-blocking connect for requester @req; the TCP fd, or
 * -errno.  Its time limit is the requester's.
 */
static int outbound_connect(struct tcpd *d, int req,
			    const struct addrinfo *ai)
{
	struct epoll_event ev;
	int fd, ret;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -errno;
	tune_tcp(fd);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    errno != EINPROGRESS) {
		ret = -errno;
		goto fail;
	}
	/* Completion and failure both make it writable. */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLOUT;
	ev.data.fd = fd;
	if (epoll_ctl(d->watchfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = peer_start(d, fd, PEER_CONNECTING);
	if (ret == 0) {
		d->peers[fd]->deadline_ms = d->peers[req]->deadline_ms;
		return fd;
	}
	epoll_ctl(d->watchfd, EPOLL_CTL_DEL, fd, NULL);
fail:
	close(fd);
	return ret;
}

/* The host of requester @req is resolved (@ai): connect to it. */
static void outbound_resolved(struct tcpd *d, int req,
			      const struct addrinfo *ai)
{
	struct peer *r;
	int tcp;

	/* The first address only: one time limit covers it all. */
	tcp = outbound_connect(d, req, ai);
	if (tcp < 0) {
		outbound_fail(d, req, -tcp, strerror(-tcp));
		return;
	}
	r = d->peers[req];
	r->state = PEER_WAITING;
	r->job = NULL;
	r->other = tcp;
	d->peers[tcp]->other = req;
}

static void *resolver_main(void *arg)
{
	struct resolve_job *job = arg;
	ssize_t n;

	job->ret = resolve(job->host, job->port, 0, false, &job->res);
	/* 8 bytes: one atomic write to the pipe. */
	do {
		n = write(job->notify, &job, sizeof(job));
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(job)) {
		/* The daemon is stopping: nobody will read the result. */
		if (job->res)
			freeaddrinfo(job->res);
		free(job);
	}
	return NULL;
}

/* Resolves @host in a thread of its own; the requester waits for it. */
static int resolver_start(struct tcpd *d, int req, const char *host,
			  uint16_t port)
{
	struct resolve_job *job;
	pthread_attr_t attr;
	pthread_t thread;
	int ret;

	if (d->nresolving >= RESOLVERS_MAX)
		return -EAGAIN;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->requester = req;
	job->notify = d->resolved[1];
	job->port = port;
	snprintf(job->host, sizeof(job->host), "%s", host);
	ret = pthread_attr_init(&attr);
	if (ret == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		ret = pthread_create(&thread, &attr, resolver_main, job);
		pthread_attr_destroy(&attr);
	}
	if (ret != 0) {
		free(job);
		return -ret;
	}
	d->nresolving++;
	d->peers[req]->state = PEER_RESOLVING;
	d->peers[req]->job = job;
	return 0;
}

/* Name lookups finished: the pipe is readable. */
void resolved_ready(struct tcpd *d)
{
	struct resolve_job *jobs[16];
	ssize_t n;
	size_t i;

	n = read(d->resolved[0], jobs, sizeof(jobs));
	for (i = 0; n > 0 && i < (size_t)n / sizeof(jobs[0]); i++) {
		struct resolve_job *job = jobs[i];
		struct peer *r = peer_get(d, job->requester);

		d->nresolving--;
		/* A requester that timed out or left no longer waits. */
		if (r && r->state == PEER_RESOLVING && r->job == job) {
			if (job->ret != 0)
				outbound_fail(d, job->requester, EHOSTUNREACH,
					      "cannot resolve the host");
			else
				outbound_resolved(d, job->requester,
						  job->res);
		}
		if (job->res)
			freeaddrinfo(job->res);
		free(job);
	}
}

/* The URI of requester @req is whole: check it and start connecting. */
static void outbound_request(struct tcpd *d, int req, const char *uri,
			     size_t len)
{
	struct peer *r = d->peers[req];
	char host[NI_MAXHOST];
	struct addrinfo *ai;
	struct ipc_uri u;
	uint16_t port;
	int ret;

	/* Checked below; a URI that passes is printable already. */
	printable(r->uri, sizeof(r->uri), uri, len);
	if (ipc__uri_parse(uri, len, &u) < 0 || u.scheme.len != 3 ||
	    memcmp(u.scheme.p, "tcp", 3) != 0 ||
	    ipc__hostport_parse(u.authority, host, sizeof(host), &port) < 0) {
		outbound_fail(d, req, EINVAL, "bad URI");
		return;
	}
	/* Section 2: one time limit for the name, connect and reply. */
	r->deadline_ms = daemon_now_ms() + d->opt.timeout_ms;
	ret = resolve(host, port, 0, true, &ai);
	if (ret == 0) {
		outbound_resolved(d, req, ai);
		freeaddrinfo(ai);
		return;
	}
	/* An IPv6 address (with a zone) is never looked up as a name. */
	if (ret != EAI_NONAME || strchr(host, ':')) {
		outbound_fail(d, req, EHOSTUNREACH, "cannot resolve the host");
		return;
	}
	ret = resolver_start(d, req, host, port);
	if (ret < 0)
		outbound_fail(d, req, ret == -EAGAIN ? ENOBUFS : -ret,
			      "cannot resolve the host now");
}

/* The connect of @tcp completed: send the request, wait for the reply. */
static void outbound_connected(struct tcpd *d, int tcp)
{
	struct peer *t = d->peers[tcp];
	int req = t->other;
	const char *service = strrchr(d->peers[req]->uri, '/') + 1;
	char request[sizeof(CONNECT_PREFIX) + IPC_NET_NAME_MAX];
	socklen_t len = sizeof(int);
	int err = 0, n;

	epoll_ctl(d->watchfd, EPOLL_CTL_DEL, tcp, NULL);
	if (getsockopt(tcp, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err == 0)
		err = -ipc_add_external(d->ctx, tcp);
	if (err) {
		/* Still CONNECTING, so closed with close(2). */
		outbound_fail(d, req, err, strerror(err));
		return;
	}
	t->state = PEER_REPLY;
	n = snprintf(request, sizeof(request), CONNECT_PREFIX "%s", service);
	err = -handshake_send(tcp, request, (size_t)n, -1);
	if (err)
		outbound_fail(d, req, err, strerror(err));
}

/*
 * Sockets of our epoll are ready: inbound requests to read, outbound
 * connects completed.  An inbound socket in error (RST while waiting for
 * its local service) is dropped.
 */
void watch_ready(struct tcpd *d)
{
	struct epoll_event ev[WATCH_BATCH];
	int i, n;

	n = epoll_wait(d->watchfd, ev, WATCH_BATCH, 0);
	for (i = 0; i < n; i++) {
		int fd = ev[i].data.fd;
		struct peer *p = peer_get(d, fd);

		if (!p)
			continue;	/* ended by an earlier one */
		if (p->state == PEER_CONNECTING)
			outbound_connected(d, fd);
		else if (p->state == PEER_INBOUND)
			inbound_readable(d, fd);
	}
}

/* The remote's reply is whole: "ok" switches, an error is passed on. */
static void outbound_reply(struct tcpd *d, int tcp, const char *reply,
			   size_t len)
{
	bool error_reply = len > 6 && memcmp(reply, "error ", 6) == 0;
	int req = d->peers[tcp]->other;
	char shown[REPLY_TEXT_MAX];
	struct ipc_span text;
	int ret = ipc__reply_parse(reply, len, &text);

	if (ret < 0 && error_reply && (ret != -EPROTO || text.len)) {
		/*
		 * The remote's error, its name and text passed on (the text
		 * cut short: ipcd reads at most 1 KiB).
		 */
		printable(shown, sizeof(shown), text.p, text.len);
		outbound_fail(d, req, -ret, shown);
		return;
	}
	if (ret < 0) {
		outbound_fail(d, req, EPROTO, "bad reply");
		return;
	}
	ret = ipc_schedule(d->ctx, req, "ok", 2);
	if (ret == 0)
		ret = ipc_add_switch(d->ctx, req, tcp);
	if (ret < 0) {
		outbound_fail(d, req, -ret, strerror(-ret));
		return;
	}
	log_line("out %s: ok", d->peers[req]->uri);
	peer_end(d, tcp);
	peer_end(d, req);
}

/* The outbound TCP connection is readable: read more of the reply. */
void outbound_readable(struct tcpd *d, int tcp)
{
	struct peer *t = d->peers[tcp];
	int ret = handshake_read(tcp, &t->reader);

	if (ret == 0)
		return;
	if (ret == -EMSGSIZE)
		outbound_fail(d, t->other, EPROTO, "bad reply");
	else if (ret < 0)
		outbound_fail(d, t->other, -ret, strerror(-ret));
	else
		outbound_reply(d, tcp, t->frame, t->reader.len);
}

/* A message from a client of our service: its URI. */
void requester_message(struct tcpd *d, int fd, const char *msg,
		       size_t len)
{
	struct peer *r = peer_get(d, fd);

	/* A switched client's messages are relayed, never seen here. */
	if (!r)
		return;
	if (r->state == PEER_REQUESTER)
		outbound_request(d, fd, msg, len);
	else
		outbound_fail(d, fd, EPROTO, "one request per connection");
}
