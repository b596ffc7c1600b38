/*
 * ipc-bench - what the files of the benchmark share.
 *
 * SPDX-License-Identifier: ISC
 *
 * A measurement runs in two (or three) processes forked from the driver:
 * a server side (an echo service, a sink, a relay) and a client side (a
 * ping-pong client, a stream sender).  Each is a "role": a function that
 * is given a struct run and fills in a struct result, which the driver
 * reads back through a pipe.  The driver itself only waits.
 */

#ifndef IPC_BENCH_H
#define IPC_BENCH_H

#include <config.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

/* The frame header, as the library writes it: ipc__be32_get/put. */
#include "be32.h"

/* Frame header: the payload length, 32-bit big-endian (libipc's own). */
#define FRAME_HEADER 4
/* Reads and packed writes move this much at a time. */
#define CHUNK (64 * 1024)
/* A streaming libipc sender keeps at most this much queued (or a chunk
 * per connection, when there are many). */
#define SEND_AHEAD (256 * 1024)
/*
 * Largest payload any role accepts: 64 MiB, for the handover scenario
 * (the libipc roles raise their context's maximum to it).
 */
#define MAX_PAYLOAD (64u * 1024 * 1024)

/* What one process of a measurement is told; copied into each child. */
struct run {
	size_t size;		/* payload bytes of every data message */
	uint64_t count;		/* messages or round trips, or 0 */
	double seconds;		/* how long a run lasts when count is 0 */
	unsigned int warmup;	/* untimed round trips first */
	unsigned int nconns;	/* connections of this client process */
	unsigned int total_conns; /* data connections the sink waits for */
	unsigned int nidle;	/* idle clients the server waits for */
	unsigned int nsenders;	/* client processes waiting for "done" */
	bool verify;		/* stamp and check every payload byte */
	bool callbacks;		/* relay: through switch callbacks */
	bool measure_rss;	/* report peak RSS (memory scenario) */
	char service[32];	/* libipc service name */
	char upstream[32];	/* relay: the service it forwards to */
	char path[108];		/* the same, as a socket path */
	char upstream_path[108];
	char url[128];		/* ipc://path, for ZeroMQ and nng */
	int ready_fd;		/* write 'R' once set up, 'A' once all
				 * expected clients are accepted */
	int stop_fd;		/* read end: end of file means stop */
	int go_fd;		/* read end: end of file means start */
	int done_r, done_w;	/* sink -> senders: everything arrived */
};

/* What a role reports; written whole through a pipe (< PIPE_BUF). */
struct result {
	int err;		/* 0, or a negative errno */
	char what[160];		/* why, when err */
	uint64_t msgs;		/* messages, round trips or connections */
	uint64_t bytes;		/* payload bytes */
	double seconds;		/* the measured interval */
	double p50_us, p99_us;	/* latency, or NAN */
	int64_t heap_bytes;	/* heap growth for the expected clients */
	int64_t slab_bytes;	/* kernel slab growth over the same time */
	unsigned int accepted;	/* connections accepted */
	unsigned int nofile;	/* RLIMIT_NOFILE soft limit reached */
	long rss_start_kib;	/* before the stream */
	long rss_peak_kib;	/* ru_maxrss at the end */
	uint64_t start_ns;	/* a stream's sender: before its first fill */
	uint64_t end_ns;	/* a stream's sink: its last message read */
};

typedef int (*role_fn)(const struct run *r, struct result *res);

