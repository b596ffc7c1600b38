/*
 * fuzz-network - libFuzzer target for the text of the network protocol
 * (lib/network.c) and the daemons' handshake frame reader
 * (tools/handshake.c).
 *
 * SPDX-License-Identifier: ISC
 *
 * Byte 0 of the input chooses what is fuzzed, the rest is its input:
 *  0. ipc__route_find(): byte 1 the name's length, then the name, then
 *     the rules.  A reference written apart (rules split at every ';',
 *     words found blank by blank into a small table) must find the same
 *     rule, as the same span of the input.
 *  1. ipc__uri_parse(): the input is the URI.  A reference built on
 *     NUL-terminated copies and strspn() must agree on validity; a parsed
 *     URI's three spans must rebuild the input exactly.
 *  2. ipc__hostport_parse(): byte 1 the host buffer's size, the rest the
 *     authority.  Same reference style; the host written is NUL-terminated
 *     inside the buffer, and the authority rebuilt from host and port
 *     names the same host and port.
 *  3. ipc__reply_parse() and ipc__reply_format(): the input is parsed as
 *     a reply; a reply that parses is formatted back and must give the
 *     input again (up to a trailing space after the name).  Then byte 1
 *     (an errno value) and the rest (a reason) are formatted and parsed
 *     back: same errno (EPROTO off the list), same reason with every
 *     byte that is not printable ASCII as '?'.
 *  4. handshake_read(): byte 1 the maximum payload, byte 2 how the stream
 *     is cut into writes, the rest the stream, written into a socketpair
 *     chunk by chunk with handshake_read() after each.  A reference
 *     decoder says what it must return after each chunk; once it has
 *     returned 1 or an error, what is left in the socket must be exactly
 *     the bytes of the stream it was not entitled to (never a byte past
 *     the frame); the end of the stream is a hang-up (-ECONNRESET while
 *     the frame is incomplete).
 */

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "handshake.h"
#include "network.h"

#define HEADER 4
/* Longest stream fuzzed through the socketpair: fits its buffer. */
#define STREAM_MAX 4096

/* ------------------------------------------------------------------ */
/* 0. Rules                                                             */
/* ------------------------------------------------------------------ */

/* One rule, p[a, b): the URI's offset when it names @name, or -1. */
static long ref_rule(const char *p, size_t a, size_t b, const char *name,
		     size_t nlen)
{
	size_t ws[2], we[2], i = a;
	int n = 0;

	while (i < b) {
		if (p[i] == ' ' || p[i] == '\t') {
			i++;
			continue;
		}
		if (n == 2)
			return -1;
		ws[n] = i;
		while (i < b && p[i] != ' ' && p[i] != '\t')
			i++;
		we[n++] = i;
	}
	if (n != 2 || we[0] - ws[0] != nlen || memcmp(p + ws[0], name, nlen))
		return -1;
	return (long)ws[1];
}

/* The reference: the URI's offset in @rules, or -1. */
static long ref_route(const char *rules, size_t len, const char *name,
		      size_t nlen)
{
	size_t seg = 0, i;
	long uri;

	for (i = 0; i <= len; i++) {
		if (i < len && rules[i] != ';')
			continue;
		uri = ref_rule(rules, seg, i, name, nlen);
		if (uri >= 0)
			return uri;
		seg = i + 1;
	}
	return -1;
}

static void fuzz_route(const uint8_t *data, size_t size)
{
	size_t nlen = size ? data[0] % 16 : 0;
	const char *name, *rules;
	struct ipc_span uri;
	size_t rlen;
	long ref;
	int ret;

	if (size < 1 + nlen)
		return;
	name = (const char *)data + 1;
	rules = name + nlen;
	rlen = size - 1 - nlen;
	ret = ipc__route_find(rules, rlen, name, nlen, &uri);
	ref = ref_route(rules, rlen, name, nlen);
	CHECK(ret == (ref >= 0), "found %d, reference %ld", ret, ref);
	if (!ret)
		return;
	CHECK(uri.p == rules + ref, "URI at %ld, reference %ld",
	      (long)(uri.p - rules), ref);
	CHECK(uri.len > 0 && uri.p + uri.len <= rules + rlen, "URI length");
	CHECK(!memchr(uri.p, ' ', uri.len) && !memchr(uri.p, '\t', uri.len) &&
	      !memchr(uri.p, ';', uri.len), "URI holds a separator");
	CHECK(uri.p + uri.len == rules + rlen || uri.p[uri.len] == ' ' ||
	      uri.p[uri.len] == '\t' || uri.p[uri.len] == ';',
	      "URI cut short");
}

