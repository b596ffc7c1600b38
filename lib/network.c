/*
 * The text of the network protocol: see network.h and doc/network.md.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include "network.h"

#include <errno.h>
#include <string.h>

#define ERRNO_ENTRY(e) { e, #e, sizeof(#e) - 1 }

/* The names a reply may carry (doc/network.md, "Messages"). */
static const struct {
	int value;
	const char *name;
	size_t len;
} errno_names[] = {
	ERRNO_ENTRY(ENOENT),
	ERRNO_ENTRY(EACCES),
	ERRNO_ENTRY(EPERM),
	ERRNO_ENTRY(ECONNREFUSED),
	ERRNO_ENTRY(ECONNRESET),
	ERRNO_ENTRY(ECONNABORTED),
	ERRNO_ENTRY(ETIMEDOUT),
	ERRNO_ENTRY(EHOSTUNREACH),
	ERRNO_ENTRY(EHOSTDOWN),
	ERRNO_ENTRY(ENETUNREACH),
	ERRNO_ENTRY(ENETDOWN),
	ERRNO_ENTRY(EADDRNOTAVAIL),
	ERRNO_ENTRY(EPROTO),
	ERRNO_ENTRY(EINVAL),
	ERRNO_ENTRY(ENAMETOOLONG),
	ERRNO_ENTRY(EMSGSIZE),
	ERRNO_ENTRY(ENOMEM),
	ERRNO_ENTRY(ENOBUFS),
	ERRNO_ENTRY(EMFILE),
	ERRNO_ENTRY(ENFILE),
};

#define N_ERRNO_NAMES (sizeof(errno_names) / sizeof(errno_names[0]))

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return is_lower(c) || (c >= 'A' && c <= 'Z');
}

static bool is_xdigit(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Printable ASCII, space included. */
static bool is_print(char c)
{
	return c >= 0x20 && c <= 0x7e;
}

/* What a URI's authority and service may hold: a word of a rule. */
static bool is_uri_char(char c)
{
	return c > 0x20 && c <= 0x7e && c != ';';
}

static bool span_eq(const char *p, size_t len, const char *s, size_t slen)
{
	return len == slen && memcmp(p, s, len) == 0;
}

/* The next blank-separated word of p[*i, end), or false when none. */
static bool word_next(const char *p, size_t end, size_t *i,
		      struct ipc_span *w)
{
	size_t start;

	while (*i < end && is_blank(p[*i]))
		(*i)++;
	if (*i == end)
		return false;
	start = *i;
	while (*i < end && !is_blank(p[*i]))
		(*i)++;
	w->p = p + start;
	w->len = *i - start;
	return true;
}

/* One rule, p[start, end): 1 with *uri when it names @name. */
static int rule_match(const char *p, size_t start, size_t end,
		      const char *name, size_t name_len, struct ipc_span *uri)
{
	struct ipc_span first, second, extra;
	size_t i = start;

	if (!word_next(p, end, &i, &first) || !word_next(p, end, &i, &second))
		return 0;
	if (word_next(p, end, &i, &extra))
		return 0;
	if (!span_eq(first.p, first.len, name, name_len))
		return 0;
	*uri = second;
	return 1;
}

int ipc__route_find(const char *rules, size_t rules_len, const char *name,
		    size_t name_len, struct ipc_span *uri)
{
	size_t start = 0, end;

	if (!rules)
		return 0;
	while (start <= rules_len) {
		const char *semi = memchr(rules + start, ';', rules_len - start);

		end = semi ? (size_t)(semi - rules) : rules_len;
		if (rule_match(rules, start, end, name, name_len, uri))
			return 1;
		start = end + 1;
	}
	return 0;
}

bool ipc__service_name_ok(const char *name, size_t len)
{
	if (!name || len == 0 || len > IPC_NET_NAME_MAX)
		return false;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return false;
	return !span_eq(name, len, ".", 1) && !span_eq(name, len, "..", 2);
}

static bool scheme_ok(const char *p, size_t len)
{
	size_t i;

	if (len == 0 || !is_lower(p[0]))
		return false;
	for (i = 1; i < len; i++)
		if (!is_lower(p[i]) && !is_digit(p[i]) && p[i] != '+' &&
		    p[i] != '-' && p[i] != '.')
			return false;
	return true;
}

static bool uri_chars_ok(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_uri_char(p[i]))
			return false;
	return true;
}

int ipc__uri_parse(const char *s, size_t len, struct ipc_uri *u)
{
	const char *colon, *slash;
	size_t slen, alen;

	if (!s)
		return -EINVAL;
	colon = memchr(s, ':', len);
	if (!colon)
		return -EINVAL;
	slen = (size_t)(colon - s);
	if (!scheme_ok(s, slen) || len - slen < 3 || colon[1] != '/' ||
	    colon[2] != '/')
		return -EINVAL;
	u->authority.p = colon + 3;
	slash = memchr(u->authority.p, '/', len - slen - 3);
	if (!slash)
		return -EINVAL;
	alen = (size_t)(slash - u->authority.p);
	if (alen == 0 || !uri_chars_ok(u->authority.p, alen))
		return -EINVAL;
	u->service.p = slash + 1;
	u->service.len = len - (size_t)(u->service.p - s);
	if (!ipc__service_name_ok(u->service.p, u->service.len) ||
	    !uri_chars_ok(u->service.p, u->service.len))
		return -EINVAL;
	u->scheme.p = s;
	u->scheme.len = slen;
	u->authority.len = alen;
	return 0;
}

