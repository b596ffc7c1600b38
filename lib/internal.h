/*
 * libipc internals shared between the files of lib/.
 *
 * SPDX-License-Identifier: ISC
 *
 * A context holds a table of connections ("slots").  A slot's number is
 * the public index of its connection; fds map to slots through an array
 * indexed by fd, so finding a connection is O(1).  Two work lists drive
 * ipc_wait_event(): the ready ring (slots that may produce an event
 * without waiting) and the dirty list (slots with queued bytes to write
 * before the next wait).
 *
 * The invariant every file relies on: the table is one array that
 * ipc__conn_add() may move (realloc) to grow it, so a struct ipc_conn
 * pointer dies at any call that may add a connection: ipc__conn_add()
 * itself, ipc__accept() (so ipc_wait_event()), the public calls that open
 * or add fds (ipc_service_init(), ipc_connect_service(),
 * ipc_add_external()), and a switch callback, which may call any of them.
 * Across such a call keep the slot number (ipc__slot_of()) or the fd, and
 * look the connection up again afterwards.
 */

#ifndef IPC_INTERNAL_H
#define IPC_INTERNAL_H

#include <config.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libipc.h"

#define IPC_EXPORT __attribute__((visibility("default")))
#define IPC_HIDDEN __attribute__((visibility("hidden")))

/* No slot: also the end of the free list. */
#define IPC_NONE UINT32_MAX

/*
 * Size of one I/O buffer: one read or write moves up to this much.  A
 * 64 KiB message and its header fit in one.
 */
#define IPC_CHUNK (128 * 1024)
/* Payloads from this size leave straight from the caller's buffer. */
#define IPC_DIRECT_FROM (32 * 1024)
/* Spare buffers a context keeps so the hot path never calls malloc. */
#define IPC_POOL_SIZE 8
/* Largest grown buffer a context keeps for its next large message. */
#define IPC_SPARE_MAX (4 * 1024 * 1024)
/*
 * A larger one is kept only this long after its last use: a stream of
 * large messages reuses the same pages instead of faulting in a fresh
 * mapping for each (doc/performance.md, "Large messages"), and a context
 * that got one large message gives the memory back soon after.
 */
#define IPC_SPARE_KEEP_NS (250 * 1000 * 1000ull)
/* Frame header: the payload length, 32-bit big-endian. */
#define IPC_HEADER 4
/*
 * Largest size a buffer or a message may have, so that sums of a few
 * sizes never wrap: only a 32-bit size_t comes near it (1 GiB there).
 */
#define IPC_SIZE_LIMIT (SIZE_MAX / 4)
/*
 * A connection that sends a message larger than IPC_WIDE_FROM asks the
 * kernel for an IPC_WIDE_SNDBUF socket buffer (clamped by
 * net.core.wmem_max): fewer wake-ups per large message.
 */
#define IPC_WIDE_FROM (128 * 1024)
#define IPC_WIDE_SNDBUF (2 * 1024 * 1024)
/* How long a listener stays paused after accept ran out of fds. */
#define IPC_ACCEPT_RETRY_NS (100 * 1000 * 1000ull)
/*
 * How long a switch side whose peer is gone may go without writing
 * anything of what is still queued for it before it is dropped
 * (IPC_LINGER_MS in libipc.h).
 */
#define IPC_LINGER_NS ((uint64_t)IPC_LINGER_MS * 1000 * 1000)

enum ipc_kind {
	IPC_KIND_FREE = 0,
	IPC_KIND_SERVICE,	/* a listening socket of ours */
	IPC_KIND_CLIENT,	/* a client accepted by one of our services */
	IPC_KIND_SERVER,	/* our connection to someone's service */
	IPC_KIND_EXTERNAL,	/* a user fd, watched only */
};

