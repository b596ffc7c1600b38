/*
 * The network protocol's text (lib/network.c): IPC_NETWORK rules, URIs,
 * TCP authorities, replies and errno names, edge case by edge case; and
 * the handshake frame reader and sender of tools/handshake.c on real
 * socketpairs.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include "ipc-test.h"
#include "network.h"
#include "handshake.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* @p[len] for a test message: bytes outside printable ASCII as \xNN. */
static char *escaped(const char *p, size_t len)
{
	GString *s = g_string_sized_new(len);
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\')
			g_string_append_c(s, p[i]);
		else
			g_string_append_printf(s, "\\x%02x",
					       (unsigned char)p[i]);
	}
	return g_string_free(s, FALSE);
}

/* ------------------------------------------------------------------ */
/* IPC_NETWORK rules                                                    */
/* ------------------------------------------------------------------ */

/* The URI of @name in @rules as a new string, or NULL when none. */
static char *route(const char *rules, const char *name)
{
	struct ipc_span uri = { NULL, 0 };
	int ret;

	ret = ipc__route_find(rules, strlen(rules), name, strlen(name), &uri);
	g_assert_true(ret == 0 || ret == 1);
	if (!ret)
		return NULL;
	g_assert_true(uri.p >= rules && uri.p + uri.len <= rules + strlen(rules));
	return g_strndup(uri.p, uri.len);
}

static void check_route(const char *rules, const char *name,
			const char *expect)
{
	g_autofree char *got = route(rules, name);
	g_autofree char *r = escaped(rules, strlen(rules));
	g_autofree char *n = escaped(name, strlen(name));

	g_test_message("rules \"%s\", name \"%s\"", r, n);
	g_assert_cmpstr(got, ==, expect);
}

static void test_route_basic(void)
{
	const char *rules = "pong tcp://192.0.2.7:9000/pong ; "
			    "audio tcp://other:9000/audio";

	check_route(rules, "pong", "tcp://192.0.2.7:9000/pong");
	check_route(rules, "audio", "tcp://other:9000/audio");
	check_route(rules, "video", NULL);
	check_route(rules, "pon", NULL);
	check_route(rules, "pongx", NULL);
	check_route(rules, "tcp://other:9000/audio", NULL);
	check_route("pong x://a/b", "pong", "x://a/b");
}

static void test_route_blanks(void)
{
	check_route("  \tpong \t x://a/b\t  ", "pong", "x://a/b");
	check_route("pong\tx://a/b", "pong", "x://a/b");
	check_route(";;pong x://a/b;;", "pong", "x://a/b");
	check_route(" ; ;\t;pong x://a/b", "pong", "x://a/b");
	check_route("pong x://a/b;", "pong", "x://a/b");
	/* Only spaces and tabs are blanks. */
	check_route("pong\nx://a/b", "pong", NULL);
	check_route("pong\rx://a/b", "pong", NULL);
	check_route("pong\nx://a/b", "pong\nx://a/b", NULL);
}

static void test_route_first_wins(void)
{
	check_route("pong a://1/p ; pong b://2/p", "pong", "a://1/p");
	/* A malformed rule is skipped, the next one found. */
	check_route("pong ; pong b://2/p", "pong", "b://2/p");
	check_route("pong a://1/p extra ; pong b://2/p", "pong", "b://2/p");
	check_route("pong a://1/p extra", "pong", NULL);
	check_route("pong", "pong", NULL);
	check_route("pong ", "pong", NULL);
}

static void test_route_empty(void)
{
	struct ipc_span uri = { NULL, 0 };

	check_route("", "pong", NULL);
	check_route(";", "pong", NULL);
	check_route("   ", "pong", NULL);
	g_assert_cmpint(ipc__route_find(NULL, 0, "pong", 4, &uri), ==, 0);
	/* An empty name never matches: a rule's words are never empty. */
	check_route("pong a://1/p", "", NULL);
}

