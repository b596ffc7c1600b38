/*
 * What ipcd and ipc-tcpd share as daemons of a libipc event loop.
 *
 * SPDX-License-Identifier: ISC
 *
 * The daemons take their stop signals from a signalfd that the loop
 * watches like any other fd (signals.c).
 */

#include <config.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <libipc.h>

#include "daemon.h"
#include "signals.h"

int daemon_signals_watch(void *ctx)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	return signals_watch(ctx, &set);
}

uint64_t daemon_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int daemon_ms_parse(const char *s, unsigned int *ms)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > DAEMON_TIMEOUT_MAX_MS)
		return -EINVAL;
	*ms = (unsigned int)v;
	return 0;
}
