/*
 * ipc-sshd - the ssh protocol service of libipc: what its files share.
 *
 * SPDX-License-Identifier: ISC
 *
 * ipc-sshd.c        main(), options, the event loop, the requesters
 * ipc-sshd-uri.c    ssh://[USER@]HOST[:PORT]/SERVICE and the ssh command
 * ipc-sshd-child.c  ssh children: spawn, stderr to the log, reaping, the
 *                   errno of a failed ssh
 */

#ifndef IPC_SSHD_H
#define IPC_SSHD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "handshake.h"

#define PROGRAM "ipc-sshd"
/* A URI and a status frame of the bridge (doc/network.md: 1 KiB). */
#define REQUEST_MAX 4096
#define STATUS_MAX 1024
/* The last line of ssh's stderr kept for the log and the reply. */
#define STDERR_LINE_MAX 200
#define USER_MAX 64
#define HOST_MAX 256

struct options {
	const char *service;		/* libipc service name ("ssh") */
	const char *ssh;		/* the ssh program */
	const char *config;		/* -F FILE, or NULL */
	const char **ssh_options;	/* -o OPTION each */
	size_t nssh_options;
	const char *remote_command;	/* "ipcctl" on the remote host */
	const char *control_dir;	/* ControlPath's directory, or NULL */
	unsigned int timeout_ms;	/* from the URI to the status frame */
	unsigned int persist_s;		/* ControlPersist */
};

/* A destination: ssh's connection to it is shared by its clients. */
struct host {
	char user[USER_MAX];
	char name[HOST_MAX];
	char port[8];			/* empty: ssh's default */
	unsigned int index;		/* ControlPath: DIR/INDEX */
	struct child *starting;		/* the first ssh, making the master */
	int failed;			/* how the first failed: errno, or 0 */
};

enum child_state {
	CHILD_QUEUED,		/* waits for its host's first ssh */
	CHILD_STARTING,		/* ssh runs, its status not read yet */
	CHILD_HANDED,		/* the client holds ssh's socket */
	CHILD_ENDED,		/* ssh closed its stdout first */
};

/*
 * A routed client and its ssh child.  @sock is our end of the
 * socketpair whose other end is ssh's stdin and stdout, handed to the
 * client with the "ok"; @err the read end of its stderr.
 */
struct child {
	enum child_state state;
	int client;			/* the requester, -1 once done */
	int sock, err;			/* -1 when closed */
	pid_t pid;			/* 0 once reaped */
	int wstatus;			/* once reaped */
	struct host *host;
	char service[256];
	uint64_t deadline_ms;
	int ssh_errno;			/* what ssh's stderr said, or 0 */
	char line[STDERR_LINE_MAX];	/* its last line */
	size_t linelen;
	struct handshake_reader reader;
	char status[STATUS_MAX];
	struct child *next;		/* all children */
};

/* ipc-sshd-uri.c */

/*
 * Parses the URI ssh://[USER@]HOST[:PORT]/SERVICE (@len bytes) into
 * @user, @host, @port (empty when absent) and @service.  0, or -EINVAL.
 */
int sshd_uri_parse(const char *uri, size_t len, char *user, char *host,
		   char *port, char *service);

/*
 * The argv of ssh for @c, NULL-terminated, its strings in one block:
 * free() the result.  NULL when out of memory.
 */
char **sshd_command(const struct options *o, const char *control_dir,
		    const struct child *c);

/* ipc-sshd-child.c */

/*
 * Starts ssh for @c: @c->sock and @c->err are added to @ctx as external
 * fds.  0 or a negative errno (nothing left open).
 */
int child_spawn(void *ctx, struct child *c, char **argv);

/*
 * Reads what ssh wrote on stderr (non-blocking): each line to the log,
 * the errno it means kept in @c.  Returns true at end of file.
 */
bool child_stderr(struct child *c);

/*
 * The errno of an ssh that ended without a status frame: what its
 * stderr said, else what its exit status means.
 */
int child_errno(const struct child *c);

/* Starts a log line of ipc-sshd's (stderr, one write per line). */
void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* IPC_SSHD_H */
