/*
 * WebSocket frames (RFC 6455, section 5) for ipc-wsd.
 *
 * SPDX-License-Identifier: ISC
 *
 * The parser takes the bytes of a client's stream in pieces of any size:
 * a frame's header is gathered in a small buffer of its own, its payload
 * is unmasked into the message being reassembled (data frames) or into
 * the control buffer (control frames, at most 125 bytes), so nothing is
 * allocated beyond the bytes received.  A large payload can also be read
 * straight into the message and unmasked in place (ws_parser_direct()),
 * and the message can be the caller's buffer (ws_parser_attach()): a
 * message read whole is then never copied by the parser.
 */

#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws-frame.h"

/* First allocation of a message, and the growth step's floor. */
#define MSG_MIN_CAP 256

void ws_spare_free(struct ws_spare *s)
{
	free(s->buf);
	s->buf = NULL;
	s->cap = 0;
}

/* Keeps the larger of @buf and the spare (up to WS_SPARE_MAX). */
static void spare_give(struct ws_spare *s, char *buf, size_t cap)
{
	if (!s || cap > WS_SPARE_MAX || (s->buf && s->cap >= cap)) {
		free(buf);
		return;
	}
	free(s->buf);
	s->buf = buf;
	s->cap = cap;
}

void ws_parser_init(struct ws_parser *p, size_t max, struct ws_spare *spare)
{
	memset(p, 0, sizeof(*p));
	p->max = max;
	p->spare = spare;
}

/* The parser's own buffer goes back to the spare. */
static void own_release(struct ws_parser *p)
{
	if (!p->attached && p->msg)
		spare_give(p->spare, p->msg, p->cap);
	p->attached = false;
	p->msg = NULL;
	p->cap = 0;
}

void ws_parser_free(struct ws_parser *p)
{
	own_release(p);
	p->len = 0;
}

/* Whether a data message is being reassembled. */
static bool in_message(const struct ws_parser *p)
{
	return p->msg_op != 0 && !p->delivered;
}

void ws_parser_idle(struct ws_parser *p)
{
	if (!in_message(p)) {
		ws_parser_free(p);
		p->msg_op = 0;
		p->delivered = false;
	}
}

void ws_parser_attach(struct ws_parser *p, char *buf, size_t cap)
{
	if (in_message(p) || cap < p->max || p->attached)
		return;
	own_release(p);
	p->msg = buf;
	p->cap = cap;
	p->len = 0;
	p->attached = true;
}

int ws_parser_detach(struct ws_parser *p)
{
	char *m;

	if (!p->attached)
		return 0;
	p->attached = false;
	if (!in_message(p) || !p->len) {
		p->msg = NULL;
		p->cap = 0;
		return 0;
	}
	/* The part received so far, in a buffer of its size at least. */
	if (p->spare && p->spare->buf && p->spare->cap >= p->len) {
		m = p->spare->buf;
		p->cap = p->spare->cap;
		p->spare->buf = NULL;
		p->spare->cap = 0;
	} else {
		m = malloc(p->len);
		p->cap = p->len;
	}
	if (!m) {
		p->msg = NULL;
		p->cap = 0;
		return -ENOMEM;
	}
	memcpy(m, p->msg, p->len);
	p->msg = m;
	return 0;
}

uint16_t ws_close_code(int err)
{
	switch (err) {
	case -EILSEQ:
		return WS_CLOSE_INVALID_DATA;
	case -EMSGSIZE:
		return WS_CLOSE_TOO_BIG;
	case -ENOMEM:
		return WS_CLOSE_INTERNAL;
	default:
		return WS_CLOSE_PROTOCOL;
	}
}

size_t ws_frame_header(uint8_t out[10], uint8_t opcode, uint64_t len)
{
	int i;

	out[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
	return 10;
}

bool ws_utf8_valid(const char *s_, size_t len)
{
	const uint8_t *s = (const uint8_t *)s_;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, past U+10FFFF. */
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		i += n + 1;
	}
	return true;
}

/* Bytes of header the first two announce. */
static size_t header_size(const uint8_t *h)
{
	uint8_t len7 = h[1] & 0x7f;

	return 2 + 4 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0);
}

static bool is_control(uint8_t opcode)
{
	return opcode & 0x8;
}

