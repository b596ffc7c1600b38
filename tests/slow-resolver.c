/*
 * A resolver that takes its time, for tests/test-tcpd-hold: preloaded
 * (LD_PRELOAD) into an ipc-tcpd, it answers getaddrinfo(3) for the names
 * dMS.slow.test after MS milliseconds, with 127.0.0.1, as a resolver
 * that waits for a DNS server would; the same for an IPv6 address with
 * such a zone (::1%dMS.slow.test), which is no numeric address (there is
 * no such interface) and would go to the resolver as a name.  Any other
 * call goes to libc's.  So a test can show that a slow name lookup
 * stalls nothing else, on loopback and without a DNS server.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define SUFFIX ".slow.test"

typedef int getaddrinfo_fn(const char *, const char *,
			   const struct addrinfo *, struct addrinfo **);

static getaddrinfo_fn *real_getaddrinfo(void)
{
	void *sym = dlsym(RTLD_NEXT, "getaddrinfo");
	getaddrinfo_fn *fn;

	/* A data pointer to a function pointer, as POSIX allows dlsym. */
	memcpy(&fn, &sym, sizeof(fn));
	return fn;
}

/* The delay of [...%]dMS.slow.test in ms, or -1 for any other name. */
static long delay_of(const char *node)
{
	const char *zone = node ? strrchr(node, '%') : NULL;
	size_t len, slen = strlen(SUFFIX);
	char *end;
	long ms;

	if (zone)
		node = zone + 1;
	len = node ? strlen(node) : 0;
	if (len <= slen + 1 || node[0] != 'd' ||
	    strcmp(node + len - slen, SUFFIX) != 0)
		return -1;
	ms = strtol(node + 1, &end, 10);
	return end == node + len - slen && ms >= 0 ? ms : -1;
}

int getaddrinfo(const char *node, const char *service,
		const struct addrinfo *hints, struct addrinfo **res)
{
	long ms = delay_of(node);
	struct addrinfo h;
	struct timespec ts;

	if (ms < 0)
		return real_getaddrinfo()(node, service, hints, res);
	/* No numeric address (nor an unknown zone): answered at once. */
	if (hints && (hints->ai_flags & AI_NUMERICHOST))
		return EAI_NONAME;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	memset(&h, 0, sizeof(h));
	if (hints)
		h = *hints;
	h.ai_family = AF_INET;
	h.ai_flags |= AI_NUMERICHOST;
	return real_getaddrinfo()("127.0.0.1", service, &h, res);
}