enum ipc_conn_flag {
	IPC_F_QUEUED = 1 << 0,	 /* in the ready ring (see conn.c) */
	IPC_F_DIRTY = 1 << 1,	 /* in the dirty list */
	IPC_F_SWITCHED = 1 << 2, /* relayed to conn->peer */
	IPC_F_EOF = 1 << 3,	 /* nothing more to read: deliver, then close */
	IPC_F_CLOSING = 1 << 4,	 /* switch peer gone: drain output, close */
	IPC_F_POLLOUT = 1 << 5,	 /* the backend watches for writability */
	IPC_F_SOCKET = 1 << 6,	 /* send(MSG_NOSIGNAL) works on it */
	IPC_F_PAUSED = 1 << 7,	 /* listener paused after EMFILE */
	IPC_F_BROKEN = 1 << 8,	 /* a write failed: read what is left, close */
	IPC_F_THROTTLED = 1 << 9, /* not read: a queue is over the high-water */
	IPC_F_WIDE = 1 << 10,	 /* SO_SNDBUF raised for large messages */
	IPC_F_CLOSE_ASKED = 1 << 11, /* closed from a callback: close next */
	IPC_F_HALF = 1 << 12,	 /* switched, read to its end, still written */
	IPC_F_DRAIN = 1 << 13,	 /* switch peer half-closed: write, shut down */
	IPC_F_UNIX = 1 << 14,	 /* a Unix socket: may carry fds */
	IPC_F_ASSEMBLE = 1 << 15, /* its large frame left the caller's buffer */
};

/* Readiness, as the backends report it. */
enum ipc_ready {
	IPC_EV_IN = 1 << 0,
	IPC_EV_OUT = 1 << 1,
	IPC_EV_HUP = 1 << 2,	/* hang-up, error or peer shutdown */
};

/*
 * A byte buffer: live bytes are data[off, len), free room data[len, cap).
 * An empty buffer holds no memory; see buffer.c.
 */
struct ipc_buf {
	char *data;
	size_t off;
	size_t len;
	size_t cap;
};

/*
 * Fds passed with one message (fds.c): @at is the stream offset of its
 * frame's first header byte, counted from the connection's first byte
 * read (receiving) or written (sending).
 */
struct ipc_fdmsg {
	uint64_t at;
	uint32_t n;
	int fds[];
};

/* Fds of messages in stream order, @nfds in all. */
struct ipc_fdq {
	struct ipc_fdmsg **v;
	uint32_t count;
	uint32_t cap;
	size_t nfds;
};

/* SCM_MAX_FD: most fds one sendmsg(2) carries (IPC_MESSAGE_FDS_MAX). */
#define IPC_FDS_MAX 253
/* Largest ipc_context_fd_limit(): the usual hard RLIMIT_NOFILE. */
#define IPC_FD_LIMIT_MAX (1024 * 1024)

typedef char (*ipc_cb_in)(int orig, char *payload, size_t *mlen);
typedef char (*ipc_cb_out)(int dest, const char *payload, size_t mlen);

/*
 * The files of a service, removed when it closes.  A service that adopted
 * a socket passed by socket activation has none (NULL paths, lock_fd -1):
 * the socket file is not its own to remove.  It serves on a duplicate of
 * the passed fd, given back to activation.c when it closes.
 */
struct ipc_service {
	char *path;
	char *lock_path;
	int lock_fd;
	int passed_fd;		/* the fd passed, or -1 */
};

struct ipc_conn {
	int fd;
	uint16_t flags;
	uint8_t kind;
	uint8_t revents;	/* readiness not handled yet */
	uint32_t tx_pending;	/* messages written whole, not yet reported */
	uint32_t peer;		/* switch peer, or the next free slot */
	/* Incoming bytes; off is the start of the next frame. */
	struct ipc_buf in;
	/*
	 * Outgoing frames; off is the start of the first frame not written
	 * whole, out_sent how many of its bytes (and the next ones') left.
	 */
	struct ipc_buf out;
	size_t out_sent;
	ipc_cb_in cb_in;
	ipc_cb_out cb_out;
	struct ipc_service *service;
	uint64_t linger_until;	/* IPC_F_CLOSING, IPC_F_DRAIN: dropped then */
	/* Bytes ever read and written: stream offsets of the fds below. */
	uint64_t rx_total;
	uint64_t tx_total;
	struct ipc_fdq rxq;	/* fds received, not handed out yet */
	struct ipc_fdq txq;	/* duplicates to send, one per frame */
};