/* ------------------------------------------------------------------ */
/* 1. URIs                                                              */
/* ------------------------------------------------------------------ */

static const char lower[] = "abcdefghijklmnopqrstuvwxyz";
static const char scheme_set[] =
	"abcdefghijklmnopqrstuvwxyz0123456789+-.";

/* Graphic ASCII but ';' and '/': a URI's authority and service. */
static bool ref_word_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == ';' || s[i] == '/')
			return false;
	return true;
}

/* The reference, on a NUL-terminated copy without NUL inside. */
static bool ref_uri_ok(const char *s)
{
	size_t slen = strspn(s, scheme_set);
	const char *auth, *slash, *svc;

	if (slen == 0 || !strchr(lower, s[0]) || strncmp(s + slen, "://", 3))
		return false;
	auth = s + slen + 3;
	slash = strchr(auth, '/');
	if (!slash || slash == auth ||
	    !ref_word_ok(auth, (size_t)(slash - auth)))
		return false;
	svc = slash + 1;
	if (!*svc || strlen(svc) > IPC_NET_NAME_MAX || !strcmp(svc, ".") ||
	    !strcmp(svc, ".."))
		return false;
	return ref_word_ok(svc, strlen(svc));
}

static void fuzz_uri(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char copy[STREAM_MAX];
	struct ipc_uri u;
	bool ref;
	int ret;

	if (size >= sizeof(copy))
		return;
	ret = ipc__uri_parse(s, size, &u);
	CHECK(ret == 0 || ret == -EINVAL, "ret %d", ret);
	memcpy(copy, s, size);
	copy[size] = '\0';
	ref = !memchr(s, '\0', size) && ref_uri_ok(copy);
	CHECK((ret == 0) == ref, "parse %d, reference %d", ret, ref);
	if (ret)
		return;
	CHECK(u.scheme.p == s && u.scheme.p[u.scheme.len] == ':' &&
	      u.authority.p == s + u.scheme.len + 3 &&
	      u.service.p == u.authority.p + u.authority.len + 1 &&
	      u.service.p + u.service.len == s + size, "spans");
	CHECK(ipc__service_name_ok(u.service.p, u.service.len), "service");
}

/* ------------------------------------------------------------------ */
/* 2. TCP authorities                                                   */
/* ------------------------------------------------------------------ */

static const char host_set[] = "abcdefghijklmnopqrstuvwxyz"
			       "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";
static const char ipv6_set[] = "0123456789abcdefABCDEF:.";

/* The reference port: 1 to 5 digits, 1 to 65535; -1 otherwise. */
static long ref_port(const char *p)
{
	size_t n = strspn(p, "0123456789");
	long v;

	if (n == 0 || n > 5 || p[n])
		return -1;
	v = strtol(p, NULL, 10);
	return v >= 1 && v <= 65535 ? v : -1;
}

/*
 * The reference on a NUL-terminated authority: the host's length and
 * offset and the port, or false.
 */
static bool ref_hostport(const char *a, size_t *hoff, size_t *hlen,
			 long *port)
{
	const char *close, *zone;
	size_t n;

	if (a[0] == '[') {
		close = strchr(a, ']');
		if (!close || close[1] != ':')
			return false;
		*hoff = 1;
		*hlen = (size_t)(close - a - 1);
		n = strspn(a + 1, ipv6_set);
		zone = a + 1 + n;
		if (n == 0 || !memchr(a + 1, ':', n))
			return false;
		if (zone != close) {
			if (*zone != '%' || zone + 1 == close ||
			    strspn(zone + 1, host_set) !=
				    (size_t)(close - zone - 1))
				return false;
		}
		*port = ref_port(close + 2);
		return *port > 0;
	}
	n = strspn(a, host_set);
	if (n == 0 || a[n] != ':')
		return false;
	*hoff = 0;
	*hlen = n;
	*port = ref_port(a + n + 1);
	return *port > 0;
}