/* PORT: 1 to 65535, one to five digits. */
static int port_parse(const char *p, size_t len, uint16_t *port)
{
	uint32_t v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (!is_digit(p[i]))
			return -EINVAL;
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static bool host_char_ok(char c)
{
	return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_';
}

/* IPV6 inside brackets: hex digits, ':' and '.', then an optional %zone. */
static bool ipv6_ok(const char *p, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return false;
	for (; i < len && p[i] != '%'; i++)
		if (!is_xdigit(p[i]) && p[i] != ':' && p[i] != '.')
			return false;
	if (i == 0 || memchr(p, ':', i) == NULL)
		return false;
	if (i == len)
		return true;
	if (++i == len)
		return false;
	for (; i < len; i++)
		if (!host_char_ok(p[i]))
			return false;
	return true;
}

static bool hostname_ok(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!host_char_ok(p[i]))
			return false;
	return true;
}

int ipc__hostport_parse(struct ipc_span a, char *host, size_t hsize,
			uint16_t *port)
{
	const char *h = a.p, *colon;
	size_t hlen;

	if (!a.p || a.len == 0 || !host)
		return -EINVAL;
	if (a.p[0] == '[') {
		const char *close = memchr(a.p, ']', a.len);

		if (!close)
			return -EINVAL;
		h = a.p + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
		if (!ipv6_ok(h, hlen))
			return -EINVAL;
		if (colon == a.p + a.len || *colon != ':')
			return -EINVAL;
	} else {
		colon = memchr(a.p, ':', a.len);
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - a.p);
		if (!hostname_ok(h, hlen))
			return -EINVAL;
	}
	if (hlen >= hsize)
		return -EINVAL;
	if (port_parse(colon + 1, a.len - (size_t)(colon + 1 - a.p), port) < 0)
		return -EINVAL;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return 0;
}

const char *ipc__errno_name(int err)
{
	size_t i;

	for (i = 0; i < N_ERRNO_NAMES; i++)
		if (errno_names[i].value == err || -errno_names[i].value == err)
			return errno_names[i].name;
	return "EPROTO";
}

int ipc__errno_value(const char *name, size_t len)
{
	size_t i;

	if (!name)
		return 0;
	for (i = 0; i < N_ERRNO_NAMES; i++)
		if (span_eq(name, len, errno_names[i].name,
			    errno_names[i].len))
			return errno_names[i].value;
	return 0;
}

static bool ename_ok(const char *p, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!(p[i] >= 'A' && p[i] <= 'Z') && !is_digit(p[i]))
			return false;
	return true;
}

static bool text_ok(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!is_print(p[i]))
			return false;
	return true;
}

static int reply_error(const char *p, size_t len, struct ipc_span *text)
{
	const char *space = memchr(p, ' ', len);
	size_t nlen = space ? (size_t)(space - p) : len;
	const char *t = space ? space + 1 : p + len;
	size_t tlen = len - (size_t)(t - p);
	int value;

	if (!ename_ok(p, nlen) || !text_ok(t, tlen))
		return -EPROTO;
	value = ipc__errno_value(p, nlen);
	if (text) {
		text->p = t;
		text->len = tlen;
	}
	return value ? -value : -EPROTO;
}

int ipc__reply_parse(const char *p, size_t len, struct ipc_span *text)
{
	static const char error_word[] = "error ";
	const size_t elen = sizeof(error_word) - 1;

	if (text) {
		text->p = p;
		text->len = 0;
	}
	if (!p)
		return -EPROTO;
	if (span_eq(p, len, "ok", 2))
		return 0;
	if (len <= elen || memcmp(p, error_word, elen) != 0)
		return -EPROTO;
	return reply_error(p + elen, len - elen, text);
}

int ipc__reply_format(char *buf, size_t size, int err, const char *text)
{
	const char *name;
	size_t nlen, tlen, len, i;

	if (!buf)
		return -EMSGSIZE;
	if (err == 0) {
		if (size < 3)
			return -EMSGSIZE;
		memcpy(buf, "ok", 3);
		return 2;
	}
	name = ipc__errno_name(err);
	nlen = strlen(name);
	tlen = text ? strlen(text) : 0;
	len = 6 + nlen + (tlen ? 1 + tlen : 0);
	if (len >= size || len > INT32_MAX)
		return -EMSGSIZE;
	memcpy(buf, "error ", 6);
	memcpy(buf + 6, name, nlen);
	if (tlen) {
		buf[6 + nlen] = ' ';
		for (i = 0; i < tlen; i++)
			buf[7 + nlen + i] = is_print(text[i]) ? text[i] : '?';
	}
	buf[len] = '\0';
	return (int)len;
}
