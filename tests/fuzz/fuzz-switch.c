/*
 * fuzz-switch - libFuzzer target for switches and their callbacks.
 *
 * SPDX-License-Identifier: ISC
 *
 * Through the public API only: a context holds one end of each of two
 * socketpairs (sides A and B, added with ipc_add_external() and switched
 * with ipc_add_switch()) and the reading end of a "kick" pipe.  The
 * harness holds the other ends.  Each side has an input callback, an
 * output callback, both or none (the library's framing), as the input
 * says; the callbacks follow a script read from the input too.  The
 * harness writes frames, garbage and over-limit lengths into its ends,
 * pauses reading them, shuts them down, and drives ipc_wait_event().
 * The kick pipe holds one byte that nobody reads, so it is always
 * readable and no ipc_wait_event() call ever waits: each returns a real
 * event, or EXTERNAL for the kick pipe when nothing else happened.
 *
 * A model of what must happen is kept beside it and checked at every
 * event:
 *  - each side yields exactly the messages it was given, in order and
 *    unchanged: the frames a reference decoder finds in the bytes written
 *    to it, or the messages its input callback produced; each SWITCH_RX
 *    carries the next one, and each reaches the other side in order,
 *    unchanged (its output callback, or frames read from its socket);
 *  - an input callback that fails (or claims a message longer than the
 *    buffer it was given) makes that very call return DISCONNECTION for
 *    its side; a side disconnects first only for a reason of its own (a
 *    length over the limit, a stream that ends inside a frame, a callback
 *    that failed, or its end of file once the other side's came), and
 *    then only after every whole frame before it was forwarded;
 *  - a half-close is carried over (both sides are sockets here): a side's
 *    end of file (the harness's shutdown, or CB_FD_CLOSING) closes
 *    nothing, its input callback is not called again, and the other
 *    side's socket reaches end of file only after everything forwarded to
 *    it, with nothing forwarded to it after that; once both ended, both
 *    close;
 *  - every DISCONNECTION closes the fd and is followed by the other
 *    side's, which first writes everything forwarded to it (and reports
 *    one SWITCH_TX per message);
 *  - no other event, no error, no progress-free loop, no fd left open.
 *
 * Input: byte 0 the maximum message size, byte 1 the callbacks and queue
 * limits, then operations (see run_op()); the callbacks take their script
 * bytes from the same input when they are called.  When the input ends,
 * both sockets are shut down and the context is run until both sides are
 * gone.
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "libipc.h"

#define HEADER 4
/* Largest maximum message size the input may choose: over a chunk. */
#define MSG_MAX 200000
/* Bytes the harness writes into each side, all told. */
#define WRITE_MAX (256 * 1024)
/* Messages one side may yield, all told (zero-length frames included). */
#define QUEUE_MAX (WRITE_MAX / HEADER + 1024)
/* Payload bytes the input callbacks may produce, all told. */
#define GEN_MAX (512 * 1024)
/* ipc_wait_event() calls in a row with nothing happening, at the end. */
#define IDLE_MAX 64
/* ipc_wait_event() calls per run. */
#define EVENTS_MAX 1000000
/* How long a closed side's socket may take to reach end of file. */
#define EOF_WAIT_MS 5000

static const size_t max_sizes[8] = {
	1, 4, 16, 100, 1000, 4096, 70000, MSG_MAX,
};

/* A message: bytes logged by the harness, or a generated pattern. */
struct msg {
	const uint8_t *data;	/* NULL: byte i is seed + 13 * i */
	uint32_t len;
	uint8_t seed;
};

/* Messages in order; never wraps (QUEUE_MAX pushes per run at most). */
struct msgq {
	struct msg m[QUEUE_MAX];
	size_t head, tail;
};

