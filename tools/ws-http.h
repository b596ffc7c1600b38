/*
 * The HTTP side of ipc-wsd: the request that opens a WebSocket (RFC 6455,
 * section 4) or asks for a static file, and what is decided from it.
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_WS_HTTP_H
#define IPC_WS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

/* Sec-WebSocket-Accept: base64 of a SHA-1, and its NUL. */
#define WS_ACCEPT_SIZE 29

/*
 * A request whose head is whole.  The strings point into the buffer given
 * to ws_http_parse() (NUL-terminated there), NULL when absent.
 */
struct ws_request {
	const char *method;
	const char *target;
	const char *host;
	const char *origin;
	const char *key;	/* Sec-WebSocket-Key */
	const char *version;	/* Sec-WebSocket-Version */
	bool upgrade;		/* Upgrade: websocket */
	bool connection_upgrade;	/* Connection: ..., upgrade, ... */
	size_t head_len;	/* bytes of the head, the blank line included */
};

/*
 * Parses the request head at the start of @buf (@len bytes; the buffer
 * must have one more byte of room, and is changed: the strings of @req
 * are cut in it).  0 with @req filled, -EAGAIN while the head is not
 * whole, -EBADMSG when it is not an HTTP/1.1 request ipc-wsd accepts
 * (a repeated Host, Origin or Sec-WebSocket-Key, a folded line, bytes
 * that have no place in a head).
 */
int ws_http_parse(char *buf, size_t len, struct ws_request *req);

/*
 * Sec-WebSocket-Accept for @key into @out; -EINVAL when @key is not the
 * base64 of 16 bytes.
 */
int ws_http_accept(const char *key, char out[WS_ACCEPT_SIZE]);

/*
 * Whether a page of @origin (NULL: no Origin, not a browser) may open a
 * WebSocket on the server named @host (the Host header): an origin of
 * @allowed (@nallowed of them, compared without case), or the server's
 * own http://HOST when HOST names this machine by an address or as
 * localhost (a name that could be rebound to us by another site's DNS
 * does not count).
 */
bool ws_http_origin_ok(const char *origin, const char *host,
		       char *const *allowed, size_t nallowed);

/*
 * The file that @target asks for, relative to the --www directory, in
 * @out: percent-decoded, "index.html" for a directory, no query.  -EINVAL
 * for a path that could leave the directory or name a hidden file (a
 * segment starting with '.'), a NUL, a backslash, or one too long.
 */
int ws_http_file_path(const char *target, char *out, size_t size);

/* The Content-Type of @path, from its extension. */
const char *ws_http_content_type(const char *path);

#endif /* IPC_WS_HTTP_H */