struct ipc_event {
	char type;
	uint32_t slot;
	int fd;
	int newfd;
	char *buf;		/* the caller's buffer */
	size_t cap;		/* its size */
	size_t len;		/* the length to report */
};

struct ipc_ctx {
	unsigned int generation; /* ipc__fork_generation when created */
	struct ipc_conn *conns;
	uint32_t nslots;	/* slots ever used: conns[0, nslots) */
	uint32_t cap;		/* slots allocated */
	uint32_t free_head;	/* free list through conn->peer */
	uint32_t nconns;	/* slots in use */

	int *fdmap;		/* fd -> slot, -1 for none */
	int fdmap_len;

	uint32_t *ready;	/* ring of slots, cap entries */
	uint32_t ready_head;
	uint32_t ready_count;
	uint32_t *dirty;	/* stack of slots, cap entries */
	uint32_t dirty_count;

	uint32_t current;	/* slot stepped before the ring (event.c) */
	uint32_t held;		/* slot whose next message did not fit */
	/*
	 * A large frame read straight into the caller's buffer during one
	 * ipc_wait_event() call (read.c): its slot (IPC_NONE for none),
	 * the payload bytes there, the payload's length, its stream
	 * offset (the key of its fds) and the buffer.
	 */
	uint32_t landing;
	size_t land_got;
	size_t land_len;
	uint64_t land_at;
	char *land_buf;
	uint32_t paused;	/* listeners paused after EMFILE */
	uint64_t paused_until;

	int timer_ms;
	uint64_t timer_next;	/* monotonic ns */

	uint32_t in_callback;	/* a switch callback is running */
	uint32_t lingering;	/* slots with IPC_F_CLOSING */
	uint64_t linger_next;	/* no closing slot is due before this */

	size_t max_message;
	size_t queue_high;	/* stop reading above this many queued bytes */
	size_t queue_max;	/* ipc_schedule() refuses above this */
	size_t fd_limit;	/* fds a connection's rxq may hold */
	/* The fds of the message last returned, until taken or the next
	 * call that reads (ipc_message_fds()). */
	struct ipc_fdmsg *msg_fds;

	char *pool[IPC_POOL_SIZE];
	int pool_count;
	char *spare;		/* one grown buffer, kept for the next one */
	size_t spare_cap;
	uint64_t spare_until;	/* a spare over IPC_SPARE_MAX goes then */
	char *scratch;		/* payload buffer for switch in-callbacks */
	size_t scratch_cap;

	void *backend;

	/* ipc_context_fd() was called: see embed.c. */
	struct ipc_embed *embed;
	/* Embedded, between calls, and the context fd not readable. */
	bool embed_idle;
};

/*
 * context.c: fork(2).  A context belongs to the process that created it:
 * a forked child shares its files, epoll set and run-directory entries
 * with the parent, so every call on the parent's context in a child fails
 * with -ECHILD, but ipc_context_deinit(), which there only closes the
 * child's copies of the fds and frees memory.  The generation counts the
 * forks down to this process (pthread_atfork), so the check costs a load.
 */
IPC_HIDDEN extern unsigned int ipc__fork_generation;

/* 0, -EINVAL for no context, -ECHILD for a context of a parent. */
static inline int ipc__ctx_check(const struct ipc_ctx *ctx)
{
	if (!ctx)
		return -EINVAL;
	if (ctx->generation != ipc__fork_generation)
		return -ECHILD;
	return 0;
}

/* The frame header: the payload length, 32-bit big-endian (be32.h). */
#include "be32.h"