/* The whole header is in p->hdr: check it and start the payload. */
static int header_done(struct ws_parser *p)
{
	const uint8_t *h = p->hdr;
	uint8_t len7 = h[1] & 0x7f;
	uint64_t n = len7;
	size_t off = 2;
	int i;

	p->fin = h[0] & 0x80;
	p->opcode = h[0] & 0x0f;
	if (h[0] & 0x70)
		return -EPROTO;		/* no extension was agreed */
	if (len7 == 126) {
		n = (uint64_t)h[2] << 8 | h[3];
		off = 4;
		if (n < 126)
			return -EPROTO;	/* not the minimal length form */
	} else if (len7 == 127) {
		n = 0;
		for (i = 0; i < 8; i++)
			n = n << 8 | h[2 + i];
		off = 10;
		if (n >> 63 || n <= 0xffff)
			return -EPROTO;
	}
	memcpy(p->mask, h + off, 4);
	p->mask_pos = 0;
	p->left = n;
	switch (p->opcode) {
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!p->fin || n > WS_CONTROL_MAX)
			return -EPROTO;
		p->ctl_len = 0;
		break;
	case WS_OP_CONTINUATION:
		if (p->msg_op == 0 || p->delivered)
			return -EPROTO;	/* nothing to continue */
		break;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (p->msg_op != 0 && !p->delivered)
			return -EPROTO;	/* the last message is not over */
		p->msg_op = p->opcode;
		p->delivered = false;
		p->len = 0;
		break;
	default:
		return -EPROTO;
	}
	if (!is_control(p->opcode) && n > p->max - p->len)
		return -EMSGSIZE;
	p->in_payload = true;
	return 0;
}

/* Room for @n more bytes of message, growing with what arrives. */
static int msg_reserve(struct ws_parser *p, size_t n)
{
	size_t need = p->len + n, cap = p->cap;
	char *m;

	if (need <= cap)
		return 0;
	if (p->attached)
		return -EMSGSIZE;	/* past the maximum: checked before */
	if (cap < MSG_MIN_CAP)
		cap = MSG_MIN_CAP;
	while (cap < need)
		cap = cap > p->max / 2 ? p->max : cap * 2;
	if (cap < need)
		cap = need;
	/* A spare large enough saves growing (and faulting in) a new one. */
	if (p->spare && p->spare->buf && p->spare->cap >= need &&
	    p->spare->cap > p->cap) {
		m = p->spare->buf;
		cap = p->spare->cap;
		p->spare->buf = NULL;
		p->spare->cap = 0;
		if (p->len)
			memcpy(m, p->msg, p->len);
		if (p->msg)
			spare_give(p->spare, p->msg, p->cap);
	} else {
		m = realloc(p->msg, cap);
		if (!m)
			return -ENOMEM;
	}
	p->msg = m;
	p->cap = cap;
	return 0;
}

/*
 * Unmasks @n bytes (@dst may be @src): byte by byte up to an 8-byte
 * boundary of @dst, then eight bytes at a time with the mask rotated to
 * where that boundary falls in it, then the bytes left.  A byte loop
 * would cost more than the rest of the relay for large messages.
 */
static void unmask(struct ws_parser *p, char *dst, const uint8_t *src,
		   size_t n)
{
	unsigned int pos = p->mask_pos;
	size_t i = 0;

	for (; i < n && ((uintptr_t)(dst + i) & 7); i++, pos = (pos + 1) & 3)
		dst[i] = (char)(src[i] ^ p->mask[pos]);
	if (n - i >= 8) {
		uint8_t key[8];
		uint64_t k, w[4];
		int j;

		for (j = 0; j < 8; j++)
			key[j] = p->mask[(pos + j) & 3];
		memcpy(&k, key, sizeof(k));
		for (; i + 32 <= n; i += 32) {
			memcpy(w, src + i, sizeof(w));
			w[0] ^= k;
			w[1] ^= k;
			w[2] ^= k;
			w[3] ^= k;
			memcpy(dst + i, w, sizeof(w));
		}
		for (; i + 8 <= n; i += 8) {
			memcpy(w, src + i, 8);
			w[0] ^= k;
			memcpy(dst + i, w, 8);
		}
		/* Whole words: the mask's position is where it was. */
	}
	for (; i < n; i++, pos = (pos + 1) & 3)
		dst[i] = (char)(src[i] ^ p->mask[pos]);
	p->mask_pos = (uint8_t)pos;
}

/* Codes a peer may send: defined ones (not the local-only 1005, 1006,
 * 1015) and those of applications and libraries (3000-4999). */
static bool close_code_valid(uint16_t code)
{
	if (code >= 3000 && code < 5000)
		return true;
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}

