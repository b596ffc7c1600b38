/*
 * libFuzzer target: ipc-wsd's WebSocket frame parser (tools/ws-frame.c).
 *
 * SPDX-License-Identifier: ISC
 *
 * The input's first byte sets a small maximum message size and a chunk
 * size; the rest is a client's stream.  It is parsed three times: whole,
 * in chunks, and as ipc-wsd reads it (each chunk one callback: the
 * payload buffer attached, headers parsed, payloads put straight into
 * place with ws_parser_direct(), then detached).  All must find the same
 * events and the same error, a message never exceeds the maximum, a text
 * message is UTF-8, and the bytes used never exceed those given.
 */

#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "ws-frame.h"

#define EVENTS_MAX 64

struct record {
	int n;
	int err;
	int type[EVENTS_MAX];
	size_t len[EVENTS_MAX];
	uint32_t sum[EVENTS_MAX];
};

static uint32_t checksum(const char *p, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)p[i]) * 16777619u;
	return h;
}

static void record_event(struct record *r, int ret,
			 const struct ws_event *ev, size_t max)
{
	if (ret == WS_MESSAGE) {
		CHECK(ev->len <= max, "message %zu > %zu", ev->len, max);
		CHECK(ev->opcode != WS_OP_TEXT ||
		      ws_utf8_valid(ev->data, ev->len), "text is not UTF-8");
	} else {
		CHECK(ev->len <= WS_CONTROL_MAX, "control %zu", ev->len);
	}
	if (r->n < EVENTS_MAX) {
		r->type[r->n] = ret;
		r->len[r->n] = ev->len;
		r->sum[r->n] = checksum(ev->data, ev->len);
		r->n++;
	}
}

static void parse(const uint8_t *data, size_t size, size_t chunk,
		  size_t max, struct record *r)
{
	struct ws_parser p;
	size_t off = 0;

	memset(r, 0, sizeof(*r));
	ws_parser_init(&p, max, NULL);
	while (off < size && !r->err) {
		size_t n = size - off < chunk ? size - off : chunk, pos = 0;

		while (pos < n) {
			struct ws_event ev;
			size_t used = 0;
			int ret = ws_parse(&p, data + off + pos, n - pos, &used,
					   &ev);

			CHECK(used <= n - pos, "used %zu of %zu", used, n - pos);
			pos += used;
			if (ret < 0) {
				r->err = ret;
				break;
			}
			if (ret == WS_NONE) {
				CHECK(pos == n, "WS_NONE left %zu", n - pos);
				break;
			}
			record_event(r, ret, &ev, max);
			/* Idle between messages, as ipc-wsd is. */
			if (ret == WS_MESSAGE && (data[0] & 0x80))
				ws_parser_idle(&p);
		}
		off += n;
	}
	ws_parser_free(&p);
}

/*
 * As ipc-wsd's ws_in() reads: each chunk is one call, with a payload
 * buffer attached; a header is given a byte at a time (as much as ipc-wsd
 * would have read is not known here), a payload goes straight into place.
 */
static void parse_direct(const uint8_t *data, size_t size, size_t chunk,
			 size_t max, bool idle, struct record *r)
{
	struct ws_spare spare = { NULL, 0 };
	char *payload = malloc(max);
	struct ws_parser p;
	size_t off = 0;

	CHECK(payload != NULL, "malloc");
	memset(r, 0, sizeof(*r));
	ws_parser_init(&p, max, &spare);
	while (off < size && !r->err) {
		size_t end = size - off < chunk ? size : off + chunk;

		ws_parser_attach(&p, payload, max);
		while (off < end) {
			struct ws_event ev;
			size_t room, used;
			char *dst;
			int ret = ws_parser_direct(&p, 1, &dst, &room);

			if (ret == 0 && room) {
				size_t n = room < end - off ? room : end - off;

				memcpy(dst, data + off, n);
				off += n;
				ret = ws_parser_direct_done(&p, n, &ev);
			} else if (ret == 0) {
				ret = ws_parse(&p, data + off, 1, &used, &ev);
				CHECK(used <= 1, "used %zu of 1", used);
				off += used;
			}
			if (ret < 0) {
				r->err = ret;
				break;
			}
			if (ret != WS_NONE)
				record_event(r, ret, &ev, max);
		}
		if (ws_parser_detach(&p) < 0 && !r->err)
			r->err = -ENOMEM;
		if (idle)
			ws_parser_idle(&p);
	}
	ws_parser_free(&p);
	ws_spare_free(&spare);
	free(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record whole, chunked, direct;
	size_t max, chunk;

	if (size < 1)
		return 0;
	max = (size_t)1 << (data[0] & 0x0f);
	chunk = ((data[0] >> 4) & 0x07) + 1;
	parse(data + 1, size - 1, size, max, &whole);
	parse(data + 1, size - 1, chunk, max, &chunked);
	parse_direct(data + 1, size - 1, chunk, max, data[0] & 0x80, &direct);
	CHECK(whole.err == chunked.err, "error %d whole, %d in chunks",
	      whole.err, chunked.err);
	CHECK(whole.n == chunked.n, "%d events whole, %d in chunks", whole.n,
	      chunked.n);
	CHECK(memcmp(whole.type, chunked.type, sizeof(whole.type)) == 0 &&
	      memcmp(whole.len, chunked.len, sizeof(whole.len)) == 0 &&
	      memcmp(whole.sum, chunked.sum, sizeof(whole.sum)) == 0,
	      "the events differ");
	CHECK(whole.err == direct.err, "error %d whole, %d read direct",
	      whole.err, direct.err);
	CHECK(whole.n == direct.n &&
	      memcmp(whole.type, direct.type, sizeof(whole.type)) == 0 &&
	      memcmp(whole.len, direct.len, sizeof(whole.len)) == 0 &&
	      memcmp(whole.sum, direct.sum, sizeof(whole.sum)) == 0,
	      "the events differ read direct");
	return 0;
}
