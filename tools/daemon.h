/*
 * What ipcd and ipc-tcpd share as daemons of a libipc event loop.
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_DAEMON_H
#define IPC_DAEMON_H

#include <stddef.h>
#include <stdint.h>

/*
 * Blocks SIGTERM and SIGINT and returns a signalfd that receives them,
 * added to @ctx as an external fd (the context owns it from then on): the
 * loop sees a stop request as an EXTERNAL event, between two events, and
 * reads a struct signalfd_siginfo from the fd.  A negative errno on
 * failure, with nothing left open.
 */
int daemon_signals_watch(void *ctx);

/*
 * Makes freed large buffers go back to the system: a relay's queues grow
 * to megabytes under a flood and are freed when it ends, and glibc's
 * default (a threshold that rises with each large buffer freed) would
 * keep that memory in the heap for good.  Call first in main().
 */
void daemon_memory_setup(void);

/* The monotonic clock in milliseconds, for the handshakes' deadlines. */
uint64_t daemon_now_ms(void);

/* Longest time limit an option may set: an hour. */
#define DAEMON_TIMEOUT_MAX_MS (3600 * 1000)

/*
 * A count option: @s in decimal, 1 to @max, nothing else.  0, or
 * -EINVAL.
 */
int daemon_count_parse(const char *s, unsigned int max, unsigned int *n);

/*
 * A time limit option: @s in decimal milliseconds, 1 to
 * DAEMON_TIMEOUT_MAX_MS, nothing else.  0, or -EINVAL.
 */
int daemon_ms_parse(const char *s, unsigned int *ms);

/*
 * A raw, non-blocking connection to the local service @name (@len bytes,
 * a valid service name) in the run directory ($IPC_RUNDIR, else the
 * default), stored in *@fdp.  Never blocks: 0, -EAGAIN while the
 * service's backlog is full (nothing is left open; try again later), or
 * another negative errno (-ENOENT: nothing serves @name).
 */
int daemon_local_connect(const char *name, size_t len, int *fdp);

#endif /* IPC_DAEMON_H */
