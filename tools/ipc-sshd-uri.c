/*
 * ipc-sshd: the URI ssh://[USER@]HOST[:PORT]/SERVICE, and the ssh
 * command that reaches SERVICE on HOST (see ipc-sshd.h).
 *
 * SPDX-License-Identifier: ISC
 *
 * Nothing of the URI reaches ssh as an option or the remote shell
 * unquoted: USER and HOST are checked (letters, digits and a few
 * punctuation marks, never a leading '-'), and SERVICE, which may hold
 * any printable character but blanks, ';' and '/', is quoted for the
 * remote shell.
 */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc-sshd.h"
#include "network.h"

static int user_parse(const char *p, size_t len, char *user)
{
	size_t i;

	if (len == 0 || len >= USER_MAX || p[0] == '-')
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') ||
		      (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9') || p[i] == '.' ||
		      p[i] == '_' || p[i] == '-'))
			return -EINVAL;
	memcpy(user, p, len);
	user[len] = '\0';
	return 0;
}

/* HOST[:PORT] by the rules of tcp:// (the port being optional). */
static int hostport_parse(const char *p, size_t len, char *host, char *port)
{
	char buf[HOST_MAX + 8];
	struct ipc_span a = { buf, 0 };
	const char *close = len && p[0] == '[' ? memchr(p, ']', len) : NULL;
	const char *colon = memchr(close ? close : p, ':',
				   len - (size_t)((close ? close : p) - p));
	uint16_t n;

	if (len == 0 || len >= HOST_MAX || p[0] == '-')
		return -EINVAL;
	memcpy(buf, p, len);
	a.len = len;
	/* No port: parse with ssh's default, pass none. */
	if (!colon) {
		memcpy(buf + len, ":22", 3);
		a.len += 3;
	}
	if (ipc__hostport_parse(a, host, HOST_MAX, &n) < 0)
		return -EINVAL;
	if (colon)
		snprintf(port, 8, "%u", (unsigned int)n);
	else
		port[0] = '\0';
	return 0;
}

int sshd_uri_parse(const char *uri, size_t len, char *user, char *host,
		   char *port, char *service)
{
	struct ipc_uri u;
	const char *at;
	struct ipc_span a;

	/* Any scheme: it named us (--service may be another name). */
	if (ipc__uri_parse(uri, len, &u) < 0)
		return -EINVAL;
	a = u.authority;
	at = memchr(a.p, '@', a.len);
	user[0] = '\0';
	if (at) {
		if (user_parse(a.p, (size_t)(at - a.p), user) < 0)
			return -EINVAL;
		a.len -= (size_t)(at + 1 - a.p);
		a.p = at + 1;
	}
	if (hostport_parse(a.p, a.len, host, port) < 0)
		return -EINVAL;
	memcpy(service, u.service.p, u.service.len);
	service[u.service.len] = '\0';
	return 0;
}

/* @s in single quotes for a POSIX shell: ' becomes '\''. */
static size_t shell_quote(char *dst, const char *s)
{
	size_t n = 0;

	dst[n++] = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(dst + n, "'\\''", 4);
			n += 4;
		} else {
			dst[n++] = *s;
		}
	}
	dst[n++] = '\'';
	dst[n] = '\0';
	return n;
}

/* The fixed words of the command line, before the -o options. */
#define WORDS_MAX 24

char **sshd_command(const struct options *o, const char *control_dir,
		    const struct child *c)
{
	const struct host *h = c->host;
	size_t nargs = WORDS_MAX + 2 * o->nssh_options, size, i;
	char **argv;
	char *p, *remote;
	size_t n = 0;

	/* Room: the pointers, then every string (generously). */
	size = (nargs + 1) * sizeof(char *) + strlen(o->remote_command) +
	       4 * strlen(c->service) + strlen(control_dir) + 1024;
	argv = calloc(1, size);
	if (!argv)
		return NULL;
	p = (char *)(argv + nargs + 1);
#define ARG(...) do { \
		argv[n++] = p; \
		p += sprintf(p, __VA_ARGS__) + 1; \
	} while (0)
	ARG("%s", o->ssh);
	ARG("-T");
	if (o->config) {
		ARG("-F");
		ARG("%s", o->config);
	}
	/* The admin's options first: ssh takes the first value it gets. */
	for (i = 0; i < o->nssh_options; i++) {
		ARG("-o");
		ARG("%s", o->ssh_options[i]);
	}
	ARG("-oBatchMode=yes");
	ARG("-oConnectTimeout=%u",
	    o->timeout_ms < 2000 ? 1 : o->timeout_ms / 2000);
	ARG("-oControlMaster=auto");
	ARG("-oControlPath=%s/%u", control_dir, h->index);
	ARG("-oControlPersist=%u", o->persist_s);
	/* Never reads ipc-sshd's terminal; the session needs no X or agent. */
	ARG("-oForwardX11=no");
	ARG("-oForwardAgent=no");
	ARG("-oClearAllForwardings=yes");
	ARG("-oLogLevel=ERROR");
	if (h->port[0]) {
		ARG("-p");
		ARG("%s", h->port);
	}
	if (h->user[0]) {
		ARG("-l");
		ARG("%s", h->user);
	}
	ARG("%s", h->name);
	/* The remote command: the admin's word(s), then the quoted name. */
	remote = p;
	p += sprintf(p, "%s bridge ", o->remote_command);
	p += shell_quote(p, c->service) + 1;
	argv[n++] = remote;
#undef ARG
	argv[n] = NULL;
	return argv;
}
