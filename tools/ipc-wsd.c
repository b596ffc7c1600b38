/*
 * ipc-wsd - WebSocket clients and web pages talk to libipc services.
 *
 * Usage: ipc-wsd [--listen ADDR:PORT] [--allow SERVICE[:text]]...
 *                [--origin ORIGIN]... [--www DIR] [OPTION]...
 *
 * An HTTP/1.1 listener (ipc-wsd(8), doc/network.md): a request that
 * upgrades to a WebSocket (RFC 6455, version 13) on /SERVICE, for an
 * allow-listed SERVICE, is connected to that libipc service, and the two
 * are switched (ipc_add_switch()) with callbacks on the WebSocket side
 * (ipc_set_switch_callbacks()): the input callback turns the client's
 * frames into one libipc message per WebSocket message, answering pings
 * and the close handshake itself; the output callback turns each message
 * of the service into one WebSocket message.  Other GET requests are
 * answered from --www DIR, or 404.
 *
 * Each client socket is held twice: the context holds the fd it reads
 * (and closes when either side of the switch goes away), and ipc-wsd
 * keeps a dup of it to write what the socket could not take at once and
 * the closing frame, after the context let go of its fd.  Sockets with
 * bytes to write are polled by the main loop next to the context's fd
 * (ipc_context_fd()), or between short waits with the poll(2) backend.
 * The context's fd is asked for when a socket first has to be polled:
 * it costs an eventfd write and read per event returned with work left,
 * which a daemon whose clients keep up never pays.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <libipc.h>

#include "daemon.h"
#include "network.h"
#include "signals.h"
#include "ws-frame.h"
#include "ws-http.h"

#define PROGRAM "ipc-wsd"
#define DEFAULT_LISTEN "127.0.0.1:8080"
#define LISTEN_BACKLOG 4096
/* A request head, and the time to send it. */
#define DEFAULT_REQUEST_MAX 8192
#define REQUEST_MAX_LIMIT (1024 * 1024)
#define DEFAULT_TIMEOUT_MS 5000
/* What a socket is given to read its closing frame or its file. */
#define DRAIN_MS 5000
/* A static file is sent whole from memory: at most this. */
#define WWW_FILE_MAX (4 * 1024 * 1024)
/* Client bytes read at once. */
#define READ_CHUNK (64 * 1024)
/* Read buffers kept for the next busy client, so that a busy client
 * neither calls malloc per wake-up nor an idle one holds a buffer. */
#define READ_POOL 8
/* Payload bytes still to come from which a frame's payload is read
 * straight into the message rather than through the read buffer. */
#define DIRECT_MIN (16 * 1024)
/*
 * Bytes of WebSocket frames waiting for a client that does not read: a
 * message of the service is refused (and both sides closed) when more
 * than this waits already, so a client costs at most this plus one
 * message.
 */
#define OUT_HIGH_WATER IPC_QUEUE_HIGH_WATER_DEFAULT
/* Accepts per wake-up of the listener, so that clients get a turn. */
#define ACCEPT_BATCH 64
/* Wait of the poll(2) backend's loop while sockets have bytes to write. */
#define POLL_BACKEND_WAIT_MS 5
#define LOG_LINE_MAX 512

enum conn_state {
	CONN_HTTP,	/* reading the request head */
	CONN_WS,	/* switched with its service */
	CONN_DRAIN,	/* writing what is left, then closed */
};

struct conn {
	enum conn_state state;
	int fd;			/* the context's fd, -1 once it closed it */
	int own;		/* ours: writes, and the close */
	int svc;		/* the service's fd while switched */
	bool text;		/* service messages go as text */
	bool eof;		/* the client hung up */
	bool close_queued;	/* our close frame is queued */
	bool drained;		/* the last read took all there was */
	bool shut;		/* drained: write side shut down */
	uint64_t deadline;	/* handshake, then drain */
	size_t watch;		/* index in the watch list, or SIZE_MAX */
	/* the request head */
	char *req;
	size_t req_len;
	/* the client's bytes and frames */
	uint8_t *rbuf;
	size_t rpos, rlen;
	struct ws_parser parser;
	/* bytes the socket did not take yet */
	char *out;
	size_t out_pos, out_len, out_cap;
};

struct service_rule {
	char *name;
	bool text;
};

struct options {
	const char *listen;
	struct service_rule *allow;
	size_t nallow;
	char **origins;
	size_t norigins;
	const char *www;
	bool text;
	unsigned int timeout_ms;
	unsigned int request_max;
	unsigned int max_message;
};

struct wsd {
	struct options opt;
	void *ctx;
	int ctxfd;		/* ipc_context_fd(), -1 until needed or
				 * with poll(2) */
	bool ctxfd_asked;
	int listenfd;
	int signalfd;
	int wwwfd;
	int sparefd;		/* given up to refuse a client without fds */
	bool stop;
	struct conn **byfd;	/* by the context's fd and our own */
	size_t nbyfd;
	struct conn **watch;	/* conns with bytes to write, or draining */
	size_t nwatch, watch_cap;
	size_t nconns;
	/* memory shared by the clients, between their messages */
	struct ws_spare spare;	/* one reassembly buffer */
	uint8_t *rpool[READ_POOL];
	size_t nrpool;
};

