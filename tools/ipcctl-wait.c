/*
 * ipcctl wait: until a service accepts connections (ipcctl(1)).
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libipc.h>

#include "internal.h"
#include "ipcctl.h"

#define WAIT_TIMEOUT_DEFAULT_MS 30000
#define WAIT_POLL_MS 100

/* ------------------------------------------------------------------ */
/* wait                                                                 */
/* ------------------------------------------------------------------ */

/* Probes every WAIT_POLL_MS until the service answers or time is up. */
static int wait_for(const char *service, const struct sockaddr_un *sa,
		    int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int ret;

	for (;;) {
		ret = probe(sa, NULL);
		if (ret >= 0)
			return EXIT_OK;
		if (ret != -ENOENT && ret != -ECONNREFUSED)
			return service_error(service, ret);
		if (timeout_ms && now_ms() >= deadline) {
			fprintf(stderr, "%s: %s: timeout after %d ms: %s\n",
				progname, service, timeout_ms,
				ret == -ENOENT ? "no such service" :
				"a stale socket, no process listens on it");
			return EXIT_TIMEOUT;
		}
		poll(NULL, 0, WAIT_POLL_MS);
	}
}

int cmd_wait(int argc, char **argv)
{
	static const struct option options[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int timeout_ms = WAIT_TIMEOUT_DEFAULT_MS, opt, ret;
	struct sockaddr_un sa;
	const char *service;
	char *dir;

	while ((opt = getopt_long(argc, argv, "t:h", options, NULL)) != -1) {
		if (opt == 't' && parse_seconds(optarg, &timeout_ms) < 0)
			return usage_error("wait: bad timeout '%s'", optarg);
		else if (opt == 'h')
			return fputs(usage_text, stdout), EXIT_OK;
		else if (opt == '?')
			return bad_option("wait", argv);
	}
	if (optind != argc - 1)
		return usage_error("wait: %s", "name one service");
	service = argv[optind];
	if (name_check(service) < 0)
		return usage_error("wait: invalid service name '%s'", service);
	dir = rundir_get();
	ret = rundir_check(dir);
	if (ret == -ENOENT)
		ret = 0;	/* it may come with the service */
	if (ret == 0)
		ret = sockaddr_make(&sa, dir, service, "");
	free(dir);
	if (ret < 0)
		return service_error(service, ret);
	return wait_for(service, &sa, timeout_ms);
}