/* Rules are spans: a NUL is an ordinary byte, nothing is read past len. */
static void test_route_span(void)
{
	static const char rules[] = "pong a://1/p\0; ping b://2/q";
	struct ipc_span uri;
	char *copy;

	g_assert_cmpint(ipc__route_find(rules, sizeof(rules) - 1, "ping", 4,
					&uri), ==, 1);
	g_assert_cmpint(uri.len, ==, 7);
	g_assert_cmpmem(uri.p, uri.len, "b://2/q", 7);
	g_assert_cmpint(ipc__route_find(rules, sizeof(rules) - 1, "pong", 4,
					&uri), ==, 1);
	g_assert_cmpmem(uri.p, uri.len, "a://1/p\0", 8);

	/* A copy ending exactly at the span's end (valgrind sees overreads). */
	copy = g_memdup2("pong a", 6);
	g_assert_cmpint(ipc__route_find(copy, 6, "pong", 4, &uri), ==, 1);
	g_assert_cmpmem(uri.p, uri.len, "a", 1);
	g_assert_cmpint(ipc__route_find(copy, 5, "pong", 4, &uri), ==, 0);
	g_free(copy);
}

/* ------------------------------------------------------------------ */
/* URIs                                                                 */
/* ------------------------------------------------------------------ */

static void check_uri(const char *s, const char *scheme,
		      const char *authority, const char *service)
{
	struct ipc_uri u;
	char *copy = g_memdup2(s, strlen(s));
	g_autofree char *shown = escaped(s, strlen(s));
	int ret;

	g_test_message("uri \"%s\"", shown);
	ret = ipc__uri_parse(copy, strlen(s), &u);
	if (!scheme) {
		g_assert_cmpint(ret, ==, -EINVAL);
		g_free(copy);
		return;
	}
	g_assert_cmpint(ret, ==, 0);
	g_assert_cmpmem(u.scheme.p, u.scheme.len, scheme, strlen(scheme));
	g_assert_cmpmem(u.authority.p, u.authority.len, authority,
			strlen(authority));
	g_assert_cmpmem(u.service.p, u.service.len, service, strlen(service));
	g_free(copy);
}

static void test_uri_good(void)
{
	check_uri("tcp://192.0.2.7:9000/pong", "tcp", "192.0.2.7:9000", "pong");
	check_uri("tcp://[::1]:9000/pong", "tcp", "[::1]:9000", "pong");
	check_uri("a+b-c.d9://x/y", "a+b-c.d9", "x", "y");
	check_uri("fake://anything:at@all/echo-1.2", "fake",
		  "anything:at@all", "echo-1.2");
	check_uri("f://x/...", "f", "x", "...");
	check_uri("f://x/.a", "f", "x", ".a");
}

static void test_uri_bad(void)
{
	const char *bad[] = {
		"", "tcp", "tcp:", "tcp:/", "tcp://", "tcp://h", "tcp://h/",
		"tcp:///pong", "://h/p", "Tcp://h/p", "9tcp://h/p",
		"+tcp://h/p", "t_p://h/p", "tcp:/h/p", "tcp:h/p",
		"tcp://h/p/q", "tcp://h/.", "tcp://h/..", "tcp://h h/p",
		"tcp://h/p p", "tcp://h/p;", "tcp://h;/p", "tcp://h\t/p",
		"tcp://h/\x7f", "tcp://h\x80/p", "tcp://h/p\n", " tcp://h/p",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++)
		check_uri(bad[i], NULL, NULL, NULL);
}

static void test_uri_limits(void)
{
	struct ipc_uri u;
	char uri[8 + IPC_NET_NAME_MAX + 2];

	memcpy(uri, "f://x/", 6);
	memset(uri + 6, 's', IPC_NET_NAME_MAX + 1);
	g_assert_cmpint(ipc__uri_parse(uri, 6 + IPC_NET_NAME_MAX, &u), ==, 0);
	g_assert_cmpint(u.service.len, ==, IPC_NET_NAME_MAX);
	g_assert_cmpint(ipc__uri_parse(uri, 6 + IPC_NET_NAME_MAX + 1, &u), ==,
			-EINVAL);
	/* NUL bytes inside the span are refused, not taken as the end. */
	g_assert_cmpint(ipc__uri_parse("f://x/a\0b", 9, &u), ==, -EINVAL);
	g_assert_cmpint(ipc__uri_parse("f://x\0/a", 8, &u), ==, -EINVAL);
	/* The span's length is what counts. */
	g_assert_cmpint(ipc__uri_parse("f://x/ab", 7, &u), ==, 0);
	g_assert_cmpmem(u.service.p, u.service.len, "a", 1);
	g_assert_cmpint(ipc__uri_parse(NULL, 0, &u), ==, -EINVAL);
}

