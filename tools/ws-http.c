/*
 * The HTTP side of ipc-wsd: request heads, the handshake's accept key
 * (SHA-1 and base64 from nettle), the Origin rule and static file paths.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <nettle/base64.h>
#include <nettle/sha1.h>

#include "ws-http.h"

/* RFC 6455, section 1.3. */
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
/* A key is the base64 of 16 bytes: 24 characters. */
#define WS_KEY_LEN 24
#define WS_KEY_BYTES 16

/* Spaces and tabs around a header value go. */
static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Whether the comma-separated list @value holds @token (no case). */
static bool has_token(const char *value, const char *token)
{
	size_t tlen = strlen(token);
	const char *p = value;

	while (*p) {
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		n = strcspn(p, ", \t");
		if (n == tlen && strncasecmp(p, token, n) == 0)
			return true;
		p += n;
	}
	return false;
}

/* A header that must come once: the second one is an error. */
static int set_once(const char **field, const char *value)
{
	if (*field)
		return -EBADMSG;
	*field = value;
	return 0;
}

static int header_line(char *line, struct ws_request *req)
{
	char *colon = strchr(line, ':'), *name = line, *value;
	size_t i;

	if (!colon || colon == line)
		return -EBADMSG;
	*colon = '\0';
	for (i = 0; name[i]; i++)
		if (name[i] <= ' ' || name[i] >= 0x7f)
			return -EBADMSG;
	value = trim(colon + 1);
	if (strcasecmp(name, "Host") == 0)
		return set_once(&req->host, value);
	if (strcasecmp(name, "Origin") == 0)
		return set_once(&req->origin, value);
	if (strcasecmp(name, "Sec-WebSocket-Key") == 0)
		return set_once(&req->key, value);
	if (strcasecmp(name, "Sec-WebSocket-Version") == 0)
		return set_once(&req->version, value);
	if (strcasecmp(name, "Upgrade") == 0 && has_token(value, "websocket"))
		req->upgrade = true;
	if (strcasecmp(name, "Connection") == 0 && has_token(value, "upgrade"))
		req->connection_upgrade = true;
	return 0;
}

static int request_line(char *line, struct ws_request *req)
{
	char *sp1 = strchr(line, ' '), *sp2;

	if (!sp1)
		return -EBADMSG;
	*sp1 = '\0';
	sp2 = strchr(sp1 + 1, ' ');
	if (!sp2 || strcmp(sp2 + 1, "HTTP/1.1") != 0 || sp2 == sp1 + 1)
		return -EBADMSG;
	*sp2 = '\0';
	req->method = line;
	req->target = sp1 + 1;
	if (req->target[0] != '/' || strchr(req->target, ' '))
		return -EBADMSG;
	return 0;
}