static void fuzz_hostport(const uint8_t *data, size_t size)
{
	char copy[STREAM_MAX], host[300];
	struct ipc_span a;
	size_t hsize, hoff = 0, hlen = 0;
	uint16_t port = 0;
	long ref_p = 0;
	bool ref;
	int ret;

	if (size < 1 || size >= sizeof(copy))
		return;
	hsize = data[0] % (sizeof(host) + 1);
	a.p = (const char *)data + 1;
	a.len = size - 1;
	memset(host, 'X', sizeof(host));
	ret = ipc__hostport_parse(a, host, hsize, &port);
	CHECK(ret == 0 || ret == -EINVAL, "ret %d", ret);
	memcpy(copy, a.p, a.len);
	copy[a.len] = '\0';
	ref = !memchr(a.p, '\0', a.len) &&
	      ref_hostport(copy, &hoff, &hlen, &ref_p) && hlen < hsize;
	CHECK((ret == 0) == ref, "parse %d, reference %d", ret, ref);
	if (ret) {
		CHECK(hsize == 0 || host[0] == 'X', "host written on failure");
		return;
	}
	CHECK(port == ref_p, "port %u, reference %ld", port, ref_p);
	CHECK(strlen(host) == hlen && !memcmp(host, copy + hoff, hlen),
	      "host");
	CHECK(hlen + 1 == sizeof(host) || host[hlen + 1] == 'X',
	      "written past the host");
}

/* ------------------------------------------------------------------ */
/* 3. Replies                                                           */
/* ------------------------------------------------------------------ */

/*
 * The reference: is p[len] "error NAME" or "error NAME TEXT" (NAME
 * upper-case letters and digits, TEXT printable ASCII)?  Sets the name's
 * length and the text's offset.
 */
static bool ref_error_ok(const char *p, size_t len, size_t *nlen,
			 size_t *toff)
{
	size_t i;

	if (len < 7 || memcmp(p, "error ", 6))
		return false;
	for (i = 6; i < len && p[i] != ' '; i++)
		if (!(p[i] >= 'A' && p[i] <= 'Z') && !(p[i] >= '0' && p[i] <= '9'))
			return false;
	*nlen = i - 6;
	if (*nlen == 0)
		return false;
	*toff = i < len ? i + 1 : len;
	for (i = *toff; i < len; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return true;
}

static void reply_roundtrip(const char *p, size_t len)
{
	char text[STREAM_MAX], out[STREAM_MAX + 64];
	size_t nlen = 0, toff = 0, cmp = len;
	struct ipc_span t;
	int ret = ipc__reply_parse(p, len, &t);
	int value, n;

	if (len == 2 && !memcmp(p, "ok", 2)) {
		CHECK(ret == 0 && t.len == 0, "ok parsed as %d", ret);
		return;
	}
	if (!ref_error_ok(p, len, &nlen, &toff)) {
		CHECK(ret == -EPROTO && t.len == 0, "garbage parsed as %d",
		      ret);
		return;
	}
	value = ipc__errno_value(p + 6, nlen);
	CHECK(ret == (value ? -value : -EPROTO), "parsed as %d, name gives %d",
	      ret, value);
	CHECK(t.p == p + toff && t.len == len - toff, "reason span");
	if (!value)
		return;
	/* A name of the list formats back to the same reply. */
	memcpy(text, t.p, t.len);
	text[t.len] = '\0';
	n = ipc__reply_format(out, sizeof(out), ret, text);
	/* "error ENAME " (empty reason) formats as "error ENAME". */
	if (!t.len && p[len - 1] == ' ')
		cmp--;
	CHECK(n > 0 && (size_t)n == cmp && !memcmp(out, p, cmp),
	      "formatted back differently");
}

static void format_roundtrip(const uint8_t *data, size_t size)
{
	char text[STREAM_MAX], out[STREAM_MAX + 64];
	int err = size ? data[0] : 0;
	struct ipc_span t;
	size_t i, tlen;
	int n, ret;

	if (size < 1 || size >= sizeof(text))
		return;
	tlen = size - 1;
	memcpy(text, data + 1, tlen);
	text[tlen] = '\0';
	tlen = strlen(text);
	n = ipc__reply_format(out, sizeof(out), err, text);
	CHECK(n > 0 && out[n] == '\0', "format %d", n);
	ret = ipc__reply_parse(out, (size_t)n, &t);
	if (!err) {
		CHECK(ret == 0, "ok parsed as %d", ret);
		return;
	}
	CHECK(ret == -(ipc__errno_value(ipc__errno_name(err),
					strlen(ipc__errno_name(err)))),
	      "errno %d parsed as %d", err, ret);
	CHECK(t.len == tlen, "reason length %zu, sent %zu", t.len, tlen);
	for (i = 0; i < tlen; i++) {
		char c = text[i] >= 0x20 && text[i] <= 0x7e ? text[i] : '?';

		CHECK(t.p[i] == c, "reason byte %zu", i);
	}
	/* One byte short of room: refused, not cut. */
	CHECK(ipc__reply_format(out, (size_t)n, err, text) == -EMSGSIZE,
	      "no room");
}

static void fuzz_reply(const uint8_t *data, size_t size)
{
	reply_roundtrip((const char *)data, size);
	format_roundtrip(data, size);
}

/* ------------------------------------------------------------------ */
/* 4. Handshake frames                                                  */
/* ------------------------------------------------------------------ */

/* One socketpair for every run: [0] written by us, [1] read. */
static int pair[2] = { -1, -1 };

static void pair_open(void)
{
	if (pair[0] >= 0)
		return;
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			 0, pair) == 0, "socketpair");
}