static void test_service_name(void)
{
	char name[IPC_NET_NAME_MAX + 1];

	g_assert_true(ipc__service_name_ok("pong", 4));
	g_assert_true(ipc__service_name_ok("...", 3));
	g_assert_true(ipc__service_name_ok(".x", 2));
	g_assert_true(ipc__service_name_ok("a b", 3));
	g_assert_false(ipc__service_name_ok("", 0));
	g_assert_false(ipc__service_name_ok(NULL, 0));
	g_assert_false(ipc__service_name_ok(".", 1));
	g_assert_false(ipc__service_name_ok("..", 2));
	g_assert_false(ipc__service_name_ok("a/b", 3));
	g_assert_false(ipc__service_name_ok("/", 1));
	g_assert_false(ipc__service_name_ok("a\0b", 3));
	memset(name, 'n', sizeof(name));
	g_assert_true(ipc__service_name_ok(name, IPC_NET_NAME_MAX));
	g_assert_false(ipc__service_name_ok(name, IPC_NET_NAME_MAX + 1));
}

/* ------------------------------------------------------------------ */
/* TCP authorities                                                      */
/* ------------------------------------------------------------------ */

static void check_hostport(const char *a, size_t hsize, const char *host,
			   int port)
{
	struct ipc_span span = { a, strlen(a) };
	char buf[300];
	uint16_t p = 0;
	int ret;

	g_assert_cmpuint(hsize, <=, sizeof(buf));
	g_test_message("authority \"%s\", hsize %zu", a, hsize);
	memset(buf, 'X', sizeof(buf));
	ret = ipc__hostport_parse(span, buf, hsize, &p);
	if (!host) {
		g_assert_cmpint(ret, ==, -EINVAL);
		g_assert_cmpint(p, ==, 0);
		g_assert_cmpint(buf[0], ==, 'X');
		return;
	}
	g_assert_cmpint(ret, ==, 0);
	g_assert_cmpstr(buf, ==, host);
	g_assert_cmpint(p, ==, port);
	/* Nothing written past the NUL. */
	g_assert_cmpint(buf[strlen(host) + 1], ==, 'X');
}

static void test_hostport_good(void)
{
	check_hostport("127.0.0.1:9000", 64, "127.0.0.1", 9000);
	check_hostport("localhost:1", 64, "localhost", 1);
	check_hostport("a-b_c.example:65535", 64, "a-b_c.example", 65535);
	check_hostport("h:00080", 64, "h", 80);
	check_hostport("[::1]:9000", 64, "::1", 9000);
	check_hostport("[fe80::1%eth0]:22", 64, "fe80::1%eth0", 22);
	check_hostport("[::ffff:192.0.2.1]:7", 64, "::ffff:192.0.2.1", 7);
	/* HOST just fits with its NUL. */
	check_hostport("abc:1", 4, "abc", 1);
	check_hostport("[::1]:1", 4, "::1", 1);
}

static void test_hostport_bad(void)
{
	const char *bad[] = {
		"", ":", "h", "h:", ":9000", "h:0", "h:65536", "h:99999",
		"h:123456", "h:-1", "h:+1", "h: 1", "h:1 ", "h:1a", "h:0x10",
		"h:1:2", "::1:9000", "[::1]", "[::1]9000", "[::1]:",
		"[]:9000", "[::1:9000", "::1]:9000", "[h]:9000",
		"[1.2.3.4]:9000", "[::1%]:9000", "[::1%a/b]:9000",
		"[%eth0]:9000", "h/x:1", "h x:1", "h@x:1", "[::1]:1]",
		"[[::1]]:1",
	};
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(bad); i++)
		check_hostport(bad[i], 64, NULL, 0);
	/* HOST does not fit. */
	check_hostport("abcd:1", 4, NULL, 0);
	check_hostport("[::11]:1", 4, NULL, 0);
	check_hostport("a:1", 0, NULL, 0);
	check_hostport("a:1", 1, NULL, 0);
}

