/*
 * What ipcd and ipc-tcpd share as daemons of a libipc event loop.
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_DAEMON_H
#define IPC_DAEMON_H

/*
 * Blocks SIGTERM and SIGINT and returns a signalfd that receives them,
 * added to @ctx as an external fd (the context owns it from then on): the
 * loop sees a stop request as an EXTERNAL event, between two events, and
 * reads a struct signalfd_siginfo from the fd.  A negative errno on
 * failure, with nothing left open.
 */
int daemon_signals_watch(void *ctx);

#endif /* IPC_DAEMON_H */