/* What the reader is entitled to after @avail bytes of @s arrived. */
static int ref_frame(const uint8_t *s, size_t avail, size_t max,
		     size_t *taken)
{
	uint32_t len;

	if (avail < HEADER) {
		*taken = avail;
		return 0;
	}
	len = (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 |
	      (uint32_t)s[2] << 8 | s[3];
	if (len > max) {
		*taken = HEADER;
		return -EMSGSIZE;
	}
	if (avail < HEADER + (size_t)len) {
		*taken = avail;
		return 0;
	}
	*taken = HEADER + len;
	return 1;
}

/* Reads what is left in the socket and checks it is @rest. */
static void assert_left(const uint8_t *rest, size_t len)
{
	uint8_t buf[STREAM_MAX + 1];
	ssize_t n = recv(pair[1], buf, sizeof(buf), MSG_DONTWAIT);

	if (n < 0) {
		CHECK(errno == EAGAIN && len == 0, "left: %s", strerror(errno));
		return;
	}
	CHECK((size_t)n == len && !memcmp(buf, rest, len),
	      "left %zd bytes, expected %zu", n, len);
}

static void fuzz_handshake(const uint8_t *data, size_t size)
{
	struct handshake_reader r;
	char payload[300];
	size_t max, cut, sent = 0, taken = 0, slen;
	const uint8_t *s;
	int ret = 0, ref = 0;

	if (size < 2)
		return;
	max = data[0] % sizeof(payload);
	cut = (size_t)data[1] % 16 + 1;
	s = data + 2;
	slen = size - 2;
	if (slen > STREAM_MAX)
		return;
	pair_open();
	handshake_reader_init(&r, payload, max);
	while (sent < slen && ref == 0) {
		size_t chunk = slen - sent < cut ? slen - sent : cut;

		CHECK(send(pair[0], s + sent, chunk, MSG_NOSIGNAL) ==
			      (ssize_t)chunk, "send");
		sent += chunk;
		ret = handshake_read(pair[1], &r);
		ref = ref_frame(s, sent, max, &taken);
		CHECK(ret == ref, "read %d, reference %d after %zu bytes", ret,
		      ref, sent);
	}
	if (ref == 1)
		CHECK(r.len == taken - HEADER &&
		      !memcmp(payload, s + HEADER, r.len), "payload");
	if (ref != 0) {
		/* Finished: the rest of what was sent is still there. */
		CHECK(handshake_read(pair[1], &r) == ref, "not sticky");
		assert_left(s + taken, sent - taken);
		return;
	}
	/* The stream ends inside the frame: a hang-up. */
	CHECK(shutdown(pair[0], SHUT_WR) == 0, "shutdown");
	ret = handshake_read(pair[1], &r);
	CHECK(ret == -ECONNRESET, "hang-up read %d", ret);
	close(pair[0]);
	close(pair[1]);
	pair[0] = pair[1] = -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 5) {
	case 0:
		fuzz_route(data + 1, size - 1);
		break;
	case 1:
		fuzz_uri(data + 1, size - 1);
		break;
	case 2:
		fuzz_hostport(data + 1, size - 1);
		break;
	case 3:
		fuzz_reply(data + 1, size - 1);
		break;
	default:
		fuzz_handshake(data + 1, size - 1);
		break;
	}
	return 0;
}