static void test_hostport_span(void)
{
	struct ipc_span a = { "h:12345", 4 };
	char host[8];
	uint16_t port;

	g_assert_cmpint(ipc__hostport_parse(a, host, sizeof(host), &port), ==,
			0);
	g_assert_cmpint(port, ==, 12);
	a.p = "h:1\0";
	a.len = 4;
	g_assert_cmpint(ipc__hostport_parse(a, host, sizeof(host), &port), ==,
			-EINVAL);
	a.p = "h\0:1";
	g_assert_cmpint(ipc__hostport_parse(a, host, sizeof(host), &port), ==,
			-EINVAL);
	a.p = NULL;
	a.len = 0;
	g_assert_cmpint(ipc__hostport_parse(a, host, sizeof(host), &port), ==,
			-EINVAL);
}

/* ------------------------------------------------------------------ */
/* Replies and errno names                                              */
/* ------------------------------------------------------------------ */

static void check_reply(const char *p, size_t len, int expect,
			const char *text)
{
	struct ipc_span t = { "junk", 4 };
	char *copy = g_memdup2(p, len);
	g_autofree char *shown = escaped(p, len);

	g_test_message("reply \"%s\"", shown);
	g_assert_cmpint(ipc__reply_parse(copy, len, &t), ==, expect);
	g_assert_cmpmem(t.p, t.len, text, strlen(text));
	g_assert_cmpint(ipc__reply_parse(copy, len, NULL), ==, expect);
	g_free(copy);
}

#define REPLY(s, e, t) check_reply(s, sizeof(s) - 1, e, t)

static void test_reply_parse(void)
{
	REPLY("ok", 0, "");
	REPLY("error ENOENT no such service", -ENOENT, "no such service");
	REPLY("error EACCES not allowed", -EACCES, "not allowed");
	REPLY("error ETIMEDOUT", -ETIMEDOUT, "");
	REPLY("error ETIMEDOUT ", -ETIMEDOUT, "");
	REPLY("error ECONNREFUSED  two  spaces ", -ECONNREFUSED,
	      " two  spaces ");
	REPLY("error EPROTO bad request", -EPROTO, "bad request");
	/* An unknown name reads as EPROTO, its text kept. */
	REPLY("error EFOO what", -EPROTO, "what");
	REPLY("error E2BIG x", -EPROTO, "x");
	REPLY("error ESUCCESS", -EPROTO, "");

	REPLY("", -EPROTO, "");
	REPLY("o", -EPROTO, "");
	REPLY("ok ", -EPROTO, "");
	REPLY("OK", -EPROTO, "");
	REPLY("okay", -EPROTO, "");
	REPLY("ok\n", -EPROTO, "");
	REPLY("ok\0", -EPROTO, "");
	REPLY("error", -EPROTO, "");
	REPLY("error ", -EPROTO, "");
	REPLY("error  ENOENT", -EPROTO, "");
	REPLY("errorENOENT", -EPROTO, "");
	REPLY("Error ENOENT", -EPROTO, "");
	REPLY("error enoent", -EPROTO, "");
	REPLY("error ENOENT\tx", -EPROTO, "");
	REPLY("error ENOENT x\ny", -EPROTO, "");
	REPLY("error ENOENT x\0", -EPROTO, "");
	REPLY("error ENOENT \x80", -EPROTO, "");
	REPLY("error ENO-ENT", -EPROTO, "");
	g_assert_cmpint(ipc__reply_parse(NULL, 0, NULL), ==, -EPROTO);
	/* The span's length is what counts. */
	g_assert_cmpint(ipc__reply_parse("okay", 2, NULL), ==, 0);
}