/* A close frame's payload: none, or a valid code and a UTF-8 reason. */
static int close_check(struct ws_parser *p, struct ws_event *ev)
{
	uint16_t code;

	ev->close_code = 0;
	if (p->ctl_len == 0)
		return 0;
	if (p->ctl_len == 1)
		return -EPROTO;
	code = (uint16_t)((uint8_t)p->ctl[0] << 8 | (uint8_t)p->ctl[1]);
	if (!close_code_valid(code))
		return -EPROTO;
	if (!ws_utf8_valid(p->ctl + 2, p->ctl_len - 2u))
		return -EILSEQ;
	ev->close_code = code;
	return 0;
}

/* The frame's payload is whole: an event, or WS_NONE for a fragment. */
static int frame_done(struct ws_parser *p, struct ws_event *ev)
{
	int ret;

	p->in_payload = false;
	p->hdr_len = 0;
	if (is_control(p->opcode)) {
		ev->data = p->ctl;
		ev->len = p->ctl_len;
		switch (p->opcode) {
		case WS_OP_PING:
			return ev->type = WS_PING;
		case WS_OP_PONG:
			return ev->type = WS_PONG;
		default:
			ret = close_check(p, ev);
			if (ret < 0)
				return ret;
			return ev->type = WS_CLOSE;
		}
	}
	if (!p->fin)
		return WS_NONE;
	if (p->msg_op == WS_OP_TEXT && !ws_utf8_valid(p->msg, p->len))
		return -EILSEQ;
	p->delivered = true;
	ev->opcode = p->msg_op;
	ev->data = p->len ? p->msg : "";
	ev->len = p->len;
	return ev->type = WS_MESSAGE;
}

int ws_parse(struct ws_parser *p, const uint8_t *in, size_t len,
	     size_t *used, struct ws_event *ev)
{
	size_t pos = 0, n;
	int ret;

	memset(ev, 0, sizeof(*ev));
	for (;;) {
		if (!p->in_payload) {
			/* Gather the header: 2 bytes say how long it is. */
			size_t want = p->hdr_len < 2 ? 2 : header_size(p->hdr);

			if (p->hdr_len >= 2 && !(p->hdr[1] & 0x80)) {
				*used = pos;
				return -EPROTO;	/* clients must mask */
			}
			if (p->hdr_len < want) {
				n = want - p->hdr_len;
				if (n > len - pos)
					n = len - pos;
				memcpy(p->hdr + p->hdr_len, in + pos, n);
				p->hdr_len = (uint8_t)(p->hdr_len + n);
				pos += n;
				if (p->hdr_len < want)
					break;	/* all input used */
				if (want == 2)
					continue;	/* now the real size */
			}
			ret = header_done(p);
			if (ret < 0) {
				*used = pos;
				return ret;
			}
		}
		n = len - pos;
		if (n > p->left)
			n = (size_t)p->left;
		if (is_control(p->opcode)) {
			unmask(p, p->ctl + p->ctl_len, in + pos, n);
			p->ctl_len = (uint8_t)(p->ctl_len + n);
		} else if (n) {
			ret = msg_reserve(p, n);
			if (ret < 0) {
				*used = pos;
				return ret;
			}
			unmask(p, p->msg + p->len, in + pos, n);
			p->len += n;
		}
		pos += n;
		p->left -= n;
		if (p->left)
			break;		/* all input used */
		ret = frame_done(p, ev);
		if (ret != WS_NONE) {
			*used = pos;
			return ret;
		}
	}
	*used = pos;
	return WS_NONE;
}

int ws_parser_direct(struct ws_parser *p, size_t min, char **dst,
		     size_t *room)
{
	size_t n;
	int ret;

	*room = 0;
	if (!p->in_payload || is_control(p->opcode) || p->left < min ||
	    !p->left)
		return 0;
	n = p->left > SIZE_MAX ? SIZE_MAX : (size_t)p->left;
	/* Our own buffer grows with what arrives, not with what the header
	 * announces: at most doubled per read. */
	if (!p->attached && n > p->len && n > MSG_MIN_CAP) {
		size_t grow = p->len > MSG_MIN_CAP ? p->len : MSG_MIN_CAP;

		if (p->cap - p->len > grow)
			grow = p->cap - p->len;
		if (n > grow)
			n = grow;
	}
	ret = msg_reserve(p, n);
	if (ret < 0)
		return ret;
	*dst = p->msg + p->len;
	*room = n;
	return 0;
}

int ws_parser_direct_done(struct ws_parser *p, size_t n, struct ws_event *ev)
{
	char *at = p->msg + p->len;

	memset(ev, 0, sizeof(*ev));
	unmask(p, at, (const uint8_t *)at, n);
	p->len += n;
	p->left -= n;
	if (p->left)
		return WS_NONE;
	return frame_done(p, ev);
}
