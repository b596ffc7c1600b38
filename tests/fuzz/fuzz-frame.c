/*
 * fuzz-frame - libFuzzer target for the frame decoder of lib/read.c.
 *
 * SPDX-License-Identifier: ISC
 *
 * The input describes a byte stream, the sizes of the reads that deliver
 * it and the context's maximum message size.  The harness feeds the
 * stream to a connection exactly as ipc__fill() does with read(2)
 * (ipc__in_reserve(), then bytes appended at in.data + in.len), and takes
 * frames out with ipc__frame_peek() and ipc__frame_consume() after every
 * read.  An independent reference decoder reads the whole stream first;
 * after every read the library must agree with it: the same frames, in
 * the same order, byte for byte, -EPROTO exactly when the next header is
 * whole and over the limit, "need more" otherwise, and the same number of
 * bytes held.  The read buffer may not grow beyond twice the most bytes
 * the connection ever held at once plus two chunks: memory follows the
 * bytes that arrived, not the length a peer announced; and it may grow
 * only so many times for one frame (geometrically, not at every read).
 * These two checks are skipped when FUZZ_FRAME_NO_GROWTH_CHECK is set in
 * the environment, to fuzz the rest while a known growth bug waits for
 * its fix; the maximum message size then stays at 300000 bytes at most,
 * so that such a bug cannot grow the buffer to the gigabytes a peer may
 * announce.
 *
 * Input: byte 0 picks the maximum message size; then operations, one
 * byte each (top two bits: the kind) with their arguments:
 *   00nnnnnn            n+1 literal bytes follow, appended to the stream
 *   01----ss v hi lo    (hi:lo + 1) << ss bytes of value v
 *   10-pkkkk            a 4-byte length header: k picks the value (0, 1,
 *                       max-1, max, max+1, 2^32-1, 2^31, 4 bytes given,
 *                       a byte given, ...); p: its payload follows
 *   11vvvvvv            the next read size: v in 1..47 as is, 48..63
 *                       2^(v-40) bytes, 0: 3 bytes given (+1)
 * Read sizes are used in turn for the first READS_MAX reads; without
 * any, and after those, each read fills the room.
 */

#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Frames over two chunks fit; more would only slow each run down. */
#define STREAM_MAX (2 * IPC_CHUNK + IPC_CHUNK / 2)
#define CUTS_MAX 256
/* Reads of the sizes given; later ones fill the room. */
#define READS_MAX 1024
/* Times the read buffer may grow while one frame is incomplete. */
#define RESIZES_MAX 40
#define FRAMES_MAX (STREAM_MAX / IPC_HEADER + 1)

static const size_t max_sizes[8] = {
	1, 4, 100, 4096, IPC_CHUNK - 4, IPC_CHUNK + 1, 300000,
	UINT32_MAX,
};

/* The stream and how it is cut, decoded from the input. */
static uint8_t stream[STREAM_MAX];
static size_t stream_len;
static size_t cuts[CUTS_MAX];
static uint8_t pattern[STREAM_MAX + 256];
static size_t ncuts;