static void test_reply_format(void)
{
	char buf[64];

	g_assert_cmpint(ipc__reply_format(buf, sizeof(buf), 0, "x"), ==, 2);
	g_assert_cmpstr(buf, ==, "ok");
	g_assert_cmpint(ipc__reply_format(buf, sizeof(buf), ENOENT, "gone"),
			==, 17);
	g_assert_cmpstr(buf, ==, "error ENOENT gone");
	g_assert_cmpint(ipc__reply_format(buf, sizeof(buf), -EACCES, NULL),
			==, 12);
	g_assert_cmpstr(buf, ==, "error EACCES");
	g_assert_cmpint(ipc__reply_format(buf, sizeof(buf), -EACCES, ""), ==,
			12);
	g_assert_cmpstr(buf, ==, "error EACCES");
	/* Not on the list: EPROTO. */
	g_assert_cmpint(ipc__reply_format(buf, sizeof(buf), E2BIG, "big"), ==,
			16);
	g_assert_cmpstr(buf, ==, "error EPROTO big");
	/* Control and non-ASCII bytes become '?'. */
	ipc__reply_format(buf, sizeof(buf), EINVAL, "a\nb\x1b\xff");
	g_assert_cmpstr(buf, ==, "error EINVAL a?b??");

	/* Exactly fits with the NUL, then one byte short. */
	g_assert_cmpint(ipc__reply_format(buf, 3, 0, NULL), ==, 2);
	g_assert_cmpint(ipc__reply_format(buf, 2, 0, NULL), ==, -EMSGSIZE);
	g_assert_cmpint(ipc__reply_format(buf, 15, EINVAL, "x"), ==, 14);
	g_assert_cmpint(ipc__reply_format(buf, 14, EINVAL, "x"), ==,
			-EMSGSIZE);
	g_assert_cmpint(ipc__reply_format(buf, 0, EINVAL, NULL), ==,
			-EMSGSIZE);
	g_assert_cmpint(ipc__reply_format(NULL, 10, 0, NULL), ==, -EMSGSIZE);
}

/* Every name of the list formats and parses back to itself. */
static void test_reply_roundtrip(void)
{
	static const int errs[] = {
		ENOENT, EACCES, EPERM, ECONNREFUSED, ECONNRESET, ECONNABORTED,
		ETIMEDOUT, EHOSTUNREACH, EHOSTDOWN, ENETUNREACH, ENETDOWN,
		EADDRNOTAVAIL, EPROTO, EINVAL, ENAMETOOLONG, EMSGSIZE, ENOMEM,
		ENOBUFS, EMFILE, ENFILE,
	};
	struct ipc_span text;
	char buf[128];
	size_t i;
	int len;

	for (i = 0; i < G_N_ELEMENTS(errs); i++) {
		const char *name = ipc__errno_name(errs[i]);

		if (errs[i] != EPROTO)
			g_assert_cmpstr(name, !=, "EPROTO");
		g_assert_cmpint(ipc__errno_value(name, strlen(name)), ==,
				errs[i]);
		g_assert_cmpstr(ipc__errno_name(-errs[i]), ==, name);
		len = ipc__reply_format(buf, sizeof(buf), errs[i], "why not");
		g_assert_cmpint(len, >, 0);
		g_assert_cmpint(ipc__reply_parse(buf, (size_t)len, &text), ==,
				-errs[i]);
		g_assert_cmpmem(text.p, text.len, "why not", 7);
	}
	g_assert_cmpstr(ipc__errno_name(0), ==, "EPROTO");
	g_assert_cmpstr(ipc__errno_name(E2BIG), ==, "EPROTO");
	g_assert_cmpstr(ipc__errno_name(INT_MIN), ==, "EPROTO");
	g_assert_cmpint(ipc__errno_value("ENOENTX", 7), ==, 0);
	g_assert_cmpint(ipc__errno_value("ENOENTX", 6), ==, ENOENT);
	g_assert_cmpint(ipc__errno_value("ENOEN", 5), ==, 0);
	g_assert_cmpint(ipc__errno_value("", 0), ==, 0);
	g_assert_cmpint(ipc__errno_value(NULL, 0), ==, 0);
}

/* ------------------------------------------------------------------ */
/* Handshake frames (tools/handshake.c)                                 */
/* ------------------------------------------------------------------ */

static void pair_make(int sv[2])
{
	g_assert_no_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
				     SOCK_CLOEXEC, 0, sv));
}

static void raw_write(int fd, const void *p, size_t len)
{
	g_assert_cmpint(write(fd, p, len), ==, (ssize_t)len);
}

