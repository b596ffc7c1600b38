/*
 * Stop signals for the tools' event loops: a signalfd watched like any
 * other fd (ipcd, ipc-tcpd, ipcctl monitor).
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_TOOLS_SIGNALS_H
#define IPC_TOOLS_SIGNALS_H

#include <signal.h>

/*
 * Blocks the signals of @set and returns a signalfd that receives them,
 * added to @ctx as an external fd (the context owns it from then on): the
 * loop sees a signal as an EXTERNAL event, between two events.  A
 * negative errno on failure, with nothing left open.
 */
int signals_watch(void *ctx, const sigset_t *set);

/*
 * Reads the signals waiting on @fd, a signalfd of signals_watch(): how
 * many were read (0 when none was waiting).
 */
unsigned int signals_read(int fd);

#endif /* IPC_TOOLS_SIGNALS_H */