/* fds.c: fds passed with messages */
IPC_HIDDEN struct ipc_fdmsg *ipc__fdmsg_new(const int *fds, uint32_t n);
/* Closes the fds and frees; accepts NULL. */
IPC_HIDDEN void ipc__fdmsg_free(struct ipc_fdmsg *m);
IPC_HIDDEN int ipc__fdq_reserve(struct ipc_fdq *q);
/* After ipc__fdq_reserve(): cannot fail. */
IPC_HIDDEN void ipc__fdq_push(struct ipc_fdq *q, struct ipc_fdmsg *m);
IPC_HIDDEN struct ipc_fdmsg *ipc__fdq_pop(struct ipc_fdq *q);
IPC_HIDDEN void ipc__fdq_unpop(struct ipc_fdq *q, struct ipc_fdmsg *m);
/* Closes every fd queued and frees the queue. */
IPC_HIDDEN void ipc__fdq_clear(struct ipc_fdq *q);
IPC_HIDDEN struct ipc_fdmsg *ipc__rx_fds_take(struct ipc_conn *c,
					      uint64_t at);
/* The message returned now carries @m (or none): the last one's close. */
IPC_HIDDEN void ipc__msg_fds_set(struct ipc_ctx *ctx, struct ipc_fdmsg *m);

/* conn.c: the connection table and its work lists */
IPC_HIDDEN int ipc__conn_add(struct ipc_ctx *ctx, int fd, enum ipc_kind kind,
			     uint32_t *slot);
IPC_HIDDEN void ipc__conn_free(struct ipc_ctx *ctx, uint32_t slot);
IPC_HIDDEN struct ipc_conn *ipc__conn_by_slot(struct ipc_ctx *ctx,
					      size_t slot);
IPC_HIDDEN int ipc__conn_watch(struct ipc_ctx *ctx, struct ipc_conn *c);
/* The user's fd as a libipc stream (not switched): 0, -EBADF or -EINVAL. */
IPC_HIDDEN int ipc__stream_conn(struct ipc_ctx *ctx, int fd,
				struct ipc_conn **cp);

static inline uint32_t ipc__slot_of(struct ipc_ctx *ctx, struct ipc_conn *c)
{
	return (uint32_t)(c - ctx->conns);
}

/* Fills in the event of type @type for c; returns 1 (an event). */
static inline int ipc__report(struct ipc_ctx *ctx, struct ipc_conn *c,
			      struct ipc_event *ev, char type)
{
	ev->type = type;
	ev->slot = ipc__slot_of(ctx, c);
	ev->fd = c->fd;
	return 1;
}

static inline struct ipc_conn *ipc__conn_by_fd(struct ipc_ctx *ctx, int fd)
{
	if (fd < 0 || fd >= ctx->fdmap_len || ctx->fdmap[fd] < 0)
		return NULL;
	return &ctx->conns[ctx->fdmap[fd]];
}

/*
 * embed.c: the context fd.  wake: work was queued between two calls, the
 * fd becomes readable.  sync: at the end of each call, the fd made
 * readable or not by what is left.  before_wait: the backend is about to
 * wait with nothing left to do.  timer: the timer's deadline changed.
 */
IPC_HIDDEN void ipc__embed_wake(struct ipc_ctx *ctx);
IPC_HIDDEN void ipc__embed_sync(struct ipc_ctx *ctx);
IPC_HIDDEN void ipc__embed_before_wait(struct ipc_ctx *ctx);
IPC_HIDDEN void ipc__embed_timer(struct ipc_ctx *ctx);
IPC_HIDDEN void ipc__embed_fini(struct ipc_ctx *ctx);

