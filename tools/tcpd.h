/*
 * tcpd.h - what the files of ipc-tcpd share: its limits, the state of a
 * connection in its handshake, and the functions one file calls in another.
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_TCPD_H
#define IPC_TCPD_H

#include <netdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <libipc.h>

#include "handshake.h"
#include "network.h"

#define PROGRAM "ipc-tcpd"
#define DEFAULT_LISTEN "127.0.0.1:9000"
#define DEFAULT_SERVICE "tcp"
#define LISTEN_ENV "IPC_TCPD_LISTEN"
/* doc/network.md: a handshake completes within 5 s. */
#define DEFAULT_TIMEOUT_MS 5000
/* doc/network.md section 3: a request frame announces at most 4 KiB. */
#define REQUEST_MAX 4096
#define CONNECT_PREFIX "connect "
/* Room for bursts of connections: the kernel drops the SYNs past it. */
#define LISTEN_BACKLOG 4096
/* Text form of a numeric host (IPv6 with a zone), and of host and port. */
#define ADDR_HOST 64
#define ADDR_TEXT (ADDR_HOST + 10)
/* Bytes of pending input discarded before an error reply is sent. */
#define DRAIN_MAX (64 * 1024)
/* Accepts per wake-up of the listener, so that other peers get a turn. */
#define ACCEPT_BATCH 64
/* Ready handshake sockets (our epoll) handled per wake-up. */
#define WATCH_BATCH 64
/* Handshakes in progress, overall and from one address (options). */
#define DEFAULT_MAX_HANDSHAKES 256
#define DEFAULT_MAX_PER_SOURCE 32
/* Largest value of these options. */
#define COUNT_MAX 1000000
/*
 * File descriptors kept free for established relays, local clients and
 * the connections to local services: an accepted TCP connection that
 * leaves fewer free sheds the oldest handshake.
 */
#define FD_RESERVE 64
/* Period of the attempts to reach a local service whose backlog is full. */
#define LOCAL_RETRY_MS 20
/* Host names being resolved at once (threads). */
#define RESOLVERS_MAX 16
/* Text of an error reply passed on from a remote ipc-tcpd, NUL included. */
#define REPLY_TEXT_MAX 96
/* A log line, longer ones cut (a URI may be 4 KiB). */
#define LOG_LINE_MAX 512

/* What an fd of ours is doing during its handshake. */
enum peer_state {
	PEER_INBOUND,		/* accepted TCP: reading its request */
	PEER_LOCAL,		/* accepted TCP: its service's backlog full */
	PEER_REQUESTER,		/* our client: reading its URI */
	PEER_RESOLVING,		/* requester: its host being resolved */
	PEER_WAITING,		/* requester: waiting for its TCP side */
	PEER_CONNECTING,	/* outbound TCP: connect(2) in progress */
	PEER_REPLY,		/* outbound TCP: reading the reply */
};

struct resolve_job;

/* An fd in its handshake; forgotten once it is switched or closed. */
struct peer {
	enum peer_state state;
	int other;		/* requester <-> its TCP side, or -1 */
	int older, newer;	/* inbound: the list in accept order, or -1 */
	uint64_t deadline_ms;	/* handshake time limit (monotonic) */
	struct resolve_job *job;	/* resolving: its name lookup */
	struct handshake_reader reader;	/* TCP: the frame being read */
	char frame[REQUEST_MAX];	/* its payload */
	char addr[ADDR_TEXT];	/* inbound: the remote address (log) */
	char source[ADDR_HOST];	/* inbound: the remote host (limits) */
	char name[IPC_NET_NAME_MAX + 1]; /* local: the service asked for */
	size_t name_len;
	char uri[REQUEST_MAX + 1]; /* requester: the URI asked for */
};

/*
 * A host name resolved by a thread of its own: getaddrinfo(3) may take
 * as long as the resolver likes, the loop never waits for it.  The thread
 * writes the job's address to the pipe when done; the loop then uses the
 * result if the requester is still waiting for it (its peer points to the
 * job), and frees the job in any case.
 */
struct resolve_job {
	int requester;		/* the fd of the requester that asked */
	int notify;		/* write end of the daemon's pipe */
	int ret;		/* getaddrinfo(3)'s result */
	struct addrinfo *res;
	uint16_t port;
	char host[NI_MAXHOST];
};

struct options {
	const char *listen;
	const char *service;
	char **allow;		/* service names reachable from outside */
	size_t nallow;
	unsigned int timeout_ms;
	unsigned int max_handshakes;	/* inbound, overall */
	unsigned int max_per_source;	/* inbound, from one address */
};

struct tcpd {
	struct options opt;
	void *ctx;
	int listenfd;		/* TCP listener (external fd) */
	int signalfd;		/* SIGTERM, SIGINT (external fd) */
	int watchfd;		/* epoll of TCP fds in handshake */
	int resolved[2];	/* pipe of finished name lookups */
	int sparefd;		/* spent to refuse a client, out of fds */
	struct peer **peers;	/* by fd; NULL when not in handshake */
	size_t npeers;
	unsigned int inflight;	/* peers in handshake */
	int oldest, newest;	/* inbound handshakes, in accept order */
	unsigned int ninbound;
	unsigned int nlocal;	/* inbound waiting for a full backlog */
	unsigned int nresolving;	/* resolver threads not reported yet */
	unsigned int tick_ms;	/* timer period while there are any */
	unsigned int timer_ms;	/* the period set now, 0: off */
	bool stop;
};

/*
 * tcpd-peers.c: the log, small helpers, the table of peers in their
 * handshake, error replies
 */
void log_line(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
void addr_text(const struct sockaddr *sa, socklen_t len, char *buf,
	       size_t size, char *host, size_t hsize);
void ipc_send_error(struct tcpd *d, int fd, int err, const char *text);
void peer_close(struct tcpd *d, int fd);
void peer_end(struct tcpd *d, int fd);
struct peer *peer_get(const struct tcpd *d, int fd);
int peer_start(struct tcpd *d, int fd, enum peer_state state);
void printable(char *dst, size_t size, const char *src, size_t len);
int resolve(const char *host, uint16_t port, int flags, bool numeric,
	    struct addrinfo **res);
void tcp_send_error(int fd, int err, const char *text);
void timer_update(struct tcpd *d);
void tune_tcp(int fd);

/* tcpd-inbound.c: a remote ipc-tcpd asks for a local service */
void inbound_local_try(struct tcpd *d, int fd);
bool inbound_readable(struct tcpd *d, int fd);
void inbound_refuse(struct tcpd *d, int fd, int err, const char *text,
		    const char *service);
void listener_readable(struct tcpd *d);

/* tcpd-outbound.c: a local client asks for tcp://HOST:PORT/SERVICE */
void outbound_fail(struct tcpd *d, int req, int err, const char *text);
void outbound_readable(struct tcpd *d, int tcp);
void requester_message(struct tcpd *d, int fd, const char *msg,
		       size_t len);
void resolved_ready(struct tcpd *d);
void watch_ready(struct tcpd *d);

#endif /* IPC_TCPD_H */