/* A frame arriving a byte at a time, then the next frame's bytes stay. */
static void test_hs_read_slow(void)
{
	static const char stream[] = "\0\0\0\5hello\0\0\0\2ok";
	struct handshake_reader r;
	char buf[16], rest[16];
	int sv[2];
	size_t i;

	pair_make(sv);
	handshake_reader_init(&r, buf, sizeof(buf));
	g_assert_cmpint(handshake_read(sv[1], &r), ==, 0);
	for (i = 0; i < 9; i++) {
		g_assert_cmpint(handshake_read(sv[1], &r), ==, 0);
		raw_write(sv[0], stream + i, 1);
	}
	g_assert_cmpint(handshake_read(sv[1], &r), ==, 1);
	g_assert_cmpmem(r.buf, r.len, "hello", 5);
	raw_write(sv[0], stream + 9, sizeof(stream) - 1 - 9);
	/* Finished: no more reading. */
	g_assert_cmpint(handshake_read(sv[1], &r), ==, 1);
	g_assert_cmpint(read(sv[1], rest, sizeof(rest)), ==, 6);
	g_assert_cmpmem(rest, 6, "\0\0\0\2ok", 6);
	close(sv[0]);
	close(sv[1]);
}

/* Two frames sent at once: the reader takes the first only. */
static void test_hs_read_exact(void)
{
	static const char stream[] = "\0\0\0\2ok\0\0\0\0after";
	struct handshake_reader r;
	char buf[2], rest[16];
	int sv[2];

	pair_make(sv);
	raw_write(sv[0], stream, sizeof(stream) - 1);
	handshake_reader_init(&r, buf, sizeof(buf));
	g_assert_cmpint(handshake_read(sv[1], &r), ==, 1);
	g_assert_cmpmem(r.buf, r.len, "ok", 2);
	/* An empty frame is whole at its header. */
	handshake_reader_init(&r, NULL, 0);
	g_assert_cmpint(handshake_read(sv[1], &r), ==, 1);
	g_assert_cmpint(r.len, ==, 0);
	g_assert_cmpint(read(sv[1], rest, sizeof(rest)), ==, 5);
	g_assert_cmpmem(rest, 5, "after", 5);
	close(sv[0]);
	close(sv[1]);
}

static void test_hs_read_errors(void)
{
	struct handshake_reader r;
	char buf[4], rest[8];
	int sv[2], pfd[2];

	/* Too long: refused at the header, the payload left unread. */
	pair_make(sv);
	raw_write(sv[0], "\0\0\0\5hello", 9);
	handshake_reader_init(&r, buf, 4);
	g_assert_cmpint(handshake_read(sv[1], &r), ==, -EMSGSIZE);
	g_assert_cmpint(handshake_read(sv[1], &r), ==, -EMSGSIZE);
	g_assert_cmpint(read(sv[1], rest, sizeof(rest)), ==, 5);
	close(sv[0]);
	close(sv[1]);

	/* EOF inside the header, inside the payload, before anything. */
	pair_make(sv);
	raw_write(sv[0], "\0\0", 2);
	close(sv[0]);
	handshake_reader_init(&r, buf, 4);
	g_assert_cmpint(handshake_read(sv[1], &r), ==, -ECONNRESET);
	close(sv[1]);
	pair_make(sv);
	raw_write(sv[0], "\0\0\0\4ab", 6);
	close(sv[0]);
	handshake_reader_init(&r, buf, 4);
	g_assert_cmpint(handshake_read(sv[1], &r), ==, -ECONNRESET);
	close(sv[1]);
	pair_make(sv);
	close(sv[0]);
	handshake_reader_init(&r, buf, 4);
	g_assert_cmpint(handshake_read(sv[1], &r), ==, -ECONNRESET);
	close(sv[1]);

	/* A read(2) error is passed on; pipes work too. */
	handshake_reader_init(&r, buf, 4);
	g_assert_cmpint(handshake_read(-1, &r), ==, -EBADF);
	g_assert_no_errno(pipe2(pfd, O_NONBLOCK | O_CLOEXEC));
	raw_write(pfd[1], "\0\0\0\1x", 5);
	handshake_reader_init(&r, buf, 4);
	g_assert_cmpint(handshake_read(pfd[0], &r), ==, 1);
	g_assert_cmpmem(r.buf, r.len, "x", 1);
	close(pfd[0]);
	close(pfd[1]);
}