/* bench-util.c: clock, placement, limits, payloads, framing, samples */
uint64_t now_ns(void);
double ns_to_s(uint64_t ns);
int pin_cpu(int cpu);
unsigned int raise_nofile(unsigned int need, const char *who);
int fail(struct result *res, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

size_t marker_len(size_t size);
void stamp(char *p, size_t size, uint64_t seq, bool verify);
void stamp_part(char *buf, size_t off, size_t n, size_t size, uint64_t seq);
int stamp_check(const char *p, size_t len, size_t size, uint64_t seq,
		bool verify);
bool run_done(const struct run *r, uint64_t done, uint64_t start_ns,
	      uint64_t now);

int write_iov(int fd, struct iovec *iov, int iovcnt);
int write_frame(int fd, const char *payload, size_t len);
void *xmalloc(size_t size);

/* Latency samples, in nanoseconds. */
struct samples {
	uint64_t *v;
	size_t n, cap;
};
void samples_add(struct samples *s, uint64_t ns);
void samples_report(struct samples *s, struct result *res);

/* The sync pipes of struct run. */
int ready_send(const struct run *r, char what);
int go_wait(const struct run *r);
void done_send(const struct run *r);
void done_wait(const struct run *r);
bool stop_requested(const struct run *r);
void stop_wait(const struct run *r);

/* Memory figures. */
int64_t heap_used(void);
int64_t slab_bytes(void);
long rss_peak_kib(void);

/* Raw AF_UNIX helpers. */
int unix_listen(const char *path);
int unix_connect(const char *path);

/*
 * A frame reader: reads up to CHUNK bytes at a time and hands out every
 * whole frame (header included) to a callback; the rest of a frame larger
 * than the chunk is read straight into place, the buffer having grown to
 * its size.
 */
typedef int (*frame_fn)(void *arg, const char *frame, size_t len);
struct reader {
	char *buf;
	size_t cap, off, len;
};
ssize_t reader_fill(struct reader *rd, int fd, frame_fn fn, void *arg);
void reader_free(struct reader *rd);

/*
 * bench-loop.c: the measuring loops every implementation shares.
 *
 * A ping-pong client gives a round trip function: send @len bytes, wait
 * for the answer and point @reply at it (valid until the next call).
 */
typedef int (*roundtrip_fn)(void *arg, const char *msg, size_t len,
			    const char **reply, size_t *rlen);
int pingpong_run(const struct run *r, struct result *res, roundtrip_fn fn,
		 void *arg);

/*
 * A stream sender sends one message on connection @conn; once the end
 * markers are sent too, flush (when there is one) writes what is held.
 */
struct sender_ops {
	int (*send)(void *arg, unsigned int conn, const char *payload,
		    size_t len);
	int (*flush)(void *arg);
};
int stream_run(const struct run *r, struct result *res,
	       const struct sender_ops *ops, void *arg);

/*
 * A sink checks every message of r->total_conns streams: per connection
 * sequence numbers (or, for a socket that hides connections, each
 * message's own consistency) and the markers that end them.
 */
#define SINK_ANONYMOUS UINT32_MAX
struct sink {
	const struct run *r;
	struct result *res;
	uint64_t *next;		/* next sequence number, by connection */
	size_t nnext;
	unsigned int markers;
	bool done;		/* every stream has ended */
	uint64_t msgs;
	uint64_t first_ns, last_ns;
};
void sink_init(struct sink *s, const struct run *r, struct result *res);
int sink_take(struct sink *s, uint32_t conn, const char *payload,
	      size_t len);
void sink_report(struct sink *s);

/* bench-raw.c: plain AF_UNIX sockets */
int raw_blocking_echo(const struct run *r, struct result *res);
int raw_blocking_client(const struct run *r, struct result *res);
int raw_epoll_echo(const struct run *r, struct result *res);
int raw_poll_echo(const struct run *r, struct result *res);
int raw_epoll_client(const struct run *r, struct result *res);
int raw_sink(const struct run *r, struct result *res);
int raw_epoll_sink(const struct run *r, struct result *res);
int raw_writev_sender(const struct run *r, struct result *res);
int raw_packed_sender(const struct run *r, struct result *res);
int raw_churn_client(const struct run *r, struct result *res);
int raw_idle_clients(const struct run *r, struct result *res);
int raw_relay(const struct run *r, struct result *res);

/* bench-ipc.c: libipc through its public API only */
int ipc_echo(const struct run *r, struct result *res);
int ipc_sink(const struct run *r, struct result *res);
/* The same, driven through poll(2) on ipc_context_fd(). */
int ipc_echo_embedded(const struct run *r, struct result *res);
int ipc_sink_embedded(const struct run *r, struct result *res);
int ipc_client(const struct run *r, struct result *res);
int ipc_sender(const struct run *r, struct result *res);
/*
 * Handover: each payload in a sealed memfd, the sender's memfd made one
 * way or another (bench-memfd.c); the sink maps it with MAP_POPULATE,
 * or without (-fault).
 */
int ipc_memfd_sink(const struct run *r, struct result *res);
int ipc_memfd_sink_fault(const struct run *r, struct result *res);
int ipc_memfd_sender(const struct run *r, struct result *res);
int ipc_memfd_sender_map(const struct run *r, struct result *res);
int ipc_memfd_sender_fault(const struct run *r, struct result *res);
int ipc_memfd_sender_falloc(const struct run *r, struct result *res);
int ipc_memfd_sender_huge(const struct run *r, struct result *res);

/* bench-memfd.c */
enum memfd_way {
	MEMFD_PWRITE,	/* pieces made in a warm buffer, pwrite(2) each */
	MEMFD_MAP,	/* ftruncate, mmap(MAP_POPULATE), fill the mapping */
	MEMFD_FAULT,	/* ftruncate, mmap, fill: a page fault per page */
	MEMFD_FALLOC,	/* fallocate, mmap(MAP_POPULATE), fill */
	MEMFD_HUGE,	/* ftruncate, mmap, MADV_HUGEPAGE, populate, fill */
};
/* A sealed memfd holding the payload numbered @seq, or -errno. */
int memfd_make(size_t len, uint64_t seq, enum memfd_way way);
int local_fill_read(const struct run *r, struct result *res);
int ipc_churn_client(const struct run *r, struct result *res);
int ipc_relay(const struct run *r, struct result *res);

/* bench-zmq.c and bench-nng.c, when configure found them */
int bench_zmq_echo(const struct run *r, struct result *res);
int bench_zmq_client(const struct run *r, struct result *res);
int bench_zmq_sink(const struct run *r, struct result *res);
int bench_zmq_sender(const struct run *r, struct result *res);
int bench_nng_echo(const struct run *r, struct result *res);
int bench_nng_client(const struct run *r, struct result *res);
int bench_nng_sink(const struct run *r, struct result *res);
int bench_nng_sender(const struct run *r, struct result *res);

/*
 * bench-routed.c: the routed scenario's daemons (ipcd and two ipc-tcpd,
 * from the directory given with --routed) and host B's run directory.
 */
struct routed {
	char tools[4096];	/* where ipcd and ipc-tcpd are */
	char rundir_b[64];	/* host B's run directory */
	char network[160];	/* the client's IPC_NETWORK */
	pid_t ipcd, tcpd_a, tcpd_b;
};
int routed_prepare(struct routed *rt, const char *tools, struct result *res);
int routed_start(struct routed *rt, const char *rundir_a,
		 const char *service, struct result *res);
void routed_env(const struct routed *rt, const char *rundir, bool client);
void routed_stop(struct routed *rt);

/* bench-proc.c: running roles in child processes */
struct child {
	pid_t pid;
	int ready_fd;		/* read end of the child's ready pipe */
	int res_fd;		/* read end of its result pipe */
};

struct measure {
	int stop_w, go_w;	/* write ends the driver closes */
	struct run run;		/* fds as the children see them */
	unsigned int timeout_s;	/* then a child still running is killed */
};

int measure_open(struct measure *m);
void measure_close(struct measure *m);
int child_spawn(struct measure *m, struct child *c, role_fn fn, int cpu,
		bool server, struct result *res);
int child_ready(struct child *c, char what, unsigned int timeout_s,
		struct result *res);
void measure_go(struct measure *m);
void measure_stop(struct measure *m);
int child_finish(struct child *c, unsigned int timeout_s,
		 struct result *res);

#endif /* IPC_BENCH_H */