/* What the reference decoder found in the whole stream. */
static struct {
	size_t off[FRAMES_MAX];	/* start of frame i's header */
	uint32_t len[FRAMES_MAX];
	size_t nframes;
	size_t tail;		/* start of what follows the last frame */
	int over;		/* the header at tail is over the limit */
} ref;

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t take(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static void emit(const void *p, size_t n)
{
	if (n > STREAM_MAX - stream_len)
		n = STREAM_MAX - stream_len;
	memcpy(stream + stream_len, p, n);
	stream_len += n;
}

static void emit_fill(uint8_t v, size_t n)
{
	if (n > STREAM_MAX - stream_len)
		n = STREAM_MAX - stream_len;
	memset(stream + stream_len, v, n);
	stream_len += n;
}

static void emit_header(struct input *in, uint8_t op, size_t max)
{
	uint32_t v;
	uint8_t h[IPC_HEADER];
	size_t i;

	switch (op & 15) {
	case 0: v = 0; break;
	case 1: v = 1; break;
	case 2: v = (uint32_t)(max - 1); break;
	case 3: v = (uint32_t)max; break;
	case 4: v = max < UINT32_MAX ? (uint32_t)max + 1 : 0; break;
	case 5: v = UINT32_MAX; break;
	case 6: v = 1u << 31; break;
	case 7:
		v = (uint32_t)take(in) << 24;
		v |= (uint32_t)take(in) << 16;
		v |= (uint32_t)take(in) << 8;
		v |= take(in);
		break;
	case 8: v = IPC_CHUNK; break;
	case 9: v = IPC_CHUNK / 2; break;
	case 10: v = IPC_CHUNK * 2 + 1; break;
	case 11:
		v = (uint32_t)take(in) << 8;
		v |= take(in);
		break;
	default: v = take(in); break;
	}
	h[0] = (uint8_t)(v >> 24);
	h[1] = (uint8_t)(v >> 16);
	h[2] = (uint8_t)(v >> 8);
	h[3] = (uint8_t)v;
	emit(h, sizeof(h));
	if (!(op & 16))
		return;
	/*
	 * Payload byte i is 7 * i + op (mod 256): as 7 * 183 is 1 mod 256,
	 * that is 7 * (j + i) for j = 183 * op, a slice of one table.
	 */
	if (!pattern[1])
		for (i = 0; i < sizeof(pattern); i++)
			pattern[i] = (uint8_t)(7 * i);
	emit(pattern + (uint8_t)(183 * op), v < STREAM_MAX ? v : STREAM_MAX);
}

static void add_cut(struct input *in, uint8_t v)
{
	size_t n;

	if (v == 0) {
		n = (size_t)take(in) << 16;
		n |= (size_t)take(in) << 8;
		n |= take(in);
		n++;
	} else if (v < 48) {
		n = v;
	} else {
		n = (size_t)1 << (v - 40);
	}
	if (ncuts < CUTS_MAX)
		cuts[ncuts++] = n;
}

static void parse(struct input *in, size_t max)
{
	uint8_t op, v;
	size_t n;

	stream_len = 0;
	ncuts = 0;
	while (in->left && stream_len < STREAM_MAX) {
		op = take(in);
		switch (op >> 6) {
		case 0:
			n = (size_t)(op & 63) + 1;
			if (n > in->left)
				n = in->left;
			emit(in->p, n);
			in->p += n;
			in->left -= n;
			break;
		case 1:
			v = take(in);
			n = (size_t)take(in) << 8;
			n |= take(in);
			emit_fill(v, (n + 1) << (op & 3));
			break;
		case 2:
			emit_header(in, op, max);
			break;
		default:
			add_cut(in, op & 63);
			break;
		}
	}
}

static uint32_t be32_at(size_t p)
{
	return (uint32_t)stream[p] << 24 | (uint32_t)stream[p + 1] << 16 |
	       (uint32_t)stream[p + 2] << 8 | stream[p + 3];
}

/* The reference: 4-byte big-endian length, payload, same maximum. */
static void reference(size_t max)
{
	size_t pos = 0;
	uint32_t len;

	ref.nframes = 0;
	ref.over = 0;
	while (stream_len - pos >= IPC_HEADER) {
		len = be32_at(pos);
		if (len > max) {
			ref.over = 1;
			break;
		}
		if (stream_len - pos - IPC_HEADER < len)
			break;
		ref.off[ref.nframes] = pos;
		ref.len[ref.nframes] = len;
		ref.nframes++;
		pos += IPC_HEADER + len;
	}
	ref.tail = pos;
}

/* What ipc__frame_peek() must say for frame i once fed bytes arrived. */
static int expected(size_t i, size_t fed)
{
	if (i < ref.nframes)
		return fed >= ref.off[i] + IPC_HEADER + ref.len[i];
	if (ref.over && fed >= ref.tail + IPC_HEADER)
		return -EPROTO;
	return 0;
}

static size_t frame_start(size_t i)
{
	return i < ref.nframes ? ref.off[i] : ref.tail;
}

/* The length in frame i's header, or 0 while it is not whole. */
static uint32_t announced(size_t i, size_t fed)
{
	size_t p = frame_start(i);

	return fed < p + IPC_HEADER ? 0 : be32_at(p);
}

static bool growth_checked(void)
{
	static int checked = -1;

	if (checked < 0)
		checked = !getenv("FUZZ_FRAME_NO_GROWTH_CHECK");
	return checked;
}

/*
 * Feeds the stream in reads, taking frames out after each one.  Besides
 * agreeing with the reference, the read buffer must grow geometrically:
 * while one frame is incomplete it may grow RESIZES_MAX times at most
 * (15 doublings take a chunk to 4 GiB), not at every read.
 */
static void run(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	size_t fed = 0, done = 0, reads = 0, peak = 0, room, n, len, live;
	size_t cap = 0, grown = 0, frame = SIZE_MAX;
	const char *payload;
	int ret = 0, want;

	while (fed < stream_len) {
		ret = ipc__in_reserve(ctx, c);
		CHECK(ret == 0, "ipc__in_reserve: %d", ret);
		if (frame != done) {
			frame = done;
			grown = 0;
		}
		if (c->in.cap > cap)
			grown++;
		cap = c->in.cap;
		CHECK(!growth_checked() || grown <= RESIZES_MAX,
		      "read buffer grown %zu times for frame %zu (%zu bytes "
		      "of it held, %zu-byte buffer, next frame announces %"
		      PRIu32 ")", grown, done, fed - frame_start(done), cap,
		      announced(done, fed));
		CHECK(!growth_checked() ||
		      c->in.cap <= 2 * peak + 2 * IPC_CHUNK,
		      "read buffer of %zu bytes after %zu reads, at most %zu "
		      "bytes ever held (%zu fed, %zu frames out, next frame "
		      "announces %" PRIu32 ")", c->in.cap, reads, peak, fed,
		      done, announced(done, fed));
		room = c->in.cap - c->in.len;
		CHECK(room > 0, "no room to read into (cap %zu)", c->in.cap);
		n = ncuts && reads < READS_MAX ? cuts[reads % ncuts] : room;
		reads++;
		if (n > room)
			n = room;
		if (n > stream_len - fed)
			n = stream_len - fed;
		memcpy(c->in.data + c->in.len, stream + fed, n);
		c->in.len += n;
		fed += n;
		if (c->in.len - c->in.off > peak)
			peak = c->in.len - c->in.off;
		for (;;) {
			want = expected(done, fed);
			ret = ipc__frame_peek(ctx, c, &payload, &len);
			CHECK(ret == want,
			      "frame %zu after %zu bytes: peek %d, reference %d",
			      done, fed, ret, want);
			if (ret <= 0)
				break;
			CHECK(len == ref.len[done],
			      "frame %zu: length %zu, reference %u", done, len,
			      ref.len[done]);
			CHECK(!memcmp(payload,
				      stream + ref.off[done] + IPC_HEADER, len),
			      "frame %zu: payload differs", done);
			ipc__frame_consume(ctx, c, len);
			done++;
		}
		if (ret < 0)
			break;
		live = c->in.len - c->in.off;
		CHECK(live == fed - frame_start(done),
		      "%zu bytes held after %zu fed, reference %zu", live, fed,
		      fed - frame_start(done));
		CHECK(live || !c->in.data, "an empty buffer holds memory");
	}
	CHECK(done == ref.nframes, "%zu frames, reference %zu", done,
	      ref.nframes);
	CHECK(ret < 0 || !ref.over || fed < ref.tail + IPC_HEADER,
	      "over-limit length at %zu not reported", ref.tail);
}

/*
 * One context serves every run, as one serves every connection of a
 * daemon: its chunk pool is reused instead of mapping fresh memory for
 * each input.  The spare grown buffer is dropped after each run, so that
 * a run's buffer sizes depend on its own input only.
 */
static struct ipc_ctx *context(size_t max)
{
	static void *handle;
	int ret;

	if (!handle) {
		ret = ipc_context_init(&handle);
		CHECK(ret == 0, "ipc_context_init: %d", ret);
	}
	ret = ipc_context_max_message_size(handle, max);
	CHECK(ret == 0, "ipc_context_max_message_size: %d", ret);
	return handle;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct ipc_conn conn = { .fd = -1, .peer = IPC_NONE };
	struct ipc_ctx *ctx;
	size_t max;

	if (!size)
		return 0;
	max = max_sizes[take(&in) & 7];
	if (!growth_checked() && max > max_sizes[6])
		max = max_sizes[6];
	parse(&in, max);
	reference(max);
	ctx = context(max);
	run(ctx, &conn);
	ipc__buf_drop(ctx, &conn.in);
	free(ctx->spare);
	ctx->spare = NULL;
	ctx->spare_cap = 0;
	return 0;
}