struct side {
	char name;
	int lib;		/* held by the context */
	int peer;		/* held by the harness */
	bool cb_in, cb_out;
	bool shut;		/* harness shut down its writing side */
	bool paused;		/* harness does not read its end */
	bool peer_eof;
	bool rx_over;		/* a length over the limit was written */
	bool in_failed;		/* the input callback failed */
	bool in_eof;		/* the input callback said CB_FD_CLOSING */
	bool out_failed;	/* the output callback asked to close */
	bool disconnected;
	bool first;		/* disconnected while the other side lived */
	bool out_seen;		/* output callback saw the message in flight */
	/* Bytes written to peer; the reference decodes them from wpos. */
	uint8_t wlog[WRITE_MAX];
	size_t wlen, wpos;
	/* Messages this side must yield, in order. */
	struct msgq rx;
	/* Messages forwarded to this side, not yet seen on its way out. */
	struct msgq tx;
	/* Bytes read from peer, not decoded yet. */
	uint8_t rbuf[MSG_MAX + HEADER];
	size_t rlen;
	size_t forwarded;	/* messages forwarded to this side */
	size_t tx_due;		/* SWITCH_TX events it may report */
	size_t tx_seen;
	size_t tx_read;		/* tx_seen when its socket was last read */
};

static struct {
	const uint8_t *p;
	size_t left;
	size_t max;
	void *ctx;
	struct side side[2];
	int kick_r, kick_w;
	size_t generated;
	size_t events;
	/* What the callbacks of the current call promised. */
	struct side *cb_rx, *cb_disc;
	uint8_t out[MSG_MAX + HEADER];	/* frame being written */
	char evbuf[MSG_MAX];		/* ipc_wait_event() buffer */
} h;

static uint8_t take(void)
{
	if (!h.left)
		return 0;
	h.left--;
	return *h.p++;
}

static struct side *side_of(int fd)
{
	if (fd == h.side[0].lib)
		return &h.side[0];
	if (fd == h.side[1].lib)
		return &h.side[1];
	return NULL;
}

static struct side *other(struct side *s)
{
	return s == &h.side[0] ? &h.side[1] : &h.side[0];
}

