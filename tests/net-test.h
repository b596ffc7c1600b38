/*
 * libipc test helpers for the network daemons: ipc-tcpd, ipcd and pongd
 * started as real processes in a run directory, and raw TCP peers.
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef NET_TEST_H
#define NET_TEST_H

#include "ipc-test.h"

/*
 * A daemon started by a test.
 *
 * @pid:     its process id, 0 once reaped.
 * @rundir:  the run directory it was given (IPC_RUNDIR).
 * @socket:  the name of the service socket it makes in @rundir; the
 *           daemon is ready once it accepts there (it makes it last).
 * @addr:    ipc-tcpd: the TCP address it listens on ("127.0.0.2").
 * @port:    ipc-tcpd: the TCP port it listens on.
 */
struct net_daemon {
	GPid pid;
	char *rundir;
	char *socket;
	char *addr;
	guint16 port;
};

/*
 * Runs the program named by the environment variable @program_env (e.g.
 * "PONGD", as make check exports it) with @args (NULL-terminated, may be
 * NULL) and IPC_RUNDIR=@rundir, and waits until it accepts on its socket
 * @socket in @rundir.  Fails the test if the program exits first.  The
 * daemon gets SIGTERM if the test program dies first.
 */
void net_daemon_start(struct net_daemon *d, const char *program_env,
		      const char *rundir, const char *socket,
		      const char *const *args);

/*
 * Runs $IPC_TCPD in @rundir with --listen @addr:PORT --service @service
 * and @args, PORT being a port it could bind: each attempt takes another
 * port, derived from the test's pid, until one is free.
 */
void net_tcpd_start(struct net_daemon *d, const char *rundir,
		    const char *addr, const char *service,
		    const char *const *args);

/*
 * SIGTERM, then waits for the daemon and asserts that it exited 0 (under
 * valgrind: no error, no leak) and removed its socket and lock file.
 */
void net_daemon_stop(struct net_daemon *d);

/* The same with signal @sig (SIGINT) instead of SIGTERM. */
void net_daemon_stop_by(struct net_daemon *d, int sig);

/* SIGKILL, then waits for the daemon; frees @d like net_daemon_stop(). */
void net_daemon_kill(struct net_daemon *d);

/* Blocking TCP connection to @addr:@port (close-on-exec), asserted. */
int net_tcp_connect(const char *addr, guint16 port);

/*
 * A blocking TCP listener on @addr at a free port (close-on-exec), stored
 * in *@port: a stand-in for a remote ipc-tcpd.
 */
int net_tcp_listen(const char *addr, guint16 *port);

/* Reads one frame from @fd and asserts that its payload is @text. */
void net_expect_text(int fd, const char *text);

/* Writes one frame whose payload is @text to @fd. */
void net_send_text(int fd, const char *text);

/*
 * Asserts that @text is the only thing left: one frame, then the end of
 * the stream (the daemon closed the connection).
 */
void net_expect_last(int fd, const char *text);

/* A sub-directory @name of the fixture's run directory, mode 0700. */
char *net_subdir(struct ipc_test_fixture *f, const char *name);

/* TRUE when 127.0.0.2 can be bound (Linux loopback takes 127/8). */
gboolean net_loopback_aliases(void);

#endif /* NET_TEST_H */