/* handshake_send: the frame, with or without an fd. */
static void test_hs_send(void)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	struct handshake_reader r;
	struct msghdr msg = { 0 };
	struct cmsghdr *cmsg;
	struct iovec iov;
	char buf[8], *big;
	int sv[2], pfd[2], got;

	pair_make(sv);
	g_assert_cmpint(handshake_send(sv[0], "ok", 2, -1), ==, 0);
	handshake_reader_init(&r, buf, sizeof(buf));
	g_assert_cmpint(handshake_read(sv[1], &r), ==, 1);
	g_assert_cmpmem(r.buf, r.len, "ok", 2);

	/* The fd rides with the first byte. */
	g_assert_no_errno(pipe2(pfd, O_CLOEXEC));
	g_assert_cmpint(handshake_send(sv[0], "ok", 2, pfd[0]), ==, 0);
	iov.iov_base = buf;
	iov.iov_len = 1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	g_assert_cmpint(recvmsg(sv[1], &msg, MSG_CMSG_CLOEXEC), ==, 1);
	cmsg = CMSG_FIRSTHDR(&msg);
	g_assert_nonnull(cmsg);
	g_assert_cmpint(cmsg->cmsg_type, ==, SCM_RIGHTS);
	memcpy(&got, CMSG_DATA(cmsg), sizeof(int));
	raw_write(pfd[1], "!", 1);
	g_assert_cmpint(read(got, buf, 1), ==, 1);
	close(got);
	close(pfd[0]);
	close(pfd[1]);
	g_assert_cmpint(read(sv[1], buf, sizeof(buf)), ==, 5);

	big = g_malloc0(HANDSHAKE_SEND_MAX + 1);
	g_assert_cmpint(handshake_send(sv[0], big, HANDSHAKE_SEND_MAX + 1, -1),
			==, -EMSGSIZE);
	g_free(big);
	/* The peer is gone: an error, and no SIGPIPE. */
	close(sv[1]);
	g_assert_cmpint(handshake_send(sv[0], "ok", 2, -1), ==, -EPIPE);
	close(sv[0]);
	g_assert_cmpint(handshake_send(-1, "ok", 2, -1), ==, -EBADF);
}

/* A full socket: none or part of the frame is -EAGAIN. */
static void test_hs_send_full(void)
{
	static char chunk[4096];
	int sv[2], ret;

	pair_make(sv);
	while (write(sv[0], chunk, sizeof(chunk)) > 0)
		;
	g_assert_cmpint(errno, ==, EAGAIN);
	ret = handshake_send(sv[0], chunk, sizeof(chunk), -1);
	g_assert_cmpint(ret, ==, -EAGAIN);
	close(sv[0]);
	close(sv[1]);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);
	g_test_add_func("/ipc/network/route/basic", test_route_basic);
	g_test_add_func("/ipc/network/route/blanks", test_route_blanks);
	g_test_add_func("/ipc/network/route/first-wins", test_route_first_wins);
	g_test_add_func("/ipc/network/route/empty", test_route_empty);
	g_test_add_func("/ipc/network/route/span", test_route_span);
	g_test_add_func("/ipc/network/uri/good", test_uri_good);
	g_test_add_func("/ipc/network/uri/bad", test_uri_bad);
	g_test_add_func("/ipc/network/uri/limits", test_uri_limits);
	g_test_add_func("/ipc/network/service-name", test_service_name);
	g_test_add_func("/ipc/network/hostport/good", test_hostport_good);
	g_test_add_func("/ipc/network/hostport/bad", test_hostport_bad);
	g_test_add_func("/ipc/network/hostport/span", test_hostport_span);
	g_test_add_func("/ipc/network/reply/parse", test_reply_parse);
	g_test_add_func("/ipc/network/reply/format", test_reply_format);
	g_test_add_func("/ipc/network/reply/roundtrip", test_reply_roundtrip);
	g_test_add_func("/ipc/network/handshake/read-slow", test_hs_read_slow);
	g_test_add_func("/ipc/network/handshake/read-exact",
			test_hs_read_exact);
	g_test_add_func("/ipc/network/handshake/read-errors",
			test_hs_read_errors);
	g_test_add_func("/ipc/network/handshake/send", test_hs_send);
	g_test_add_func("/ipc/network/handshake/send-full", test_hs_send_full);
	return g_test_run();
}