/* The callbacks get an fd only: the daemon is one per process. */
static struct wsd *the;

/* ------------------------------------------------------------------ */
/* Log                                                                  */
/* ------------------------------------------------------------------ */

static void log_line(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* One line per call, written at once, on stderr. */
static void log_line(const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROGRAM ": %s\n", line);
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static int byfd_set(struct wsd *d, int fd, struct conn *c)
{
	if ((size_t)fd >= d->nbyfd) {
		size_t n = d->nbyfd ? d->nbyfd : 64;
		struct conn **t;

		while (n <= (size_t)fd)
			n *= 2;
		t = realloc(d->byfd, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		memset(t + d->nbyfd, 0, (n - d->nbyfd) * sizeof(*t));
		d->byfd = t;
		d->nbyfd = n;
	}
	d->byfd[fd] = c;
	return 0;
}

static struct conn *conn_of(struct wsd *d, int fd)
{
	return fd >= 0 && (size_t)fd < d->nbyfd ? d->byfd[fd] : NULL;
}

static void watch_add(struct wsd *d, struct conn *c)
{
	if (c->watch != SIZE_MAX)
		return;
	if (d->nwatch == d->watch_cap) {
		size_t n = d->watch_cap ? d->watch_cap * 2 : 64;
		struct conn **w = realloc(d->watch, n * sizeof(*w));

		if (!w)
			return;	/* flushed at its next event instead */
		d->watch = w;
		d->watch_cap = n;
	}
	c->watch = d->nwatch;
	d->watch[d->nwatch++] = c;
}

static void watch_remove(struct wsd *d, struct conn *c)
{
	struct conn *last;

	if (c->watch == SIZE_MAX)
		return;
	last = d->watch[--d->nwatch];
	d->watch[c->watch] = last;
	last->watch = c->watch;
	c->watch = SIZE_MAX;
}

/* A read buffer: from the pool when it has one. */
static uint8_t *rbuf_take(struct wsd *d)
{
	if (d->nrpool)
		return d->rpool[--d->nrpool];
	return malloc(READ_CHUNK);
}

/* The client's read buffer, empty, goes back to the pool. */
static void rbuf_release(struct wsd *d, struct conn *c)
{
	if (!c->rbuf)
		return;
	if (d->nrpool < READ_POOL)
		d->rpool[d->nrpool++] = c->rbuf;
	else
		free(c->rbuf);
	c->rbuf = NULL;
	c->rpos = c->rlen = 0;
}

static void conn_free(struct wsd *d, struct conn *c)
{
	watch_remove(d, c);
	/* No entry of the table may outlive the conn it points to. */
	if (conn_of(d, c->own) == c)
		d->byfd[c->own] = NULL;
	if (conn_of(d, c->fd) == c)
		d->byfd[c->fd] = NULL;
	/* The service's fd stays the context's until its DISCONNECTION. */
	if (conn_of(d, c->svc) == c)
		d->byfd[c->svc] = NULL;
	close(c->own);
	free(c->req);
	rbuf_release(d, c);
	free(c->out);
	ws_parser_free(&c->parser);
	free(c);
	d->nconns--;
}

static size_t out_pending(const struct conn *c)
{
	return c->out_len - c->out_pos;
}

/* Writes what is queued: 0, or -EPIPE when the client is gone. */
static int out_flush(struct conn *c)
{
	while (out_pending(c)) {
		ssize_t n = send(c->own, c->out + c->out_pos, out_pending(c),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -EPIPE;
		}
		c->out_pos += (size_t)n;
	}
	/* Empty: the buffer goes back, an idle client costs nothing. */
	free(c->out);
	c->out = NULL;
	c->out_pos = c->out_len = c->out_cap = 0;
	return 0;
}

static int out_append(struct conn *c, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (c->out_pos && c->out_len + n > c->out_cap) {
		memmove(c->out, c->out + c->out_pos, out_pending(c));
		c->out_len -= c->out_pos;
		c->out_pos = 0;
	}
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *o;

		while (cap < c->out_len + n)
			cap *= 2;
		o = realloc(c->out, cap);
		if (!o)
			return -ENOMEM;
		c->out = o;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, n);
	c->out_len += n;
	return 0;
}

/*
 * Sends @n bytes at @p after what is queued: written at once when nothing
 * waits, the rest queued and the socket watched.  0 or a negative errno.
 */
static int conn_send(struct wsd *d, struct conn *c, const void *hdr,
		     size_t hlen, const void *p, size_t n)
{
	size_t done = 0, total = hlen + n;
	int ret;

	if (!out_pending(c)) {
		struct iovec iov[2] = {
			{ (void *)hdr, hlen },
			{ (void *)p, n },
		};
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
		ssize_t w;

		do {
			w = sendmsg(c->own, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		} while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -EPIPE;
		done = w < 0 ? 0 : (size_t)w;
		if (done == total)
			return 0;
	}
	if (done < hlen) {
		ret = out_append(c, (const char *)hdr + done, hlen - done);
		if (ret == 0)
			ret = out_append(c, p, n);
	} else {
		ret = out_append(c, (const char *)p + (done - hlen),
				 total - done);
	}
	if (ret < 0)
		return ret;
	watch_add(d, c);
	return 0;
}

static int send_frame(struct wsd *d, struct conn *c, uint8_t opcode,
		      const void *p, size_t n)
{
	uint8_t hdr[10];
	size_t hlen = ws_frame_header(hdr, opcode, n);

	return conn_send(d, c, hdr, hlen, p, n);
}

static void send_close(struct wsd *d, struct conn *c, uint16_t code)
{
	uint8_t payload[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	if (c->close_queued || c->eof)
		return;
	c->close_queued = true;
	send_frame(d, c, WS_OP_CLOSE, payload, code ? 2 : 0);
}

/*
 * The context let go of the client's fd (or never switched it): what is
 * queued is written, then our fd is closed.
 */
static void conn_drain(struct wsd *d, struct conn *c)
{
	c->state = CONN_DRAIN;
	c->deadline = daemon_now_ms() + DRAIN_MS;
	if (c->eof || out_flush(c) < 0) {
		conn_free(d, c);
		return;
	}
	watch_add(d, c);
}

/* ------------------------------------------------------------------ */
/* The switch callbacks                                                 */
/* ------------------------------------------------------------------ */

/*
 * Reads from the client: the bytes read (> 0), or 0 with *@ret the
 * callback's answer: at the end of file, after an error, or with nothing
 * to read (CB_IGNORE; then the client holds no read buffer, and no
 * reassembly buffer between messages).
 */
static ssize_t client_read(struct wsd *d, struct conn *c, int fd, void *buf,
			   size_t len, char *ret)
{
	ssize_t n;

	/* A short read took all there was: nothing to read now, and the
	 * context's level-triggered wait calls again when there is. */
	if (c->drained) {
		c->drained = false;
		n = -1;
		errno = EAGAIN;
	} else {
		do {
			n = read(fd, buf, len);
		} while (n < 0 && errno == EINTR);
	}
	if (n > 0) {
		c->drained = (size_t)n < len;
		return n;
	}
	if (n == 0) {
		c->eof = true;
		*ret = CB_FD_CLOSING;
	} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
		c->eof = true;
		*ret = CB_ERROR;
	} else {
		if (c->rpos == c->rlen)
			rbuf_release(d, c);
		ws_parser_idle(&c->parser);
		*ret = CB_IGNORE;
	}
	return 0;
}

/*
 * What the parser found (@ret, @ev): CB_NO_ERROR with a message in
 * @payload, CB_ERROR or CB_FD_CLOSING, or -1 to read on.
 */
static int ws_event(struct wsd *d, struct conn *c, int ret,
		    const struct ws_event *ev, char *payload, size_t *mlen)
{
	if (ret < 0) {
		send_close(d, c, ws_close_code(ret));
		return CB_ERROR;
	}
	switch (ret) {
	case WS_MESSAGE:
		if (ev->len > *mlen) {
			send_close(d, c, WS_CLOSE_TOO_BIG);
			return CB_ERROR;
		}
		/* Reassembled in place unless it began in an earlier call. */
		if (ev->data != payload)
			memcpy(payload, ev->data, ev->len);
		*mlen = ev->len;
		return CB_NO_ERROR;
	case WS_PING:
		if (out_pending(c) > OUT_HIGH_WATER ||
		    send_frame(d, c, WS_OP_PONG, ev->data, ev->len) < 0)
			return CB_ERROR;
		return -1;
	case WS_CLOSE:
		send_close(d, c, ev->close_code ? ev->close_code :
			   WS_CLOSE_NORMAL);
		return CB_FD_CLOSING;
	default:
		return -1;	/* a pong, or all used */
	}
}

/*
 * The client's frames: one WebSocket message becomes one libipc message;
 * pings are answered, the close handshake is answered and ends the
 * switch, a bad frame is answered by a close with its status code.
 * Messages are reassembled in @payload itself (ws_parser_attach()), and
 * large payloads are read straight into place, so that a message read
 * whole in one call is not copied here but unmasked in place.
 */
static char ws_in(int fd, char *payload, size_t *mlen)
{
	struct wsd *d = the;
	struct conn *c = conn_of(d, fd);
	struct ws_event ev;
	size_t used, room;
	char *dst;
	ssize_t n;
	char cb = CB_IGNORE;
	int ret;

	if (!c || c->state != CONN_WS)
		return CB_ERROR;
	ws_parser_attach(&c->parser, payload, *mlen);
	for (;;) {
		if (c->rpos < c->rlen) {
			ret = ws_parse(&c->parser, c->rbuf + c->rpos,
				       c->rlen - c->rpos, &used, &ev);
			c->rpos += used;
			ret = ws_event(d, c, ret, &ev, payload, mlen);
			if (ret >= 0) {
				cb = (char)ret;
				break;
			}
			continue;
		}
		ret = ws_parser_direct(&c->parser, DIRECT_MIN, &dst, &room);
		if (ret < 0) {
			send_close(d, c, ws_close_code(ret));
			cb = CB_ERROR;
			break;
		}
		if (room) {
			n = client_read(d, c, fd, dst, room, &cb);
			if (n == 0)
				break;
			ret = ws_parser_direct_done(&c->parser, (size_t)n,
						    &ev);
			ret = ws_event(d, c, ret, &ev, payload, mlen);
			if (ret >= 0) {
				cb = (char)ret;
				break;
			}
			continue;
		}
		if (!c->rbuf) {
			c->rbuf = rbuf_take(d);
			if (!c->rbuf)
				break;		/* read at next wake */
		}
		c->rpos = c->rlen = 0;
		n = client_read(d, c, fd, c->rbuf, READ_CHUNK, &cb);
		if (n == 0)
			break;
		c->rlen = (size_t)n;
	}
	/* A message begun in @payload moves to the parser's memory. */
	if (ws_parser_detach(&c->parser) < 0 && cb != CB_ERROR) {
		send_close(d, c, WS_CLOSE_INTERNAL);
		cb = CB_ERROR;
	}
	return cb;
}

/* One message of the service becomes one WebSocket message. */
static char ws_out(int fd, const char *payload, size_t mlen)
{
	struct wsd *d = the;
	struct conn *c = conn_of(d, fd);
	uint8_t opcode = WS_OP_BINARY;

	if (!c || c->state != CONN_WS)
		return CB_ERROR;
	/* Nothing may follow our close frame. */
	if (c->close_queued)
		return CB_IGNORE;
	/* A client that leaves this much unread is let go. */
	if (out_pending(c) > OUT_HIGH_WATER) {
		send_close(d, c, WS_CLOSE_GOING_AWAY);
		return CB_ERROR;
	}
	/* A text message must be UTF-8: other bytes go as binary. */
	if (c->text && ws_utf8_valid(payload, mlen))
		opcode = WS_OP_TEXT;
	if (send_frame(d, c, opcode, payload, mlen) < 0) {
		c->eof = true;
		return CB_ERROR;
	}
	return CB_NO_ERROR;
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                 */
/* ------------------------------------------------------------------ */

/* An answer without a WebSocket: sent, then the connection ends. */
static void http_reply(struct wsd *d, struct conn *c, int status,
		       const char *reason, const char *extra,
		       const char *type, const char *body, size_t blen,
		       bool head_only)
{
	char head[512];
	int n;

	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: %s\r\n"
		     "Content-Length: %zu\r\n"
		     "X-Content-Type-Options: nosniff\r\n"
		     "Cache-Control: no-cache\r\n"
		     "%s"
		     "Connection: close\r\n\r\n",
		     status, reason, type, blen, extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		n = 0;
	conn_send(d, c, head, (size_t)n, body, head_only ? 0 : blen);
	/* No more requests on this connection. */
	if (c->fd >= 0) {
		d->byfd[c->fd] = NULL;
		ipc_close_fd(d->ctx, c->fd);
		c->fd = -1;
	}
	conn_drain(d, c);
}

static void http_error(struct wsd *d, struct conn *c, int status,
		       const char *reason, const char *extra)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%d %s\n", status, reason);

	http_reply(d, c, status, reason, extra, "text/plain; charset=utf-8",
		   body, n > 0 ? (size_t)n : 0, false);
}

static const struct service_rule *allowed(const struct wsd *d,
					  const char *name)
{
	size_t i;

	for (i = 0; i < d->opt.nallow; i++)
		if (strcmp(d->opt.allow[i].name, name) == 0)
			return &d->opt.allow[i];
	return NULL;
}

static void serve_file(struct wsd *d, struct conn *c,
		       const struct ws_request *req)
{
	bool head = strcmp(req->method, "HEAD") == 0;
	char path[PATH_MAX], *body = NULL;
	struct stat st;
	size_t got = 0;
	int fd;

	if (d->wwwfd < 0 || ws_http_file_path(req->target, path,
					      sizeof(path)) < 0) {
		http_error(d, c, 404, "Not Found", NULL);
		return;
	}
	fd = openat(d->wwwfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
		    O_NONBLOCK | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		http_error(d, c, 404, "Not Found", NULL);
		return;
	}
	if (st.st_size > WWW_FILE_MAX) {
		close(fd);
		http_error(d, c, 500, "File Too Large", NULL);
		return;
	}
	body = malloc((size_t)st.st_size + 1);
	while (body && got < (size_t)st.st_size) {
		ssize_t n = read(fd, body + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (!body || got != (size_t)st.st_size) {
		free(body);
		http_error(d, c, 500, "Internal Server Error", NULL);
		return;
	}
	http_reply(d, c, 200, "OK", NULL, ws_http_content_type(path), body,
		   got, head);
	free(body);
}

/* The request asks for a WebSocket on /SERVICE: connect and switch. */
static void upgrade(struct wsd *d, struct conn *c, struct ws_request *req)
{
	const struct service_rule *rule;
	const char *name = req->target + 1;
	char accept[WS_ACCEPT_SIZE], head[256];
	int svc, ret, n;

	rule = ipc__service_name_ok(name, strlen(name)) ? allowed(d, name) :
							    NULL;
	if (!rule) {
		http_error(d, c, 404, "Not Found", NULL);
		return;
	}
	if (!req->version || strcmp(req->version, "13") != 0) {
		http_error(d, c, 426, "Upgrade Required",
			   "Sec-WebSocket-Version: 13\r\n");
		return;
	}
	if (!req->connection_upgrade || !req->key || !req->host ||
	    ws_http_accept(req->key, accept) < 0) {
		http_error(d, c, 400, "Bad Request", NULL);
		return;
	}
	if (!ws_http_origin_ok(req->origin, req->host, d->opt.origins,
			       d->opt.norigins)) {
		log_line("origin %.200s refused for %s", req->origin, name);
		http_error(d, c, 403, "Forbidden", NULL);
		return;
	}
	ret = daemon_local_connect(name, strlen(name), &svc);
	if (ret < 0) {
		http_error(d, c, 503, "Service Unavailable", NULL);
		return;
	}
	ret = ipc_add_external(d->ctx, svc);
	if (ret == 0) {
		ret = byfd_set(d, svc, c);
		if (ret < 0)
			ipc_close_fd(d->ctx, svc);
	} else {
		close(svc);
	}
	if (ret < 0) {
		http_error(d, c, 503, "Service Unavailable", NULL);
		return;
	}
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 101 Switching Protocols\r\n"
		     "Upgrade: websocket\r\n"
		     "Connection: Upgrade\r\n"
		     "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	free(c->req);
	c->req = NULL;
	c->req_len = 0;
	c->text = d->opt.text || rule->text;
	ws_parser_init(&c->parser, d->opt.max_message, &d->spare);
	c->state = CONN_WS;
	c->svc = svc;
	if (conn_send(d, c, head, (size_t)n, NULL, 0) < 0 ||
	    ipc_set_switch_callbacks(d->ctx, c->fd, ws_in, ws_out) < 0 ||
	    ipc_add_switch(d->ctx, c->fd, svc) < 0) {
		d->byfd[svc] = NULL;
		ipc_close_fd(d->ctx, svc);
		c->svc = -1;
		d->byfd[c->fd] = NULL;
		ipc_close_fd(d->ctx, c->fd);
		c->fd = -1;
		c->eof = true;
		conn_drain(d, c);
	}
}

static void request(struct wsd *d, struct conn *c, struct ws_request *req)
{
	if (strcmp(req->method, "GET") != 0 &&
	    strcmp(req->method, "HEAD") != 0) {
		http_error(d, c, 405, "Method Not Allowed", "Allow: GET\r\n");
		return;
	}
	if (req->upgrade)
		upgrade(d, c, req);
	else
		serve_file(d, c, req);
}

/*
 * Of @n new bytes after the @have of @buf, how many belong to the head:
 * up to its blank line, or all.
 */
static size_t head_part(const char *buf, size_t have, size_t n)
{
	size_t i = have > 3 ? have - 3 : 0;

	for (; i + 4 <= have + n; i++)
		if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4 - have;
	return n;
}

/* The client's fd is readable during its request. */
static void http_readable(struct wsd *d, struct conn *c)
{
	struct ws_request req;
	ssize_t n;
	int ret;

	if (!c->req) {
		c->req = malloc(d->opt.request_max + 1);
		if (!c->req) {
			http_error(d, c, 503, "Service Unavailable", NULL);
			return;
		}
	}
	/*
	 * Only the head is taken from the socket: frames sent right behind
	 * it stay there, and make the switched fd readable.
	 */
	n = recv(c->fd, c->req + c->req_len, d->opt.request_max - c->req_len,
		 MSG_PEEK);
	if (n > 0) {
		size_t take = head_part(c->req, c->req_len, (size_t)n);

		n = recv(c->fd, c->req + c->req_len, take, 0);
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		c->eof = true;
		d->byfd[c->fd] = NULL;
		ipc_close_fd(d->ctx, c->fd);
		c->fd = -1;
		conn_drain(d, c);
		return;
	}
	c->req_len += (size_t)n;
	ret = ws_http_parse(c->req, c->req_len, &req);
	if (ret == -EAGAIN && c->req_len == d->opt.request_max)
		http_error(d, c, 431, "Request Header Fields Too Large", NULL);
	else if (ret == -EBADMSG)
		http_error(d, c, 400, "Bad Request", NULL);
	else if (ret == 0)
		request(d, c, &req);
}

/* ------------------------------------------------------------------ */
/* Listener, time limits, events                                        */
/* ------------------------------------------------------------------ */

static void tune_tcp(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int accept_one(struct wsd *d)
{
	struct conn *c;
	int own, fd;

	own = accept4(d->listenfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (own < 0)
		return -errno;
	tune_tcp(own);
	fd = fcntl(own, F_DUPFD_CLOEXEC, 0);
	c = calloc(1, sizeof(*c));
	if (fd < 0 || !c || byfd_set(d, own, c) < 0 || byfd_set(d, fd, c) < 0
	    || ipc_add_external(d->ctx, fd) < 0) {
		if (conn_of(d, own) == c)
			d->byfd[own] = NULL;
		if (fd >= 0 && conn_of(d, fd) == c)
			d->byfd[fd] = NULL;
		free(c);
		if (fd >= 0)
			close(fd);
		close(own);
		return -ENOMEM;
	}
	c->state = CONN_HTTP;
	c->fd = fd;
	c->own = own;
	c->svc = -1;
	c->watch = SIZE_MAX;
	c->deadline = daemon_now_ms() + d->opt.timeout_ms;
	d->nconns++;
	return 0;
}

/*
 * No fd left: the spare one is given up to accept the client and close
 * it at once, else it would stay in the backlog and the listener
 * readable, and the loop would spin.
 */
static void refuse_one(struct wsd *d)
{
	int fd;

	if (d->sparefd >= 0) {
		close(d->sparefd);
		fd = accept4(d->listenfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			close(fd);
		d->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	log_line("out of file descriptors: a client was refused");
}

static void listener_readable(struct wsd *d)
{
	int i, ret;

	for (i = 0; i < ACCEPT_BATCH; i++) {
		ret = accept_one(d);
		if (ret == -EAGAIN || ret == -EINTR)
			return;
		if (ret == -EMFILE || ret == -ENFILE) {
			refuse_one(d);
			return;
		}
	}
}

/* Handshakes past their time and drains past theirs are closed. */
static void check_deadlines(struct wsd *d)
{
	uint64_t now = daemon_now_ms();
	size_t fd;

	for (fd = 0; fd < d->nbyfd; fd++) {
		struct conn *c = d->byfd[fd];

		if (!c || (int)fd != c->own || now < c->deadline)
			continue;
		if (c->state == CONN_HTTP) {
			http_error(d, c, 408, "Request Timeout", NULL);
		} else if (c->state == CONN_DRAIN) {
			conn_free(d, c);
		}
	}
}

/* A drained socket: write side shut, then read until the client hangs
 * up (a close before that could reset what it still has to read). */
static void drain_step(struct wsd *d, struct conn *c, short revents)
{
	char sink[4096];
	ssize_t n;

	if (out_pending(c) && out_flush(c) < 0) {
		conn_free(d, c);
		return;
	}
	if (out_pending(c))
		return;
	if (c->state != CONN_DRAIN) {
		watch_remove(d, c);
		return;
	}
	if (!c->shut) {
		shutdown(c->own, SHUT_WR);
		c->shut = true;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	do {
		n = recv(c->own, sink, sizeof(sink), MSG_DONTWAIT);
	} while (n > 0);
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		conn_free(d, c);
}

/* The sockets with bytes to write, and the context's fd when it has one. */
static void poll_watched(struct wsd *d, int timeout)
{
	struct pollfd *pfd;
	size_t i, n = d->nwatch, base = d->ctxfd >= 0 ? 1 : 0;

	pfd = calloc(n + 1, sizeof(*pfd));
	if (!pfd)
		return;
	if (base) {
		pfd[0].fd = d->ctxfd;
		pfd[0].events = POLLIN;
	}
	for (i = 0; i < n; i++) {
		struct conn *c = d->watch[i];

		pfd[base + i].fd = c->own;
		pfd[base + i].events = out_pending(c) ? POLLOUT : POLLIN;
		if (c->state == CONN_DRAIN && !out_pending(c) && !c->shut)
			pfd[base + i].events |= POLLOUT;
	}
	if (poll(pfd, base + n, timeout) > 0) {
		/* From the end: a freed conn moves the last one into its
		 * place, which was already looked at. */
		for (i = n; i-- > 0;) {
			if (i < d->nwatch && pfd[base + i].revents)
				drain_step(d, d->watch[i],
					   pfd[base + i].revents);
		}
	}
	free(pfd);
}

static void disconnected(struct wsd *d, int fd)
{
	struct conn *c = conn_of(d, fd);

	if (!c)
		return;
	d->byfd[fd] = NULL;
	if (fd == c->svc) {
		c->svc = -1;
		return;
	}
	if (fd != c->fd)
		return;
	c->fd = -1;
	/*
	 * The service went away, or the client, or a callback failed: the
	 * library closes the service's side too, after writing what was
	 * forwarded to it.
	 */
	if (c->state == CONN_WS)
		send_close(d, c, WS_CLOSE_GOING_AWAY);
	conn_drain(d, c);
}

static void handle_event(struct wsd *d, char type, int fd)
{
	struct conn *c;

	switch (type) {
	case EXTERNAL:
		if (fd == d->signalfd) {
			if (signals_read(fd))
				d->stop = true;
		} else if (fd == d->listenfd) {
			listener_readable(d);
		} else {
			c = conn_of(d, fd);
			if (c && c->state == CONN_HTTP && fd == c->fd)
				http_readable(d, c);
		}
		break;
	case DISCONNECTION:
		disconnected(d, fd);
		break;
	case TIMER:
		check_deadlines(d);
		break;
	default:
		break;
	}
}

static int serve(struct wsd *d)
{
	int ret;

	while (!d->stop) {
		size_t index, len = 0;
		int fd, newfd, timeout = -1;
		char type;

		if (d->nwatch && !d->ctxfd_asked) {
			/* With the poll(2) backend there is none: short
			 * waits instead. */
			d->ctxfd = ipc_context_fd(d->ctx);
			d->ctxfd_asked = true;
		}
		if (d->nwatch) {
			poll_watched(d, d->ctxfd >= 0 ? -1 : 0);
			timeout = d->ctxfd >= 0 ? 0 : POLL_BACKEND_WAIT_MS;
		}
		ret = ipc_wait_event_timeout(d->ctx, &type, &index, &fd,
					     &newfd, NULL, &len, timeout);
		if (ret == -EAGAIN || ret == -EINTR || ret == -ENOMEM ||
		    ret == -EMSGSIZE)
			continue;
		if (ret < 0)
			return ret;
		handle_event(d, type, fd);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                       */
/* ------------------------------------------------------------------ */

static int listen_tcp(const char *spec, int *fdp)
{
	struct ipc_span a = { spec, strlen(spec) };
	char host[NI_MAXHOST], service[8];
	struct addrinfo hints, *ai;
	uint16_t port;
	int fd, one = 1, ret = 0;

	if (ipc__hostport_parse(a, host, sizeof(host), &port) < 0)
		return -EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%u", (unsigned int)port);
	if (getaddrinfo(host, service, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		close(fd);
		goto out;
	}
	*fdp = fd;
out:
	freeaddrinfo(ai);
	return ret;
}

static int start_failed(const char *what, const char *arg, int err)
{
	fprintf(stderr, PROGRAM ": cannot %s%s%s: %s\n", what, arg ? " " : "",
		arg ? arg : "", strerror(-err));
	return err;
}

/* Each client is three fds (its socket twice, its service): as many as
 * the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int start(struct wsd *d)
{
	int ret;

	ret = ipc_context_init(&d->ctx);
	if (ret < 0)
		return start_failed("create a context", NULL, ret);
	ret = ipc_context_max_message_size(d->ctx, d->opt.max_message);
	if (ret < 0)
		return start_failed("set the message size", NULL, ret);
	if (d->opt.www) {
		d->wwwfd = open(d->opt.www, O_RDONLY | O_DIRECTORY |
				O_CLOEXEC);
		if (d->wwwfd < 0)
			return start_failed("open", d->opt.www, -errno);
	}
	d->signalfd = daemon_signals_watch(d->ctx);
	if (d->signalfd < 0)
		return start_failed("watch signals", NULL, d->signalfd);
	ret = listen_tcp(d->opt.listen, &d->listenfd);
	if (ret == 0) {
		ret = ipc_add_external(d->ctx, d->listenfd);
		if (ret < 0) {
			close(d->listenfd);
			d->listenfd = -1;
		}
	}
	if (ret < 0)
		return start_failed("listen on", d->opt.listen, ret);
	d->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ipc_context_timer(d->ctx, d->opt.timeout_ms < 1000 ?
			  (int)d->opt.timeout_ms / 4 + 1 : 250);
	log_line("listening on %s, %zu service%s allowed", d->opt.listen,
		 d->opt.nallow, d->opt.nallow == 1 ? "" : "s");
	return 0;
}

static void stop(struct wsd *d)
{
	size_t fd;

	for (fd = 0; fd < d->nbyfd; fd++) {
		struct conn *c = d->byfd[fd];

		if (c && (int)fd == c->own)
			conn_free(d, c);
	}
	ipc_context_deinit(&d->ctx);
	if (d->wwwfd >= 0)
		close(d->wwwfd);
	if (d->sparefd >= 0)
		close(d->sparefd);
	free(d->byfd);
	free(d->watch);
	while (d->nrpool)
		free(d->rpool[--d->nrpool]);
	ws_spare_free(&d->spare);
}

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROGRAM " [--listen ADDR:PORT] [--allow SERVICE[:text]]..."
		" [--origin ORIGIN]...\n"
		"               [--www DIR] [--text] [--timeout MS]"
		" [--request-max BYTES]\n"
		"               [--max-message BYTES]\n"
		"Lets WebSocket clients and web pages talk to libipc services"
		" (see ipc-wsd(8)).\n"
		"  -l, --listen ADDR:PORT   TCP address to listen on (default "
		DEFAULT_LISTEN ")\n"
		"  -a, --allow SERVICE      let clients open ws://HOST/SERVICE"
		" (repeatable);\n"
		"                           SERVICE:text sends its messages as"
		" text\n"
		"  -o, --origin ORIGIN      let pages of ORIGIN (e.g."
		" https://example.org) in\n"
		"                           (repeatable; default: only"
		" clients without Origin\n"
		"                           and pages of this server by"
		" address or localhost)\n"
		"  -w, --www DIR            serve the files of DIR for other"
		" requests\n"
		"  -T, --text               send every service's messages as"
		" text\n"
		"  -t, --timeout MS         time to send a request head"
		" (default %d)\n"
		"  -r, --request-max BYTES  largest request head (default"
		" %d)\n"
		"  -m, --max-message BYTES  largest message either way"
		" (default %u)\n"
		"  -h, --help               show this help and exit\n"
		"  -V, --version            show the version and exit\n",
		DEFAULT_TIMEOUT_MS, DEFAULT_REQUEST_MAX,
		IPC_MAX_MESSAGE_SIZE_DEFAULT);
}

static int allow_add(struct options *o, const char *arg)
{
	const char *colon = strrchr(arg, ':');
	size_t len = strlen(arg);
	struct service_rule *allow;
	bool text = false;

	if (colon && strcmp(colon, ":text") == 0) {
		len = (size_t)(colon - arg);
		text = true;
	}
	if (!ipc__service_name_ok(arg, len) || memchr(arg, '/', len)) {
		fprintf(stderr, PROGRAM ": invalid service name \"%s\"\n",
			arg);
		return -EINVAL;
	}
	allow = realloc(o->allow, (o->nallow + 1) * sizeof(*allow));
	if (!allow)
		return -ENOMEM;
	o->allow = allow;
	allow[o->nallow].name = strndup(arg, len);
	allow[o->nallow].text = text;
	if (!allow[o->nallow].name)
		return -ENOMEM;
	o->nallow++;
	return 0;
}

static int origin_add(struct options *o, const char *arg)
{
	char **origins = realloc(o->origins,
				 (o->norigins + 1) * sizeof(*origins));

	if (!origins)
		return -ENOMEM;
	o->origins = origins;
	origins[o->norigins] = strdup(arg);
	if (!origins[o->norigins])
		return -ENOMEM;
	o->norigins++;
	return 0;
}

/* 0 to run, 1 when done (--help, --version), 2 on a usage error. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "allow", required_argument, NULL, 'a' },
		{ "origin", required_argument, NULL, 'o' },
		{ "www", required_argument, NULL, 'w' },
		{ "text", no_argument, NULL, 'T' },
		{ "timeout", required_argument, NULL, 't' },
		{ "request-max", required_argument, NULL, 'r' },
		{ "max-message", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret = 0;

	o->listen = DEFAULT_LISTEN;
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->request_max = DEFAULT_REQUEST_MAX;
	o->max_message = IPC_MAX_MESSAGE_SIZE_DEFAULT;
	while (ret == 0 &&
	       (c = getopt_long(argc, argv, "l:a:o:w:Tt:r:m:hV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'a':
			ret = allow_add(o, optarg);
			break;
		case 'o':
			ret = origin_add(o, optarg);
			break;
		case 'w':
			o->www = optarg;
			break;
		case 'T':
			o->text = true;
			break;
		case 't':
			ret = daemon_ms_parse(optarg, &o->timeout_ms);
			break;
		case 'r':
			ret = daemon_count_parse(optarg, REQUEST_MAX_LIMIT,
						 &o->request_max);
			break;
		case 'm':
			ret = daemon_count_parse(optarg, UINT_MAX,
						 &o->max_message);
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf(PROGRAM " (libipc) " PACKAGE_VERSION "\n");
			return 1;
		default:
			ret = -EINVAL;
		}
	}
	if (ret == 0 && optind < argc)
		ret = -EINVAL;
	if (ret < 0) {
		usage(stderr);
		return 2;
	}
	return 0;
}

static void options_free(struct options *o)
{
	size_t i;

	for (i = 0; i < o->nallow; i++)
		free(o->allow[i].name);
	free(o->allow);
	for (i = 0; i < o->norigins; i++)
		free(o->origins[i]);
	free(o->origins);
}

int main(int argc, char **argv)
{
	struct wsd d = {
		.ctxfd = -1, .listenfd = -1, .signalfd = -1, .wwwfd = -1,
		.sparefd = -1,
	};
	int ret;

	daemon_memory_setup();
	ret = parse_args(argc, argv, &d.opt);
	if (ret != 0) {
		options_free(&d.opt);
		return ret == 1 ? 0 : 2;
	}
	unsetenv("IPC_NETWORK");
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	the = &d;
	ret = start(&d);
	if (ret == 0) {
		ret = serve(&d);
		if (ret < 0)
			log_line("waiting for events: %s", strerror(-ret));
	}
	stop(&d);
	options_free(&d.opt);
	return ret < 0 ? 1 : 0;
}
