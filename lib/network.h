/*
 * The text of the network protocol (doc/network.md): IPC_NETWORK rules,
 * URIs, TCP authorities, replies and errno names.
 *
 * SPDX-License-Identifier: ISC
 *
 * Shared by the library (the client's lookup), ipcd, ipc-tcpd, the tests
 * and tests/fuzz/fuzz-network.  The programs compile lib/network.c into
 * themselves; in libipc.so these functions are hidden.  Every function is
 * pure: it works on (pointer, length) spans, never allocates, never
 * touches errno, and never reads outside the span it is given (the spans
 * need not be NUL-terminated, and may contain NUL bytes).
 */

#ifndef IPC_NETWORK_H
#define IPC_NETWORK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPC_NET_HIDDEN __attribute__((visibility("hidden")))

/* Longest service name a rule, a URI or a request may carry. */
#define IPC_NET_NAME_MAX 255

/* A piece of a caller's buffer: not NUL-terminated. */
struct ipc_span {
	const char *p;
	size_t len;
};

/* The three parts of SCHEME://AUTHORITY/SERVICE. */
struct ipc_uri {
	struct ipc_span scheme;
	struct ipc_span authority;
	struct ipc_span service;
};

/*
 * IPC_NETWORK rules: the URI of the first rule naming @name.  Returns 1
 * and sets *uri (pointing into @rules) when found, 0 when no rule names
 * it.  Rules are separated by ';'; a rule is exactly two words separated
 * by blanks (spaces or tabs), the first being compared byte for byte with
 * @name; other rules are skipped.  The URI is not checked here.
 */
IPC_NET_HIDDEN int ipc__route_find(const char *rules, size_t rules_len,
				   const char *name, size_t name_len,
				   struct ipc_span *uri);

/*
 * SCHEME://AUTHORITY/SERVICE.  SCHEME: a lower-case letter, then
 * lower-case letters, digits, '+', '-', '.'.  AUTHORITY: one or more
 * printable ASCII characters other than blanks, ';' and '/'.  SERVICE: a
 * service name (ipc__service_name_ok) of printable ASCII characters other
 * than blanks and ';'.  Returns 0 and fills *u, or -EINVAL.
 */
IPC_NET_HIDDEN int ipc__uri_parse(const char *s, size_t len,
				  struct ipc_uri *u);

/*
 * The AUTHORITY of a tcp URI: HOST:PORT or [IPV6]:PORT.  HOST is a name
 * or IPv4 address (letters, digits, '-', '.', '_'), IPV6 hex digits,
 * ':', '.' and an optional "%zone"; PORT is 1 to 65535 in at most five
 * decimal digits.  Copies HOST, NUL-terminated and without brackets, into
 * host[hsize] and sets *port.  Returns 0, or -EINVAL (also when HOST does
 * not fit).
 */
IPC_NET_HIDDEN int ipc__hostport_parse(struct ipc_span a, char *host,
				       size_t hsize, uint16_t *port);

/*
 * A reply: "ok" -> 0; "error ENAME" or "error ENAME TEXT" -> the negative
 * errno of ENAME (-EPROTO when ENAME is not a name of the list), with
 * *text set to TEXT (empty when absent) when @text is not NULL.  ENAME is
 * upper-case letters and digits; TEXT printable ASCII.  Anything else is
 * -EPROTO with an empty *text.
 */
IPC_NET_HIDDEN int ipc__reply_parse(const char *p, size_t len,
				    struct ipc_span *text);

/*
 * Writes "ok" (@err 0) or "error ENAME TEXT" ("error ENAME" when @text is
 * NULL or empty) into buf[size], NUL-terminated.  @err is an errno value,
 * positive or negative; one outside the list is written as EPROTO.  Bytes
 * of @text that are not printable ASCII are written as '?'.  Returns the
 * length without the NUL, or -EMSGSIZE when it does not fit.
 */
IPC_NET_HIDDEN int ipc__reply_format(char *buf, size_t size, int err,
				     const char *text);

/*
 * The symbolic name of an errno value (positive or negative) from the list
 * of doc/network.md, "EPROTO" for any other; and back: the positive value
 * of a name of the list, 0 for any other.
 */
IPC_NET_HIDDEN const char *ipc__errno_name(int err);
IPC_NET_HIDDEN int ipc__errno_value(const char *name, size_t len);

/*
 * A service name as the library accepts it: 1 to IPC_NET_NAME_MAX bytes,
 * no '/', no NUL, neither "." nor "..".
 */
IPC_NET_HIDDEN bool ipc__service_name_ok(const char *name, size_t len);

#endif /* IPC_NETWORK_H */
