/*
 * ipcctl.h - what the commands of ipcctl share: the exit statuses,
 * the run directory, names and errors, the options, the printing of
 * payloads (ipcctl-util.c), and the commands (ipcctl-*.c).
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_IPCCTL_H
#define IPC_IPCCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/un.h>

/* Exit statuses (doc/man/ipcctl.1). */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,		/* any other failure */
	EXIT_USAGE = 2,		/* bad arguments or input */
	EXIT_NO_SERVICE = 3,	/* no such service */
	EXIT_REFUSED = 4,	/* a socket no one listens on (stale) */
	EXIT_TIMEOUT = 5,	/* the timeout expired */
	EXIT_CLOSED = 6,	/* the service closed before all replies */
	EXIT_DENIED = 7,	/* permission denied, unsafe run directory */
};

extern const char *progname;
extern const char usage_text[];

/* ipcctl-util.c: run directory, names, errors, options, printing */
enum print_mode { PRINT_AUTO, PRINT_RAW, PRINT_HEX };

__attribute__((format(printf, 1, 2)))
int usage_error(const char *fmt, ...);
int bad_option(const char *command, char **argv);
char *rundir_get(void);
int name_check(const char *name);
int rundir_check(const char *dir);
int status_of(int err);
int service_error(const char *service, int err);
int sockaddr_make(struct sockaddr_un *sa, const char *dir,
		  const char *name, const char *suffix);
int probe(const struct sockaddr_un *sa, int *fdp);
int parse_seconds(const char *arg, int *ms);
int parse_count(const char *arg, unsigned long *n);
int64_t now_ms(void);
void payload_print(const char *data, size_t len, enum print_mode mode);
void preview_print(const char *data, size_t shown, size_t len,
		   bool hex);
void name_print(FILE *f, const char *name);
void json_string(const char *s);

/* The commands: ipcctl-list.c, ipcctl-send.c, ipcctl-wait.c, ipcctl-monitor.c,
 * ipcctl-bridge.c */
int cmd_list(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_wait(int argc, char **argv);
int cmd_monitor(int argc, char **argv);
int cmd_bridge(int argc, char **argv);

#endif /* IPC_IPCCTL_H */