int ws_http_parse(char *buf, size_t len, struct ws_request *req)
{
	char *end, *line, *next;
	size_t i;
	int ret;

	memset(req, 0, sizeof(*req));
	buf[len] = '\0';
	end = strstr(buf, "\r\n\r\n");
	if (!end)
		return strlen(buf) < len ? -EBADMSG : -EAGAIN;
	req->head_len = (size_t)(end - buf) + 4;
	/* Only printable ASCII, tabs and the line ends in a head. */
	for (i = 0; i < req->head_len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if ((c < ' ' && c != '\t' && c != '\r' && c != '\n') ||
		    c >= 0x7f)
			return -EBADMSG;
	}
	end[2] = '\0';
	for (line = buf; *line; line = next) {
		char *crlf = strstr(line, "\r\n");

		if (!crlf)
			return -EBADMSG;
		*crlf = '\0';
		next = crlf + 2;
		if (strchr(line, '\n') || strchr(line, '\r'))
			return -EBADMSG;	/* a bare line end */
		if (line == buf)
			ret = request_line(line, req);
		else if (line[0] == ' ' || line[0] == '\t')
			ret = -EBADMSG;		/* obsolete line folding */
		else
			ret = header_line(line, req);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int ws_http_accept(const char *key, char out[WS_ACCEPT_SIZE])
{
	struct base64_decode_ctx b64;
	uint8_t raw[WS_KEY_BYTES + 2], digest[SHA1_DIGEST_SIZE];
	struct sha1_ctx sha;
	size_t n = sizeof(raw);

	if (strlen(key) != WS_KEY_LEN)
		return -EINVAL;
	base64_decode_init(&b64);
	if (!base64_decode_update(&b64, &n, raw, WS_KEY_LEN,
				  (const char *)key) ||
	    !base64_decode_final(&b64) || n != WS_KEY_BYTES)
		return -EINVAL;
	sha1_init(&sha);
	sha1_update(&sha, WS_KEY_LEN, (const uint8_t *)key);
	sha1_update(&sha, sizeof(WS_GUID) - 1, (const uint8_t *)WS_GUID);
	sha1_digest(&sha, sizeof(digest), digest);
	base64_encode_raw(out, sizeof(digest), digest);
	out[BASE64_ENCODE_RAW_LENGTH(SHA1_DIGEST_SIZE)] = '\0';
	return 0;
}

/* HOST[:PORT] names this machine: an IP address or localhost. */
static bool host_is_local_name(const char *host)
{
	char name[64];
	unsigned char addr[16];
	const char *colon;
	size_t n;

	if (host[0] == '[') {
		const char *close = strchr(host, ']');

		n = close ? (size_t)(close - host - 1) : 0;
		if (!close || n == 0 || n >= sizeof(name) ||
		    (close[1] && close[1] != ':'))
			return false;
		memcpy(name, host + 1, n);
		name[n] = '\0';
		return inet_pton(AF_INET6, name, addr) == 1;
	}
	colon = strchr(host, ':');
	n = colon ? (size_t)(colon - host) : strlen(host);
	if (n == 0 || n >= sizeof(name))
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	return strcasecmp(name, "localhost") == 0 ||
	       inet_pton(AF_INET, name, addr) == 1;
}

bool ws_http_origin_ok(const char *origin, const char *host,
		       char *const *allowed, size_t nallowed)
{
	size_t i;

	if (!origin)
		return true;
	for (i = 0; i < nallowed; i++)
		if (strcasecmp(origin, allowed[i]) == 0)
			return true;
	if (!host || strncasecmp(origin, "http://", 7) != 0 ||
	    strcasecmp(origin + 7, host) != 0)
		return false;
	return host_is_local_name(host);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int ws_http_file_path(const char *target, char *out, size_t size)
{
	static const char index_file[] = "index.html";
	size_t o = 0, seg = 0;
	const char *p = target;

	if (*p != '/' || size == 0)
		return -EINVAL;
	p++;
	for (; *p && *p != '?' && *p != '#'; p++) {
		char c = *p;

		if (c == '%') {
			int hi = hex_value(p[1]), lo = hi < 0 ? -1 :
							     hex_value(p[2]);

			if (lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			p += 2;
		}
		if (c == '\0' || c == '\\')
			return -EINVAL;
		if (c == '/') {
			if (o == seg)
				return -EINVAL;	/* an empty segment */
			seg = o + 1;
		} else if (o == seg && c == '.') {
			return -EINVAL;	/* ".", ".." and hidden files */
		}
		if (o + 1 >= size)
			return -EINVAL;
		out[o++] = c;
	}
	if (o == seg) {
		/* A directory: its index. */
		if (o + sizeof(index_file) > size)
			return -EINVAL;
		memcpy(out + o, index_file, sizeof(index_file));
		return 0;
	}
	out[o] = '\0';
	return 0;
}

const char *ws_http_content_type(const char *path)
{
	static const struct {
		const char *ext;
		const char *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".json", "application/json" },
		{ ".txt", "text/plain; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
		{ ".ico", "image/x-icon" },
		{ ".wasm", "application/wasm" },
	};
	const char *dot = strrchr(path, '.');
	size_t i;

	if (dot && !strchr(dot, '/'))
		for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcasecmp(dot, types[i].ext) == 0)
				return types[i].type;
	return "application/octet-stream";
}
