/*
 * ipc-bench - the measuring loops every implementation shares.
 *
 * SPDX-License-Identifier: ISC
 *
 * The implementations only move bytes; these loops number the messages,
 * check what comes back or arrives, and keep the time, so that every
 * implementation is measured and checked the same way.
 */

#include "bench.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pingpong_run(const struct run *r, struct result *res, roundtrip_fn fn,
		 void *arg)
{
	char *msg = xmalloc(r->size);
	struct samples lat = { 0 };
	uint64_t i, start = 0, t, end = 0;
	const char *reply;
	size_t rlen;
	int ret;

	stamp(msg, r->size, 0, true);
	for (i = 0;; i++) {
		t = now_ns();
		if (i == r->warmup)
			start = t;
		if (i >= r->warmup && run_done(r, i - r->warmup, start, t))
			break;
		stamp(msg, r->size, i, r->verify);
		ret = fn(arg, msg, r->size, &reply, &rlen);
		if (ret < 0) {
			fail(res, ret, "round trip %llu: %s",
			     (unsigned long long)i, strerror(-ret));
			break;
		}
		end = now_ns();
		if (stamp_check(reply, rlen, r->size, i, r->verify) < 0) {
			fail(res, -EBADMSG,
			     "round trip %llu: the answer (%zu bytes) is not "
			     "the message sent", (unsigned long long)i, rlen);
			break;
		}
		if (i >= r->warmup)
			samples_add(&lat, end - t);
	}
	if (i > r->warmup) {
		res->msgs = i - r->warmup;
		res->bytes = res->msgs * r->size;
		res->seconds = ns_to_s(end - start);
	}
	samples_report(&lat, res);
	free(msg);
	return res->err;
}

/* Rounds between two looks at the clock: about 16 KiB of frames. */
static uint64_t clock_every(const struct run *r)
{
	uint64_t per_round = (uint64_t)r->nconns * (r->size + FRAME_HEADER);

	return per_round >= 16384 ? 1 : 16384 / per_round;
}

/* Ends every stream with its marker, then flushes. */
static int stream_end(const struct run *r, const struct sender_ops *ops,
		      void *arg)
{
	static const char marker[1];
	unsigned int conn;
	int ret = 0;

	for (conn = 0; conn < r->nconns && !ret; conn++)
		ret = ops->send(arg, conn, marker, marker_len(r->size));
	if (!ret && ops->flush)
		ret = ops->flush(arg);
	return ret;
}

/*
 * Sends rounds of one message per connection, every message of a round
 * numbered with the round, until the count or the time is reached; then
 * ends every stream with its marker.
 */
int stream_run(const struct run *r, struct result *res,
	       const struct sender_ops *ops, void *arg)
{
	uint64_t rounds = r->count / (r->nconns ? r->nconns : 1);
	uint64_t every = clock_every(r), start = now_ns(), round;
	uint64_t limit = start + (uint64_t)(r->seconds * 1e9);
	char *msg = xmalloc(r->size);
	unsigned int conn;
	int ret = 0;

	if (r->count && !rounds)
		rounds = 1;
	stamp(msg, r->size, 0, true);
	/* The sender's own message is in; what grows now is the transport. */
	res->rss_start_kib = rss_peak_kib();
	res->start_ns = now_ns();
	for (round = 0; !ret; round++) {
		if (r->count ? round >= rounds :
			       round % every == 0 && now_ns() >= limit)
			break;
		stamp(msg, r->size, round, r->verify);
		for (conn = 0; conn < r->nconns && !ret; conn++)
			ret = ops->send(arg, conn, msg, r->size);
	}
	if (ret < 0) {
		fail(res, ret, "sending message %llu: %s",
		     (unsigned long long)round, strerror(-ret));
	} else {
		res->msgs = round * r->nconns;
		res->bytes = res->msgs * r->size;
		ret = stream_end(r, ops, arg);
		if (ret < 0)
			fail(res, ret, "ending the stream: %s", strerror(-ret));
	}
	res->seconds = ns_to_s(now_ns() - start);
	free(msg);
	return res->err;
}

void sink_init(struct sink *s, const struct run *r, struct result *res)
{
	*s = (struct sink){ .r = r, .res = res };
}

/* The slot of @conn, zeroed when new. */
static uint64_t *sink_slot(struct sink *s, uint32_t conn)
{
	size_t n;

	if (conn >= s->nnext) {
		n = s->nnext ? s->nnext : 64;
		while (n <= conn)
			n *= 2;
		s->next = realloc(s->next, n * sizeof(*s->next));
		if (!s->next)
			return NULL;
		memset(s->next + s->nnext, 0,
		       (n - s->nnext) * sizeof(*s->next));
		s->nnext = n;
	}
	return &s->next[conn];
}

static int sink_marker(struct sink *s, uint64_t *next)
{
	if (next && *next == UINT64_MAX)
		return fail(s->res, -EBADMSG, "two end markers on one stream");
	if (next)
		*next = UINT64_MAX;
	if (++s->markers < s->r->total_conns)
		return 0;
	s->last_ns = now_ns();
	s->done = true;
	return 1;
}

/*
 * Takes one message: 0 to go on, 1 once every stream has ended, or a
 * negative errno (with s->res filled in) when a message is wrong.
 */
int sink_take(struct sink *s, uint32_t conn, const char *payload,
	      size_t len)
{
	uint64_t *next = NULL, seq = 0;

	if (conn != SINK_ANONYMOUS) {
		next = sink_slot(s, conn);
		if (!next)
			return fail(s->res, -ENOMEM, "out of memory");
	}
	if (len == marker_len(s->r->size))
		return sink_marker(s, next);
	if (!s->msgs)
		s->first_ns = now_ns();
	if (!next) {
		memcpy(&seq, payload, len < 8 ? len : 8);
	} else if (*next == UINT64_MAX) {
		return fail(s->res, -EBADMSG, "a message after the end marker");
	} else {
		seq = (*next)++;
	}
	if (stamp_check(payload, len, s->r->size, seq, s->r->verify) < 0)
		return fail(s->res, -EBADMSG,
			    "message %llu of a stream (%zu bytes) is lost, "
			    "repeated or corrupted",
			    (unsigned long long)seq, len);
	s->msgs++;
	return 0;
}

void sink_report(struct sink *s)
{
	s->res->msgs = s->msgs;
	s->res->bytes = s->msgs * s->r->size;
	s->res->end_ns = s->last_ns;
	if (s->msgs && s->last_ns > s->first_ns)
		s->res->seconds = ns_to_s(s->last_ns - s->first_ns);
	free(s->next);
	s->next = NULL;
}