/* The work lists hold each slot once; see conn.c. */
static inline void ipc__ready_push(struct ipc_ctx *ctx, uint32_t slot)
{
	struct ipc_conn *c = &ctx->conns[slot];
	uint32_t tail = (ctx->ready_head + ctx->ready_count) & (ctx->cap - 1);

	if (c->flags & IPC_F_QUEUED)
		return;
	c->flags |= IPC_F_QUEUED;
	ctx->ready[tail] = slot;
	ctx->ready_count++;
	if (ctx->embed_idle)
		ipc__embed_wake(ctx);
}

/* Returns the next slot in use that was queued, or IPC_NONE. */
static inline uint32_t ipc__ready_pop(struct ipc_ctx *ctx)
{
	while (ctx->ready_count) {
		uint32_t slot = ctx->ready[ctx->ready_head];

		ctx->ready_head = (ctx->ready_head + 1) & (ctx->cap - 1);
		ctx->ready_count--;
		ctx->conns[slot].flags &= (uint16_t)~IPC_F_QUEUED;
		if (ctx->conns[slot].kind != IPC_KIND_FREE)
			return slot;
	}
	return IPC_NONE;
}

static inline void ipc__dirty_push(struct ipc_ctx *ctx, uint32_t slot)
{
	struct ipc_conn *c = &ctx->conns[slot];

	if (c->flags & IPC_F_DIRTY)
		return;
	c->flags |= IPC_F_DIRTY;
	ctx->dirty[ctx->dirty_count++] = slot;
	if (ctx->embed_idle)
		ipc__embed_wake(ctx);
}

static inline bool ipc__is_stream(const struct ipc_conn *c)
{
	return c->kind == IPC_KIND_CLIENT || c->kind == IPC_KIND_SERVER;
}

/* buffer.c: buffers and the context's pool of spare ones */
IPC_HIDDEN int ipc__buf_grow(struct ipc_ctx *ctx, struct ipc_buf *b,
			     size_t room, size_t most);

/* Makes room for @room more bytes after b->len, growing for no more
 * than @most (see buffer.c). */
static inline int ipc__buf_reserve_most(struct ipc_ctx *ctx,
					struct ipc_buf *b, size_t room,
					size_t most)
{
	if (b->data && b->cap - b->len >= room)
		return 0;
	return ipc__buf_grow(ctx, b, room, most);
}

static inline int ipc__buf_reserve(struct ipc_ctx *ctx, struct ipc_buf *b,
				   size_t room)
{
	return ipc__buf_reserve_most(ctx, b, room, SIZE_MAX);
}
IPC_HIDDEN void ipc__buf_release(struct ipc_ctx *ctx, struct ipc_buf *b);
IPC_HIDDEN void ipc__buf_shrink(struct ipc_ctx *ctx, struct ipc_buf *b);
IPC_HIDDEN void ipc__buf_drop(struct ipc_ctx *ctx, struct ipc_buf *b);
IPC_HIDDEN void ipc__pool_fini(struct ipc_ctx *ctx);
/* Frees a large spare whose time is up: ms until it is due, or -1. */
IPC_HIDDEN int ipc__spare_expire(struct ipc_ctx *ctx, uint64_t now);

/* read.c: reading frames, ipc_read() and ipc_read_fd() */
IPC_HIDDEN int ipc__in_reserve(struct ipc_ctx *ctx, struct ipc_conn *c);
IPC_HIDDEN ssize_t ipc__fill(struct ipc_ctx *ctx, struct ipc_conn *c);
IPC_HIDDEN int ipc__land(struct ipc_ctx *ctx, struct ipc_conn *c,
			 struct ipc_event *ev);
IPC_HIDDEN void ipc__land_spill(struct ipc_ctx *ctx);
IPC_HIDDEN int ipc__frame_peek(struct ipc_ctx *ctx, struct ipc_conn *c,
			       const char **payload, size_t *len);
IPC_HIDDEN void ipc__frame_consume(struct ipc_ctx *ctx, struct ipc_conn *c,
				   size_t len);