/* The side's stream ended, or will once the library has read it all. */
static bool ended(const struct side *s)
{
	return s->shut || s->in_eof;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/*
 * Generated payloads: byte i is seed + 13 * i (mod 256).  As 13 * 197 is
 * 1 mod 256, that is 13 * (j + i) for j = 197 * seed: a slice of one
 * table, copied and compared with memcpy() and memcmp().
 */
static uint8_t pattern_table[MSG_MAX + 256];

static const uint8_t *pattern(uint8_t seed)
{
	size_t i;

	if (!pattern_table[1])
		for (i = 0; i < sizeof(pattern_table); i++)
			pattern_table[i] = (uint8_t)(13 * i);
	return pattern_table + (uint8_t)(197 * seed);
}

static bool msg_is(const struct msg *m, const void *payload, size_t len)
{
	if (m->len != len)
		return false;
	return !len ||
	       !memcmp(m->data ? m->data : pattern(m->seed), payload, len);
}

static void push(struct msgq *q, struct msg m)
{
	CHECK(q->tail < QUEUE_MAX, "message queue full");
	q->m[q->tail++] = m;
}

static const struct msg *head(struct msgq *q)
{
	return q->head < q->tail ? &q->m[q->head] : NULL;
}

/*
 * A message length: mostly at most the maximum, sometimes just over it,
 * or given in two bytes.
 */
static size_t pick_len(uint8_t b)
{
	size_t max = h.max, small = max < 223 ? max : 223, len;

	if (b < 224)
		return b % (small + 1);
	switch (b) {
	case 224: return max;
	case 225: return max - 1;
	case 226: return max + 1;
	case 227: return HEADER;
	case 228: return 4096;
	case 229: return 65535;
	case 230: return 65536;
	case 231: return 70000;
	default:
		if (b < 240)
			return (size_t)1 << (b - 224);
		len = (size_t)take() << 8;
		return len | take();
	}
}

/* ------------------------------------------------------------------ */
/* Callbacks                                                            */
/* ------------------------------------------------------------------ */

/* Reads up to n bytes of what the harness wrote; false at end of file. */
static bool cb_read(int fd, size_t n)
{
	static char junk[64 * 1024];
	ssize_t r;

	r = read(fd, junk, n < sizeof(junk) ? n : sizeof(junk));
	return r != 0;
}

static const size_t read_sizes[4] = { 0, 1, 64, 64 * 1024 };

/*
 * The end of file: a half-close, no event (the library goes on with the
 * other connections in the same call), unless the other side's input
 * callback ended it already: then both are done, and this call returns
 * this side's DISCONNECTION.
 */
static char cb_eof(struct side *s)
{
	s->in_eof = true;
	if (other(s)->in_eof)
		h.cb_disc = s;
	return CB_FD_CLOSING;
}

/*
 * Script byte: bits 0-2 what to return (0-2 a message, 3-4 CB_IGNORE, 5
 * CB_FD_CLOSING, 6 CB_ERROR, 7 a message longer than the buffer), bits
 * 3-4 how much to read first.  Then, for a message: its length (see
 * pick_len()) and a pattern seed.  Without input: read, CB_FD_CLOSING at
 * end of file, CB_IGNORE otherwise.
 */
static char cb_in(int fd, char *payload, size_t *mlen)
{
	struct side *s = side_of(fd);
	uint8_t a, seed;
	size_t len;

	CHECK(s && s->cb_in, "input callback on fd %d", fd);
	CHECK(!s->disconnected && !other(s)->disconnected,
	      "input callback of %c after a DISCONNECTION", s->name);
	CHECK(*mlen == h.max, "input buffer of %zu bytes, maximum %zu",
	      *mlen, h.max);
	CHECK(!h.cb_rx && !h.cb_disc, "input callback called again");
	CHECK(!s->in_eof, "input callback of %c after its CB_FD_CLOSING",
	      s->name);
	if (!h.left) {
		if (cb_read(fd, SIZE_MAX))
			return CB_IGNORE;
		return cb_eof(s);
	}
	a = take();
	cb_read(fd, read_sizes[(a >> 3) & 3]);
	switch (a & 7) {
	case 3:
	case 4:
		return CB_IGNORE;
	case 5:
		return cb_eof(s);
	case 6:
		s->in_failed = true;
		h.cb_disc = s;
		return CB_ERROR;
	case 7:
		/* Claims more than fits: the library must close the side. */
		*mlen = h.max + 1 + take();
		s->in_failed = true;
		h.cb_disc = s;
		return CB_NO_ERROR;
	default:
		break;
	}
	len = pick_len(take());
	seed = take();
	if (len > h.max)
		len = h.max;
	if (len > GEN_MAX - h.generated || s->rx.tail == QUEUE_MAX)
		return CB_IGNORE;
	h.generated += len;
	memcpy(payload, pattern(seed), len);
	*mlen = len;
	push(&s->rx, (struct msg){ .len = (uint32_t)len, .seed = seed });
	h.cb_rx = s;
	return CB_NO_ERROR;
}

/*
 * Script byte: bits 0-2 what to return (0-4 CB_NO_ERROR, 5 CB_IGNORE, 6
 * CB_FD_CLOSING, 7 CB_ERROR).  Without input: CB_NO_ERROR.
 */
static char cb_out(int fd, const char *payload, size_t mlen)
{
	struct side *s = side_of(fd), *src;
	const struct msg *m;
	uint8_t a;

	CHECK(s && s->cb_out, "output callback on fd %d", fd);
	src = other(s);
	CHECK(!s->disconnected && !src->disconnected,
	      "output callback of %c after a DISCONNECTION", s->name);
	CHECK(!s->out_seen, "output callback of %c called twice", s->name);
	m = head(&src->rx);
	CHECK(m, "%c's output callback got %zu bytes %c never yielded",
	      s->name, mlen, src->name);
	CHECK(msg_is(m, payload, mlen),
	      "%c's output callback got %zu bytes, not %c's next message "
	      "(%u bytes)", s->name, mlen, src->name, m->len);
	s->out_seen = true;
	a = h.left ? take() & 7 : 0;
	if (a < 5) {
		s->tx_due++;
		return CB_NO_ERROR;
	}
	if (a == 5)
		return CB_IGNORE;
	s->out_failed = true;
	return a == 6 ? CB_FD_CLOSING : CB_ERROR;
}

/* ------------------------------------------------------------------ */
/* The harness's ends                                                   */
/* ------------------------------------------------------------------ */

/* The reference decoder over what was written to a side without cb_in. */
static void decode_written(struct side *s)
{
	uint32_t len;

	while (!s->rx_over && s->wlen - s->wpos >= HEADER) {
		len = be32(s->wlog + s->wpos);
		if (len > h.max) {
			s->rx_over = true;
			break;
		}
		if (s->wlen - s->wpos - HEADER < len)
			break;
		push(&s->rx, (struct msg){ .data = s->wlog + s->wpos + HEADER,
					   .len = len });
		s->wpos += HEADER + len;
	}
}

/* Writes what the socket takes now; only that goes into the model. */
static void side_write(struct side *s, const uint8_t *p, size_t n)
{
	ssize_t r;

	if (s->disconnected || s->shut)
		return;
	if (n > WRITE_MAX - s->wlen)
		n = WRITE_MAX - s->wlen;
	if (!n)
		return;
	r = send(s->peer, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (r < 0 && errno == EAGAIN)
		return;
	CHECK(r > 0, "send to %c: %s", s->name, strerror(errno));
	memcpy(s->wlog + s->wlen, p, (size_t)r);
	s->wlen += (size_t)r;
	if (!s->cb_in)
		decode_written(s);
}

static void write_frame(struct side *s, size_t len, uint8_t seed)
{
	size_t n = len < MSG_MAX ? len : MSG_MAX;

	be32_put(h.out, (uint32_t)len);
	memcpy(h.out + HEADER, pattern(seed), n);
	side_write(s, h.out, HEADER + n);
}

/* Frames read from a side's socket: the messages forwarded to it. */
static void decode_read(struct side *s)
{
	const struct msg *m;
	size_t pos = 0;
	uint32_t len;

	while (s->rlen - pos >= HEADER) {
		len = be32(s->rbuf + pos);
		CHECK(len <= h.max, "%c: the library wrote a %u-byte frame",
		      s->name, len);
		if (s->rlen - pos - HEADER < len)
			break;
		m = head(&s->tx);
		CHECK(m, "%c: a %u-byte frame nobody forwarded", s->name, len);
		CHECK(msg_is(m, s->rbuf + pos + HEADER, len),
		      "%c: a %u-byte frame, not the next message forwarded "
		      "(%u bytes)", s->name, len, m->len);
		s->tx.head++;
		pos += HEADER + len;
	}
	memmove(s->rbuf, s->rbuf + pos, s->rlen - pos);
	s->rlen -= pos;
}

/*
 * Waits until the harness's end of a side that had its DISCONNECTION is
 * readable; false if it is not within EOF_WAIT_MS.  on_disconnection()
 * checked that the library closed the fd, but Linux releases a socket,
 * and gives its peer end of file, only when the last reference to it
 * goes: whoever reads /proc/PID/fd of this process holds one for a
 * moment, and until they let go the peer reads EAGAIN.  A socket still
 * open after that long is one the library did not close.
 */
static bool wait_eof(struct side *s)
{
	struct pollfd p = { .fd = s->peer, .events = POLLIN };

	return poll(&p, 1, EOF_WAIT_MS) == 1;
}

/*
 * Reads what the library wrote to a side; true when bytes came.  Until
 * the end (all) a side is read only when messages are on their way to its
 * socket and the library may have written since the last read: it
 * reported SWITCH_TX there, or it flushed and found nothing else to do
 * (idle).  Bytes written otherwise are found by a later read anyway.
 */
static bool side_read(struct side *s, bool all, bool idle)
{
	size_t room;
	bool got = false, waited = false;
	ssize_t r;

	if (!all && (s->cb_out || !head(&s->tx) ||
		     (!idle && s->tx_seen == s->tx_read)))
		return false;
	s->tx_read = s->tx_seen;
	while (!s->peer_eof && !s->paused) {
		room = sizeof(s->rbuf) - s->rlen;
		r = recv(s->peer, s->rbuf + s->rlen, room, MSG_DONTWAIT);
		if (r < 0 && errno == EAGAIN) {
			/* A side that is gone owes end of file. */
			if (all && s->disconnected && !waited) {
				waited = true;
				if (wait_eof(s))
					continue;
			}
			break;
		}
		if (r == 0 && !s->disconnected) {
			/* The other side's half-close, carried over. */
			CHECK(ended(other(s)), "%c closed without DISCONNECTION",
			      s->name);
			CHECK(!head(&s->tx) && !s->rlen, "%c: end of file with "
			      "%zu of %zu messages forwarded to it unwritten "
			      "(%zu bytes of a frame)", s->name,
			      s->tx.tail - s->tx.head, s->forwarded, s->rlen);
			s->peer_eof = true;
			break;
		}
		if (r == 0 || (r < 0 && errno == ECONNRESET)) {
			CHECK(s->disconnected, "%c closed without DISCONNECTION",
			      s->name);
			s->peer_eof = true;
			break;
		}
		CHECK(r > 0, "recv from %c: %s", s->name, strerror(errno));
		CHECK(!s->cb_out, "%zd bytes written to %c, which has an "
		      "output callback", r, s->name);
		got = true;
		s->rlen += (size_t)r;
		decode_read(s);
		/* A short read emptied the socket: save the EAGAIN. */
		if ((size_t)r < room && !all)
			break;
	}
	return got;
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

static void on_switch_rx(struct side *s, size_t len)
{
	struct side *dst = other(s);
	const struct msg *m = head(&s->rx);

	CHECK(!dst->disconnected, "SWITCH_RX from %c after %c's "
	      "DISCONNECTION", s->name, dst->name);
	CHECK(!dst->peer_eof, "SWITCH_RX from %c after %c's writing was shut "
	      "down", s->name, dst->name);
	CHECK(m, "SWITCH_RX of %zu bytes from %c, which was given no more",
	      len, s->name);
	CHECK(msg_is(m, h.evbuf, len), "SWITCH_RX from %c: %zu bytes, not "
	      "its next message (%u bytes)", s->name, len, m->len);
	CHECK(!s->cb_in || h.cb_rx == s, "SWITCH_RX from %c without its "
	      "input callback", s->name);
	dst->forwarded++;
	if (dst->cb_out) {
		CHECK(dst->out_seen, "message from %c forwarded without %c's "
		      "output callback", s->name, dst->name);
		dst->out_seen = false;
	} else {
		push(&dst->tx, *m);
		dst->tx_due++;
	}
	s->rx.head++;
}

static void on_disconnection(struct side *s)
{
	struct side *o = other(s);

	CHECK(!s->disconnected, "second DISCONNECTION of %c", s->name);
	CHECK(fcntl(s->lib, F_GETFD) < 0 && errno == EBADF,
	      "%c still open after its DISCONNECTION", s->name);
	s->disconnected = true;
	if (o->disconnected)
		return;
	s->first = true;
	/* A framed side that ends inside a frame is broken, not done. */
	CHECK(s->rx_over || s->in_failed || s->out_failed ||
	      (s->shut && !s->cb_in && s->wpos < s->wlen) ||
	      (ended(s) && ended(o)),
	      "%c disconnected first, for no reason of its own", s->name);
	/* Whole frames before a bad length or end of file are forwarded. */
	CHECK(s->cb_in || s->out_failed || head(&s->rx) == NULL,
	      "%c disconnected with %zu whole frames not forwarded", s->name,
	      s->rx.tail - s->rx.head);
}

/* One ipc_wait_event() call; true when something happened. */
static bool pump(void)
{
	size_t left = h.left, index, buflen = sizeof(h.evbuf);
	struct side *s;
	bool busy = true, idle;
	int ret, fd, newfd;
	char t;

	h.cb_rx = h.cb_disc = NULL;
	ret = ipc_wait_event(h.ctx, &t, &index, &fd, &newfd, h.evbuf, &buflen);
	CHECK(ret == 0, "ipc_wait_event: %d (%s), event %d", ret,
	      strerror(-ret), t);
	h.events++;
	s = side_of(fd);
	CHECK(!h.cb_rx || (t == SWITCH_RX && s == h.cb_rx),
	      "%c's input callback gave a message, event %d on fd %d",
	      h.cb_rx->name, t, fd);
	CHECK(!h.cb_disc || (t == DISCONNECTION && s == h.cb_disc),
	      "%c's input callback closed it, event %d on fd %d",
	      h.cb_disc->name, t, fd);
	switch (t) {
	case EXTERNAL:
		CHECK(fd == h.kick_r, "EXTERNAL on fd %d", fd);
		busy = false;
		break;
	case SWITCH_RX:
		CHECK(s, "SWITCH_RX on fd %d", fd);
		on_switch_rx(s, buflen);
		break;
	case SWITCH_TX:
		CHECK(s, "SWITCH_TX on fd %d", fd);
		s->tx_seen++;
		CHECK(s->tx_seen <= s->tx_due, "%zu SWITCH_TX on %c, %zu due",
		      s->tx_seen, s->name, s->tx_due);
		break;
	case DISCONNECTION:
		CHECK(s, "DISCONNECTION of fd %d", fd);
		on_disconnection(s);
		break;
	default:
		CHECK(0, "event %d on fd %d", t, fd);
	}
	idle = t == EXTERNAL;
	busy |= side_read(&h.side[0], false, idle);
	busy |= side_read(&h.side[1], false, idle);
	return busy || h.left != left;
}

/* ------------------------------------------------------------------ */
/* The run                                                              */
/* ------------------------------------------------------------------ */

/*
 * Operation byte: bits 0-2 the operation, bit 3 the side, bits 4-7 its
 * argument n:
 *   0, 1  a frame: length byte (pick_len()), payload pattern
 *   2     n + 1 bytes taken from the input as they are
 *   3     a header over the limit (maximum + 1, or 2^32 - 1 if n odd)
 *   4, 5  ipc_wait_event() calls, up to 2n + 1, until one finds
 *         nothing to do
 *   6     shut the side down for writing (end of file for the library)
 *   7     stop or resume reading the side (backpressure)
 */
static void run_op(void)
{
	uint8_t op = take(), b[16];
	struct side *s = &h.side[(op >> 3) & 1];
	size_t i, n = op >> 4;

	switch (op & 7) {
	case 0:
	case 1:
		write_frame(s, pick_len(take()), op);
		break;
	case 2:
		for (i = 0; i <= n; i++)
			b[i] = take();
		side_write(s, b, n + 1);
		break;
	case 3:
		be32_put(b, n & 1 ? UINT32_MAX : (uint32_t)h.max + 1);
		side_write(s, b, HEADER);
		break;
	case 4:
	case 5:
		for (i = 0; i < 2 * n + 1; i++)
			if (!pump())
				break;
		break;
	case 6:
		if (!s->shut && !s->disconnected)
			shutdown(s->peer, SHUT_WR);
		s->shut = true;
		break;
	default:
		s->paused = !s->paused;
		break;
	}
}

/* Ends the input: both sides at end of file, run until both are gone. */
static void finish(void)
{
	struct side *s;
	int idle = 0, i;

	for (i = 0; i < 2; i++) {
		s = &h.side[i];
		s->paused = false;
		if (!s->shut && !s->disconnected)
			shutdown(s->peer, SHUT_WR);
		s->shut = true;
	}
	while (!h.side[0].disconnected || !h.side[1].disconnected) {
		idle = pump() ? 0 : idle + 1;
		CHECK(idle < IDLE_MAX && h.events < EVENTS_MAX,
		      "no progress after %zu events: A %s, B %s", h.events,
		      h.side[0].disconnected ? "closed" : "open",
		      h.side[1].disconnected ? "closed" : "open");
	}
	for (i = 0; i < 2; i++) {
		s = &h.side[i];
		side_read(s, true, true);
		CHECK(s->peer_eof, "%c: no end of file after DISCONNECTION",
		      s->name);
		if (s->first) {
			CHECK(s->tx_seen <= s->tx_due, "%c: %zu SWITCH_TX, "
			      "%zu due", s->name, s->tx_seen, s->tx_due);
			continue;
		}
		/* The survivor wrote everything forwarded to it. */
		CHECK(!head(&s->tx) && !s->rlen, "%c: %zu of %zu messages "
		      "forwarded to it never arrived (%zu bytes of a frame)",
		      s->name, s->tx.tail - s->tx.head, s->forwarded, s->rlen);
		CHECK(s->tx_seen == s->tx_due, "%c: %zu SWITCH_TX, %zu due",
		      s->name, s->tx_seen, s->tx_due);
	}
}

/* Open fds; the directory stays open from one run to the next. */
static int count_fds(void)
{
	static DIR *d;
	int n = 0;

	if (!d)
		d = opendir("/proc/self/fd");
	CHECK(d, "/proc/self/fd: %s", strerror(errno));
	rewinddir(d);
	while (readdir(d))
		n++;
	return n;
}

static void side_init(struct side *s, char name, uint8_t cbs)
{
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			 0, sv) == 0, "socketpair: %s", strerror(errno));
	s->name = name;
	s->lib = sv[0];
	s->peer = sv[1];
	s->cb_in = cbs & 1;
	s->cb_out = cbs & 2;
	s->wlen = s->wpos = s->rlen = 0;
	s->rx.head = s->rx.tail = s->tx.head = s->tx.tail = 0;
	s->forwarded = s->tx_due = s->tx_seen = s->tx_read = 0;
	s->shut = s->paused = s->peer_eof = false;
	s->rx_over = s->in_failed = s->in_eof = s->out_failed = false;
	s->disconnected = s->first = s->out_seen = false;
	CHECK(ipc_add_external(h.ctx, s->lib) == 0, "ipc_add_external");
}

static void set_callbacks(struct side *s)
{
	int ret = ipc_set_switch_callbacks(h.ctx, s->lib,
					   s->cb_in ? cb_in : NULL,
					   s->cb_out ? cb_out : NULL);

	CHECK(ret == 0, "ipc_set_switch_callbacks: %d", ret);
}

/*
 * Byte 1: bits 0-1 A's input and output callbacks, bits 2-3 B's, bit 4
 * set them after ipc_add_switch() rather than before, bits 5-6 the
 * queue high-water mark (default, 1, 100 or 4096 bytes).
 */
static void setup(uint8_t cfg)
{
	static const size_t high[4] = { IPC_QUEUE_HIGH_WATER_DEFAULT, 1, 100,
					4096 };
	int p[2], ret;

	ret = ipc_context_max_message_size(h.ctx, h.max);
	CHECK(ret == 0, "ipc_context_max_message_size: %d", ret);
	ret = ipc_context_queue_limits(h.ctx, high[(cfg >> 5) & 3],
				       IPC_QUEUE_MAX_DEFAULT);
	CHECK(ret == 0, "ipc_context_queue_limits: %d", ret);
	side_init(&h.side[0], 'A', cfg);
	side_init(&h.side[1], 'B', cfg >> 2);
	CHECK(pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0, "pipe2: %s",
	      strerror(errno));
	h.kick_r = p[0];
	h.kick_w = p[1];
	CHECK(write(h.kick_w, "k", 1) == 1, "kick: %s", strerror(errno));
	CHECK(ipc_add_external(h.ctx, h.kick_r) == 0, "ipc_add_external");
	if (!(cfg & 16)) {
		set_callbacks(&h.side[0]);
		set_callbacks(&h.side[1]);
	}
	ret = ipc_add_switch(h.ctx, h.side[0].lib, h.side[1].lib);
	CHECK(ret == 0, "ipc_add_switch: %d", ret);
	if (cfg & 16) {
		set_callbacks(&h.side[0]);
		set_callbacks(&h.side[1]);
	}
}

/*
 * One context serves every run, as one serves every connection of a
 * daemon: its buffer pool is reused instead of mapping fresh memory for
 * each input (twice as many runs a second), and each run starts from a
 * context whose earlier connections are all gone, which it checks.
 */
static void context_once(void)
{
	int ret;

	if (h.ctx)
		return;
	ret = ipc_context_init(&h.ctx);
	CHECK(ret == 0, "ipc_context_init: %d", ret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds;
	uint8_t cfg;

	if (size < 2)
		return 0;
	context_once();
	fds = count_fds();
	h.p = data;
	h.left = size;
	h.max = max_sizes[take() & 7];
	cfg = take();
	h.generated = 0;
	h.events = 0;
	setup(cfg);
	while (h.left && !(h.side[0].disconnected && h.side[1].disconnected))
		run_op();
	finish();
	close(h.side[0].peer);
	close(h.side[1].peer);
	close(h.kick_w);
	CHECK(ipc_close_fd(h.ctx, h.kick_r) == 0, "ipc_close_fd(kick)");
	CHECK(count_fds() == fds, "%d fds open, %d before", count_fds(), fds);
	return 0;
}