/* The stream offset of the frame at c->in.off (its fds' key). */
static inline uint64_t ipc__frame_at(const struct ipc_conn *c)
{
	return c->rx_total - (c->in.len - c->in.off);
}
IPC_HIDDEN int ipc__frame_deliver(struct ipc_ctx *ctx, struct ipc_conn *c,
				  const char *payload, size_t len,
				  struct ipc_event *ev);

/* write.c: writing frames, backpressure, ipc_schedule() and ipc_write() */
IPC_HIDDEN int ipc__frame_queue(struct ipc_ctx *ctx, struct ipc_conn *c,
				const char *payload, size_t len);
/* The same with fds (@m, taken on success): c must be a Unix socket. */
IPC_HIDDEN int ipc__frame_queue_fds(struct ipc_ctx *ctx, struct ipc_conn *c,
				    const char *payload, size_t len,
				    struct ipc_fdmsg *m);
IPC_HIDDEN int ipc__flush(struct ipc_ctx *ctx, struct ipc_conn *c);
IPC_HIDDEN void ipc__flush_dirty(struct ipc_ctx *ctx);
IPC_HIDDEN void ipc__out_drop(struct ipc_ctx *ctx, struct ipc_conn *c);
IPC_HIDDEN void ipc__throttle_check(struct ipc_ctx *ctx, struct ipc_conn *c);
IPC_HIDDEN bool ipc__may_read(const struct ipc_conn *c);
IPC_HIDDEN ssize_t ipc__send(struct ipc_conn *c, const void *buf, size_t len);
IPC_HIDDEN void ipc__widen(struct ipc_conn *c, size_t len);
/* A large frame to a socket with nothing queued, sent from @payload:
 * only what the socket did not take is queued (write.c). */
IPC_HIDDEN int ipc__schedule_direct(struct ipc_ctx *ctx, struct ipc_conn *c,
				    const char *payload, size_t len);
/* Blocks until fd is ready for @events (the blocking calls only). */
IPC_HIDDEN void ipc__wait_fd(int fd, short events);

/* service.c: accepting clients */
IPC_HIDDEN int ipc__accept(struct ipc_ctx *ctx, uint32_t slot,
			   struct ipc_event *ev);
/* Resumes paused listeners when due; ms until the next try, or -1. */
IPC_HIDDEN int ipc__accept_retry(struct ipc_ctx *ctx, uint64_t now);
IPC_HIDDEN void ipc__service_remove(struct ipc_service *s);
/* In a forked child: closes the lock fd and frees, removes nothing. */
IPC_HIDDEN void ipc__service_forget(struct ipc_service *s);

/*
 * lookup.c: IPC_NETWORK (doc/network.md).  1 with *fd connected to the
 * routed service through ipcd, 0 when the connection is to be local, or
 * a negative errno.
 */
IPC_HIDDEN int ipc__lookup(const char *name, uint16_t len, int *fd);

/* rundir.c: the run directory and service names (also in ipcctl) */
IPC_HIDDEN int ipc__service_name_check(const char *name, uint16_t len);
/* $IPC_RUNDIR or the default, without trailing slashes; NULL: no memory. */
IPC_HIDDEN char *ipc__rundir_get(void);
/* 0, or -ELOOP, -ENOTDIR, -EPERM for an unsafe directory, or -errno. */
IPC_HIDDEN int ipc__rundir_check(const char *dir, bool create);
IPC_HIDDEN int ipc__service_path(const char *name, uint16_t len, bool create,
				 char **path);

/*
 * activation.c: sockets passed by socket activation.  take: 1 and the
 * passed listening fd in *fdp when one was passed for the service (in use
 * from now on), 0 when none, or a negative errno (see
 * ipc_service_init()).  untake: the passed fd is no longer in use.
 */
IPC_HIDDEN int ipc__activation_take(const char *name, uint16_t len,
				    int *fdp);
IPC_HIDDEN void ipc__activation_untake(int fd);

/* switch.c: relaying between two fds */
IPC_HIDDEN int ipc__switch_step(struct ipc_ctx *ctx, struct ipc_conn *c,
				struct ipc_event *ev);
IPC_HIDDEN void ipc__switch_unlink(struct ipc_ctx *ctx, struct ipc_conn *c,
				   bool close_peer);
/*
 * A switched c read to its end: 0 when the switch goes on the other way
 * (a half-close, see switch.c), else 1 with c's DISCONNECTION in ev.
 */
IPC_HIDDEN int ipc__switch_eof(struct ipc_ctx *ctx, struct ipc_conn *c,
			       struct ipc_event *ev);
/* c has IPC_F_DRAIN: shuts its writing down once its queue is written. */
IPC_HIDDEN void ipc__switch_drained(struct ipc_ctx *ctx, struct ipc_conn *c);
/* A closing side wrote something: its linger starts again. */
IPC_HIDDEN void ipc__linger_progress(struct ipc_conn *c);
/* Drops the closing sides due at @now; ms until the next one, or -1. */
IPC_HIDDEN int ipc__linger_expire(struct ipc_ctx *ctx, uint64_t now);

/* close.c: closing connections */
/* The user's close: queued frames get one chance to leave, no event. */
IPC_HIDDEN void ipc__conn_close(struct ipc_ctx *ctx, struct ipc_conn *c);
/* A hang-up: the DISCONNECTION event in ev, the slot freed; returns 1. */
IPC_HIDDEN int ipc__disconnect(struct ipc_ctx *ctx, struct ipc_conn *c,
			       struct ipc_event *ev);

/* external.c: an external fd's readiness as an event (1), or 0. */
IPC_HIDDEN int ipc__external_step(struct ipc_ctx *ctx, struct ipc_conn *c,
				  struct ipc_event *ev);

/* event.c */
/* ipc_wait_event() with a bound: -1 none, 0 never blocks (-EAGAIN). */
IPC_HIDDEN int ipc__wait_event(struct ipc_ctx *ctx, char *t, size_t *index,
			       int *originfd, int *newfd, char *buffer,
			       size_t *buflen, int timeout_ms);

/* timer.c */
IPC_HIDDEN uint64_t ipc__now(void);
/* Milliseconds from @now (ipc__now()) until @when, rounded up; 0 once
 * passed: a poll or epoll timeout that never wakes before @when. */
static inline int ipc__ms_until(uint64_t when, uint64_t now)
{
	return when <= now ? 0 : (int)((when - now + 999999) / 1000000);
}
IPC_HIDDEN bool ipc__timer_fire(struct ipc_ctx *ctx, uint64_t now);
IPC_HIDDEN int ipc__timer_timeout(struct ipc_ctx *ctx, uint64_t now);

/* backend-epoll.c or backend-poll.c: waiting for readiness */
IPC_HIDDEN int ipc__backend_init(struct ipc_ctx *ctx);
IPC_HIDDEN void ipc__backend_fini(struct ipc_ctx *ctx);
IPC_HIDDEN int ipc__backend_add(struct ipc_ctx *ctx, int fd, uint32_t slot,
				unsigned int events);
IPC_HIDDEN int ipc__backend_mod(struct ipc_ctx *ctx, int fd, uint32_t slot,
				unsigned int events);
/* Before every close(): the fd's file may stay open elsewhere. */
IPC_HIDDEN void ipc__backend_del(struct ipc_ctx *ctx, int fd, uint32_t slot);
/* The fd a host loop may poll: epoll's own fd, or -EOPNOTSUPP. */
IPC_HIDDEN int ipc__backend_fd(struct ipc_ctx *ctx);
/* The backend tag of the context fd's own fds (embed.c), not a slot. */
#define IPC_TAG_EMBED (IPC_NONE - 1)
/* Waits; marks and queues the ready slots; returns 0 or -errno. */
IPC_HIDDEN int ipc__backend_wait(struct ipc_ctx *ctx, int timeout_ms);

#endif /* IPC_INTERNAL_H */
