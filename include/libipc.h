/*
 * libipc - inter-process communication over Unix sockets.
 *
 * SPDX-License-Identifier: ISC
 */

/**
 * @file libipc.h
 * @brief The libipc API: contexts, services, clients and one event loop.
 *
 * A program allocates a context with ipc_context_init(), creates services
 * with ipc_service_init() or connects to them with ipc_connect_service(),
 * then loops over ipc_wait_event(), which returns exactly one event per
 * call.  Messages are sent with ipc_schedule() (queued, never blocks) or
 * ipc_write() (written before the call returns).  ipc_close_all() and
 * ipc_context_deinit() end it.
 *
 * Conventions shared by every function below:
 * - 0 (or a documented count) on success, a negative errno value on
 *   failure; the library never prints, never exits and never raises
 *   SIGPIPE.
 * - A context is not thread-safe, but contexts share no state: two
 *   threads with two contexts work side by side.
 * - Every fd the library opens is non-blocking and close-on-exec.
 * - An index names one connection of a context from its creation to its
 *   close; closing a connection never renumbers the others.  A closed
 *   connection's index (and fd number) may be given to a later one.
 * - Wire format: a message is a 4-byte big-endian payload length
 *   followed by the payload.  Zero-length messages are valid.
 * - Run directory: $IPC_RUNDIR when set and not empty, else
 *   /tmp/.libipc-run.  A service's socket is RUNDIR/NAME (mode 0660),
 *   guarded by the lock file RUNDIR/NAME.lock.  A run directory that
 *   is a symbolic link, that others may write to, or that belongs to
 *   another user than the caller (root excepted) is refused; see
 *   doc/security.md.
 */

#ifndef LIBIPC_H
#define LIBIPC_H

#ifndef LIBIPC
/** The include guard of libipc 0.x, still defined for programs that test it. */
#define LIBIPC
#endif

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/* Constants                                                            */
/* ------------------------------------------------------------------ */

/** Default largest payload a context sends or accepts: 16 MiB. */
#define IPC_MAX_MESSAGE_SIZE_DEFAULT (16u * 1024 * 1024)

/**
 * Default queued bytes per switched fd above which the other side of its
 * switch is not read.
 */
#define IPC_QUEUE_HIGH_WATER_DEFAULT (4u * 1024 * 1024)

/** Default queued bytes per connection above which ipc_schedule() refuses. */
#define IPC_QUEUE_MAX_DEFAULT (64u * 1024 * 1024)

/**
 * Milliseconds a switched fd whose other side is gone may go without
 * writing any of what is still queued for it; then it is closed and what
 * is left is dropped (see ipc_add_switch()).
 */
#define IPC_LINGER_MS 5000

/**
 * Most fds one message carries (SCM_MAX_FD of Linux), see
 * ipc_schedule_fds().
 */
#define IPC_MESSAGE_FDS_MAX 253

/**
 * Default bound on the fds a connection received that no message returned
 * yet holds: see ipc_context_fd_limit().
 */
#define IPC_FD_LIMIT_DEFAULT 1024u

/** Run directory used when $IPC_RUNDIR is not set. */
#define IPC_RUNDIR_DEFAULT "/tmp/.libipc-run"

/**
 * @brief Event types: the @p t parameter of ipc_wait_event().
 *
 * Each event type and each callback value (enum cb_event_types) has two
 * names with the same value: the prefixed one (IPC_EVENT_ERROR,
 * IPC_CB_NO_ERROR, ...) and the short one of libipc 0.x (ERROR,
 * CB_NO_ERROR, ...).  Both are ordinary enumerators.  A program that has
 * its own ERROR or TIMER defines the macro IPC_NO_SHORT_NAMES before it
 * includes this header: the short names are then not declared at all,
 * and it uses the prefixed ones.
 * @code
 * #define IPC_NO_SHORT_NAMES
 * #include <libipc.h>
 * @endcode
 */
enum event_types {
	/** Waiting failed; see the return value. */
	IPC_EVENT_ERROR = 0,
	/** A client connected to one of our services. */
	IPC_EVENT_CONNECTION = 1,
	/** A connection went away; its fd is closed. */
	IPC_EVENT_DISCONNECTION = 2,
	/** A whole message was received. */
	IPC_EVENT_MESSAGE_RX = 3,
	/** A scheduled message was written whole. */
	IPC_EVENT_MESSAGE_TX = 4,
	/** The periodic timer fired. */
	IPC_EVENT_TIMER = 5,
	/** An external fd is readable. */
	IPC_EVENT_EXTERNAL = 6,
	/** A switched fd delivered a message. */
	IPC_EVENT_SWITCH_RX = 7,
	/** A message was written to a switched fd. */
	IPC_EVENT_SWITCH_TX = 8,
#ifndef IPC_NO_SHORT_NAMES
	ERROR = IPC_EVENT_ERROR,			/**< Short name. */
	CONNECTION = IPC_EVENT_CONNECTION,		/**< Short name. */
	DISCONNECTION = IPC_EVENT_DISCONNECTION,	/**< Short name. */
	MESSAGE_RX = IPC_EVENT_MESSAGE_RX,		/**< Short name. */
	MESSAGE_TX = IPC_EVENT_MESSAGE_TX,		/**< Short name. */
	TIMER = IPC_EVENT_TIMER,			/**< Short name. */
	EXTERNAL = IPC_EVENT_EXTERNAL,			/**< Short name. */
	SWITCH_RX = IPC_EVENT_SWITCH_RX,		/**< Short name. */
	SWITCH_TX = IPC_EVENT_SWITCH_TX,		/**< Short name. */
#endif
};

/**
 * @brief Values returned by switch callbacks (see ipc_set_switch_callbacks()).
 *
 * The short names (CB_NO_ERROR ... CB_IGNORE) are left out when
 * IPC_NO_SHORT_NAMES is defined (see enum event_types).
 */
enum cb_event_types {
	/** A message was produced or delivered. */
	IPC_CB_NO_ERROR = 0,
	/** Failure: both sides of the switch close. */
	IPC_CB_ERROR = 1,
	/** From an input callback: end of file (a half-close, see
	 * ipc_add_switch()); from an output callback: both sides close. */
	IPC_CB_FD_CLOSING = 2,
	/** Nothing to forward (yet). */
	IPC_CB_IGNORE = 3,
#ifndef IPC_NO_SHORT_NAMES
	CB_NO_ERROR = IPC_CB_NO_ERROR,			/**< Short name. */
	CB_ERROR = IPC_CB_ERROR,			/**< Short name. */
	CB_FD_CLOSING = IPC_CB_FD_CLOSING,		/**< Short name. */
	CB_IGNORE = IPC_CB_IGNORE,			/**< Short name. */
#endif
};

/* ------------------------------------------------------------------ */
/* Context                                                              */
/* ------------------------------------------------------------------ */

/**
 * @brief Allocate a new, empty context.
 *
 * @param[out] ptr  Receives the context.
 * @return 0 on success.
 * @retval -EINVAL @p ptr is NULL.
 * @retval -ENOMEM Out of memory.
 * @retval -EMFILE, -ENFILE No fd left for the event backend.
 */
int ipc_context_init(void **ptr);

/**
 * @brief Close every connection and free the context.
 *
 * Same as ipc_close_all() followed by freeing every resource; @p *ctx is
 * set to NULL.  Accepts NULL and a pointer to NULL.  Called from a switch
 * callback, it does nothing (see ipc_set_switch_callbacks()).
 *
 * A context belongs to the process that made it.  After fork(2), the
 * child shares its sockets, its epoll set and its files in the run
 * directory with the parent, so every other function returns -ECHILD
 * there (ipc_context_timer() does nothing), and ipc_context_deinit() in
 * the child only closes the child's copies of the fds and frees the
 * memory: it writes nothing still queued, removes no socket or lock
 * file, and leaves the parent's epoll set alone.  A child that wants
 * libipc makes a context of its own.  (A child made with vfork(2),
 * clone(2) or _Fork(), which skip pthread_atfork(3) handlers, must not
 * touch the parent's contexts at all.)
 *
 * @param[in,out] ctx  Address of the context.
 */
void ipc_context_deinit(void **ctx);

/**
 * @brief Set the periodic timer.
 *
 * With @p timer > 0, ipc_wait_event() returns a TIMER event every
 * @p timer milliseconds of the monotonic clock, counted from this call,
 * also while other events keep arriving.  Ticks missed while the program
 * was busy elsewhere are not replayed: one TIMER event is returned and the
 * next one is due @p timer ms later.  @p timer <= 0 turns the timer off.
 * A NULL @p ctx is ignored.
 *
 * @code
 * ipc_context_timer(ctx, 1000);	// a TIMER event every second
 * for (;;) {
 * 	len = sizeof(buf);
 * 	if (ipc_wait_event(ctx, &type, &index, &fd, &newfd, buf, &len) < 0)
 * 		break;
 * 	if (type == TIMER)
 * 		expire_idle_clients();	// the program's own work
 * }
 * @endcode
 *
 * @param[in] ctx    The context.
 * @param[in] timer  Period in milliseconds, or <= 0 for none.
 */
void ipc_context_timer(void *ctx, int timer);

/**
 * @brief Change the largest message payload the context accepts and sends.
 *
 * A peer announcing a larger payload is disconnected (DISCONNECTION)
 * before anything is allocated for it; ipc_schedule() and ipc_write()
 * refuse larger payloads with -EMSGSIZE.  The default is
 * #IPC_MAX_MESSAGE_SIZE_DEFAULT.
 *
 * @code
 * // This service's messages are small: a peer announcing more than
 * // 64 KiB is disconnected before anything is allocated for it.
 * if (ipc_context_max_message_size(ctx, 64 * 1024) < 0)
 * 	return 1;
 * @endcode
 *
 * @param[in] ctx   The context.
 * @param[in] size  The new limit in bytes, 1 to UINT32_MAX (on a system
 *                  with a 32-bit size_t, 1 to SIZE_MAX / 4: 1 GiB - 1,
 *                  so that no length sum can wrap).
 * @return 0 on success.
 * @retval -EINVAL @p ctx is NULL, or @p size is 0 or above the limit.
 * @retval -ECHILD Called in a child forked after @p ctx was made (see
 *                 ipc_context_deinit()).
 */
int ipc_context_max_message_size(void *ctx, size_t size);

/**
 * @brief Bound what is queued for each connection (backpressure).
 *
 * A connection is always read, whatever is queued for it: its peer may be
 * a libipc program too, and two programs that each stopped reading while
 * their own queue was long would wait for each other for good.  What is
 * queued for a connection is bounded by @p max instead: ipc_schedule()
 * refuses a message that would take the queue above @p max with -ENOBUFS
 * and queues nothing, so the caller decides what to do (wait for
 * MESSAGE_TX events and try again, drop the message, or close a peer that
 * does not read).  A peer that never reads costs at most @p max bytes.
 *
 * A switch (ipc_add_switch()) has no caller to refuse: while more than
 * @p high_water bytes wait in a switched fd's queue, the other side of
 * its switch is not read, and reading resumes once the queue is back at
 * or below @p high_water.  Nothing is dropped.
 *
 * The defaults are #IPC_QUEUE_HIGH_WATER_DEFAULT and
 * #IPC_QUEUE_MAX_DEFAULT.
 *
 * @code
 * // Refuse to queue more than 4 MiB for a connection; a switch stops
 * // reading one side while 1 MiB waits for the other.
 * ipc_context_queue_limits(ctx, 1 << 20, 4 << 20);
 * ...
 * ret = ipc_schedule(ctx, fd, reply, reply_len);
 * if (ret == -ENOBUFS)
 * 	ipc_close_fd(ctx, fd);	// a client that never reads: let it go
 * @endcode
 *
 * @param[in] ctx         The context.
 * @param[in] high_water  Queued bytes of a switched fd above which the
 *                        other side of its switch is not read.
 * @param[in] max         Queued bytes above which ipc_schedule() refuses.
 * @return 0 on success.
 * @retval -EINVAL @p ctx is NULL, @p high_water is 0 or @p max is below
 *                 @p high_water.
 * @retval -ECHILD Called in a child forked after @p ctx was made (see
 *                 ipc_context_deinit()).
 */
int ipc_context_queue_limits(void *ctx, size_t high_water, size_t max);

/* ------------------------------------------------------------------ */
/* Services and clients                                                 */
/* ------------------------------------------------------------------ */

/**
 * @brief Create a service: a listening socket named after the service.
 *
 * Creates the run directory if needed (mode 0770), takes the lock file
 * RUNDIR/NAME.lock, replaces a stale socket left by a dead instance,
 * then binds and listens on RUNDIR/NAME (mode 0660).  Each new client
 * is reported by a CONNECTION event.  The socket and lock files are
 * removed when the service is closed or the context deinitialised.
 *
 * A service name is 1 to 65535 bytes, given by pointer and length (no
 * terminating NUL needed), without '/' or NUL bytes, and neither "." nor
 * "..".
 *
 * Socket activation: when the process was passed listening sockets by
 * systemd's protocol (LISTEN_PID is the caller's pid, LISTEN_FDS the count
 * of fds from fd 3 on, LISTEN_FDNAMES their colon-separated names), the
 * service adopts the fd named after it (FileDescriptorName= of the
 * .socket unit), or the only one passed when no names were, instead of
 * creating a socket.  The adopted fd is made non-blocking; no file of the
 * run directory is created, locked or removed, now or when the service
 * closes (the socket file is not the service's own).  The library copies
 * the three variables when it is loaded and never changes the
 * environment (unsetting them would race with getenv() in other
 * threads; LISTEN_PID keeps them from the process's children); the first
 * call of the process marks every passed fd close-on-exec, and the
 * passed fds are remembered for the process, so that each of its
 * services finds its own, in any context and any order.  The service
 * listens on a close-on-exec duplicate of the passed fd (@p servicefd is
 * not the passed fd's number); closing it closes the duplicate only, so a
 * later ipc_service_init() of the same name adopts the passed fd again;
 * while it is in use, another service of that name in the process is
 * refused with -EADDRINUSE.  A passed fd no service is named after stays
 * open and unused.  A child made by fork(2) adopts nothing.  A process
 * must not take the name of a socket unit's service by other means
 * while the unit is active: the socket file, held by systemd, carries
 * no lock, so an instance started by hand would replace it.
 *
 * @param[in] ctx               The context.
 * @param[out] servicefd        Receives the listening socket's fd.
 * @param[in] service_name      The service name.
 * @param[in] service_name_len  Its length in bytes.
 * @return 0 on success; nothing is created on failure.
 * @retval -EINVAL       NULL argument or invalid service name.
 * @retval -ENAMETOOLONG The socket path RUNDIR/NAME and its
 *                       terminating NUL do not fit in sun_path (108
 *                       bytes on Linux).
 * @retval -EADDRINUSE   A live instance of the service holds the lock, or
 *                       a service of the process already listens on the
 *                       socket passed for that name.
 * @retval -ELOOP        The run directory is a symbolic link.
 * @retval -ENOTDIR      The run directory is not a directory.
 * @retval -EPERM        Others may write to the run directory (o+w), or
 *                       it belongs to another user than the caller's
 *                       effective user and root.
 * @retval -EEXIST       RUNDIR/NAME exists and is not a socket.
 * @retval -ENOTSOCK     The fd passed for the service (socket activation)
 *                       is not a socket.
 * @retval -EAFNOSUPPORT The fd passed for the service is not a Unix
 *                       socket.
 * @retval -EPROTOTYPE   The fd passed for the service is not a stream
 *                       socket.
 * @retval -EBADFD       The fd passed for the service is not listening.
 * @retval -ENOMEM       Out of memory.
 * @retval <0            Any other negative errno from mkdir(2), open(2),
 *                       socket(2), bind(2) or listen(2), e.g. -EACCES.
 * @retval -ECHILD       Called in a child forked after @p ctx was made (see
 *                       ipc_context_deinit()).
 */
int ipc_service_init(void *ctx, int *servicefd, const char *service_name,
		     uint16_t service_name_len);

/**
 * @brief Connect to a service of the run directory, or of another host.
 *
 * The name rules are those of ipc_service_init().  The connect itself
 * may wait while the service's listen backlog is full.
 *
 * When the environment variable IPC_NETWORK holds a rule for the name
 * (for example `IPC_NETWORK="pong tcp://192.0.2.7:9000/pong"`, rules
 * separated by `;`; the name `ipc` is never routed), the connection comes
 * from ipcd, the local service `ipc`: the call sends it the name and the
 * rules, waits for its reply, and receives the connected fd with it
 * (doc/network.md).  The fd is an ordinary connection from then on.  This
 * waits at most IPC_LOOKUP_TIMEOUT_MS milliseconds in all (a decimal
 * number from 1 to 3600000 in the environment; 15000 when unset or
 * invalid).  When no rule names the service, or ipcd is not running (no
 * socket, or nobody listening on it), the connection is local as above.
 *
 * @param[in] ctx               The context.
 * @param[out] servicefd        Receives the connected socket's fd.
 * @param[in] service_name      The service name.
 * @param[in] service_name_len  Its length in bytes.
 * @return 0 on success.
 * @retval -EINVAL       NULL argument or invalid service name.
 * @retval -ENAMETOOLONG The socket path does not fit in sun_path.
 * @retval -ENOENT       No such service (or no run directory).
 * @retval -ECONNREFUSED The socket exists but no service listens on it.
 * @retval -ELOOP, -ENOTDIR, -EPERM  Unsafe run directory, as above.
 * @retval -ENOMEM       Out of memory.
 * @retval <0            Any other negative errno from socket(2) or
 *                       connect(2), e.g. -EACCES or -EINTR.
 *
 * Routed through ipcd, also:
 * @retval -ETIMEDOUT    No reply from ipcd within IPC_LOOKUP_TIMEOUT_MS,
 *                       or ipcd's own reply ETIMEDOUT (the protocol
 *                       service or the remote host did not answer).
 * @retval -EPROTO       ipcd closed the connection, sent a malformed
 *                       reply or an unknown error name, or "ok" without
 *                       exactly one fd that is a stream socket.
 * @retval -EMSGSIZE     The name and IPC_NETWORK together exceed the
 *                       64 KiB a lookup may hold.
 * @retval -EACCES, -ECONNRESET, -EHOSTUNREACH, ...  The error ipcd
 *                       replied, any name of the list in doc/network.md:
 *                       -EACCES when the remote host does not allow the
 *                       service, -ENOENT when the remote service does
 *                       not exist or the protocol service is not
 *                       running, -EINVAL for a malformed URI in the
 *                       rule, -ECONNREFUSED, -ENETUNREACH, ...
 * @retval -ECHILD       Called in a child forked after @p ctx was made (see
 *                       ipc_context_deinit()).
 */
int ipc_connect_service(void *ctx, int *servicefd, const char *service_name,
			uint16_t service_name_len);

/* ------------------------------------------------------------------ */
/* Messages                                                             */
/* ------------------------------------------------------------------ */

/**
 * @brief Write one whole message before returning.
 *
 * Messages already queued for @p servicefd by ipc_schedule() are written
 * first, so order is kept (each produces its MESSAGE_TX event later).
 * Waits while the socket is full; partial writes and EINTR are handled.
 * No MESSAGE_TX event is produced for this message.  The payload is not
 * copied.
 *
 * @code
 * int fd, ret;
 *
 * // A one-shot client: connect, send, wait for the answer.
 * ret = ipc_connect_service(ctx, &fd, "pong", 4);
 * if (ret == 0)
 * 	ret = ipc_write(ctx, fd, "hello", 5);
 * if (ret == 0) {
 * 	len = sizeof(buf);
 * 	ret = ipc_read_fd(ctx, fd, buf, &len);
 * }
 * @endcode
 *
 * @param[in] ctx        The context.
 * @param[in] servicefd  A connection (client or connected service).
 * @param[in] mcontent   The payload (may be NULL when @p mlen is 0).
 * @param[in] mlen       The payload length.
 * @return 0 on success.
 * @retval -EINVAL   NULL @p ctx or payload, or @p servicefd is a listening
 *                   service, an external or a switched fd.
 * @retval -EBADF    @p servicefd is not held by the context.
 * @retval -EMSGSIZE @p mlen exceeds the context's maximum message size.
 * @retval -EPIPE    The peer went away (or stopped reading: shut its
 *                   reading side down); what it sent before is still
 *                   delivered, then the connection's DISCONNECTION event
 *                   follows from ipc_wait_event().
 * @retval -ECHILD   Called in a child forked after @p ctx was made (see
 *                   ipc_context_deinit()).
 */
int ipc_write(void *ctx, int servicefd, const char *mcontent, size_t mlen);

/**
 * @brief Queue one message; never blocks.
 *
 * The payload is copied once into the connection's outgoing queue and
 * written by ipc_wait_event(), packed with the other queued messages.
 * A MESSAGE_TX event follows once it has been written whole.  Messages
 * to one connection leave in the order they were queued.
 *
 * @param[in] ctx        The context.
 * @param[in] servicefd  A connection (client or connected service).
 * @param[in] mcontent   The payload (may be NULL when @p mlen is 0).
 * @param[in] mlen       The payload length.
 * @return 0 on success.
 * @retval -EINVAL   As for ipc_write().
 * @retval -EBADF    @p servicefd is not held by the context.
 * @retval -EMSGSIZE @p mlen exceeds the context's maximum message size.
 * @retval -ENOBUFS  The message would take the connection's queue above
 *                   its maximum (see ipc_context_queue_limits()); nothing
 *                   was queued.
 * @retval -EPIPE    The connection is already closing (its peer went
 *                   away or a write to it failed).
 * @retval -ENOMEM   Out of memory; nothing was queued (for a payload of
 *                   32 KiB or more already partly sent, the connection
 *                   cannot go on and reports DISCONNECTION).
 * @retval -ECHILD   Called in a child forked after @p ctx was made (see
 *                   ipc_context_deinit()).
 */
int ipc_schedule(void *ctx, int servicefd, const char *mcontent,
		 size_t mlen);

/**
 * @brief Read one whole message from a connection, waiting for it.
 *
 * Bytes the library already buffered for the connection come first.
 * When @p buffer is too small the call returns -EMSGSIZE, sets
 * @p *buflen to the size needed and keeps the message for the next read
 * or ipc_wait_event().
 *
 * @code
 * char buf[4096];
 * size_t len = sizeof(buf);
 *
 * if (ipc_write(ctx, fd, "hello", 5) == 0 &&
 *     ipc_read_fd(ctx, fd, buf, &len) == 0)
 * 	printf("%.*s\n", (int)len, buf);	// the reply, whole
 * @endcode
 *
 * @param[in] ctx         The context.
 * @param[in] fd          A connection (client or connected service).
 * @param[out] buffer     Receives the payload (may be NULL when
 *                        @p *buflen is 0).
 * @param[in,out] buflen  In: size of @p buffer.  Out: payload length.
 * @return 0 on success.
 * @retval -EINVAL     NULL @p ctx or @p buflen, NULL @p buffer with a
 *                     non-zero @p *buflen, or @p fd is not a connection
 *                     (service, external or switched fd).
 * @retval -EBADF      @p fd is not held by the context.
 * @retval -EMSGSIZE   @p buffer is too small; @p *buflen is the size
 *                     needed and the message is kept.
 * @retval -ECONNRESET The peer went away (or sent an invalid length)
 *                     before a whole message arrived; the connection's
 *                     DISCONNECTION event follows from ipc_wait_event().
 * @retval -ENOMEM     Out of memory; the connection is kept.
 * @retval -ECHILD     Called in a child forked after @p ctx was made (see
 *                     ipc_context_deinit()).
 */
int ipc_read_fd(void *ctx, int fd, char *buffer, size_t *buflen);

/**
 * @brief Same as ipc_read_fd(), the connection being named by its index.
 *
 * @code
 * // index came from an earlier event of this connection.
 * len = sizeof(buf);
 * ret = ipc_read(ctx, index, buf, &len);
 * @endcode
 *
 * @param[in] ctx         The context.
 * @param[in] index       The connection's index (from ipc_wait_event()).
 * @param[out] buffer     Receives the payload.
 * @param[in,out] buflen  In: size of @p buffer.  Out: payload length.
 * @retval -EBADF  No connection has this index.
 * @retval -ECHILD Called in a child forked after @p ctx was made (see
 *                 ipc_context_deinit()).
 * @return As ipc_read_fd() otherwise.
 */
int ipc_read(void *ctx, size_t index, char *buffer, size_t *buflen);

/* ------------------------------------------------------------------ */
/* The event loop                                                       */
/* ------------------------------------------------------------------ */

/**
 * @brief Wait for the next event and return it.
 *
 * Returns exactly one event per call; events already known (more
 * messages from one read, sent messages, a due timer tick) are returned
 * without a system call.  On return:
 *
 * - CONNECTION: @p originfd is the service's fd, @p newfd the new client's
 *   fd and @p index the new client's index.
 * - MESSAGE_RX: @p originfd and @p index name the connection, the payload
 *   is copied into @p buffer and @p *buflen set to its length.
 * - MESSAGE_TX: a message queued with ipc_schedule() to @p originfd has
 *   been written whole (one event per message, in order).
 * - DISCONNECTION: the peer went away (or stopped reading, so that a write
 *   failed), or sent a length above the maximum message size, or the
 *   other side of its switch closed.  The library
 *   has closed the fd and dropped what was still queued for it; messages
 *   received whole before it are all delivered first.
 * - TIMER: the period set with ipc_context_timer() elapsed; @p originfd
 *   is -1.
 * - EXTERNAL: the external fd @p originfd is readable; the library read
 *   nothing from it.  When it hangs up with nothing left to read, the
 *   library closes it and returns DISCONNECTION instead.
 * - SWITCH_RX: a message was read from the switched fd @p originfd and
 *   forwarded to the other side.  @p *buflen is its length; its first
 *   bytes (as many as fit, up to the buffer size given) are copied into
 *   @p buffer.  The message is forwarded whatever the buffer size.
 * - SWITCH_TX: a forwarded message was written whole to @p originfd.
 *
 * For events without a connection @p originfd is -1 and @p index is
 * (size_t)-1; @p newfd is -1 except for CONNECTION; @p *buflen is 0
 * except for MESSAGE_RX and SWITCH_RX.
 *
 * @param[in] ctx         The context.
 * @param[out] t          Receives the event type (enum event_types).
 * @param[out] index      Receives the index of the connection concerned.
 * @param[out] originfd   Receives the fd the event occurred on.
 * @param[out] newfd      Receives the new client's fd (CONNECTION).
 * @param[out] buffer     Receives a copy of a received payload (may be
 *                        NULL when @p *buflen is 0).  The library may use
 *                        all of it during the call (a large message is
 *                        read straight into it), whatever the event: only
 *                        the payload of MESSAGE_RX or SWITCH_RX is
 *                        defined when the call returns.
 * @param[in,out] buflen  In: size of @p buffer.  Out: payload length.
 * @return 0 with @p *t set on an event; a negative errno with @p *t set to
 *         ERROR when no event could be returned.  The context stays usable
 *         after every error listed here.
 * @retval -EINVAL   A NULL argument other than @p buffer.
 * @retval -EMSGSIZE @p buffer is too small for the next message: @p *t is
 *                   MESSAGE_RX, @p *index and @p *originfd name the
 *                   connection, @p *buflen is the size needed, and the
 *                   message is kept for the next call, which returns it
 *                   first.
 * @retval -EBUSY    Called from a switch callback, inside the loop
 *                   (see ipc_set_switch_callbacks()).
 * @retval -EINTR    A signal interrupted the wait; no event is lost.
 * @retval -ENOENT   The context holds no fd and no timer: nothing can
 *                   ever happen.
 * @retval -ENOMEM   Out of memory: while reading, the connection is kept
 *                   and its read retried by the next call; while
 *                   accepting, the new client is closed.
 * @retval -ECHILD   Called in a child forked after @p ctx was made (see
 *                   ipc_context_deinit()).
 */
int ipc_wait_event(void *ctx, char *t, size_t *index, int *originfd,
		   int *newfd, char *buffer, size_t *buflen);

/* ------------------------------------------------------------------ */
/* Inside another event loop (LIBIPC_1.1, libipc 0.2.0)                 */
/* ------------------------------------------------------------------ */

/**
 * @brief Wait for the next event, at most @p timeout_ms milliseconds.
 *
 * ipc_wait_event() with a bound: the same events, in the same order, with
 * the same outputs.  @p timeout_ms 0 never blocks (the backend is looked
 * at once, without waiting); a negative @p timeout_ms waits as long as
 * needed, exactly as ipc_wait_event().  When no event came in time the
 * call returns -EAGAIN with @p *t set to ERROR, and nothing is lost or
 * reordered: partial messages already read, a message kept after
 * -EMSGSIZE, queued output and timer ticks all stay for the next call.
 *
 * Called once each time the fd of ipc_context_fd() is readable, with
 * @p timeout_ms 0, it lets another event loop drive the context.  It
 * works with both event backends.
 *
 * @param[in] ctx         The context.
 * @param[out] t          Receives the event type (enum event_types).
 * @param[out] index      Receives the index of the connection concerned.
 * @param[out] originfd   Receives the fd the event occurred on.
 * @param[out] newfd      Receives the new client's fd (CONNECTION).
 * @param[out] buffer     Receives a copy of a received payload (may be
 *                        NULL when @p *buflen is 0); used as by
 *                        ipc_wait_event(), during any call.
 * @param[in,out] buflen  In: size of @p buffer.  Out: payload length.
 * @param[in] timeout_ms  Longest wait in milliseconds; 0 never blocks,
 *                        negative waits without bound.
 * @return 0 with @p *t set on an event; a negative errno with @p *t set to
 *         ERROR when no event could be returned.  The context stays usable
 *         after every error listed here.
 * @retval -EAGAIN   No event within @p timeout_ms (never returned with a
 *                   negative @p timeout_ms).
 * @retval -EINVAL   A NULL argument other than @p buffer.
 * @retval -EMSGSIZE @p buffer is too small for the next message, as for
 *                   ipc_wait_event(): the message is kept for the next
 *                   call.
 * @retval -EINTR    A signal interrupted the wait; no event is lost.
 * @retval -ENOENT   The context holds no fd and no timer: nothing can
 *                   ever happen.
 * @retval -ENOMEM   Out of memory, as for ipc_wait_event().
 * @retval -ECHILD   Called in a child forked after @p ctx was made (see
 *                   ipc_context_deinit()).
 */
int ipc_wait_event_timeout(void *ctx, char *t, size_t *index, int *originfd,
			   int *newfd, char *buffer, size_t *buflen,
			   int timeout_ms);

/**
 * @brief The fd another event loop polls to drive the context.
 *
 * The fd is readable (POLLIN) when, and only when, a call of
 * ipc_wait_event_timeout() with @p timeout_ms 0 has something to do: an
 * event to return (a message already buffered or kept after -EMSGSIZE, a
 * due timer tick, a new connection, a hang-up, an external fd ready, a
 * switched message) or queued output to write.  It is level-triggered:
 * a loop that makes one call per wake-up sees every event, and the fd
 * stays readable while events remain.  After a call that returned
 * -EAGAIN it is not readable until something new happens, so an idle
 * context without a timer never wakes its loop; the timer of
 * ipc_context_timer() wakes it on time.  Functions such as
 * ipc_schedule() that queue work between two calls make the fd readable.
 *
 * Every call returns the same fd.  It belongs to the context: do not
 * read, write or close it; ipc_context_deinit() closes it.  Watch it for
 * input only.  With it, the context holds two more fds of its own (an
 * eventfd and a timerfd, both close-on-exec).  Any thread can be woken
 * through it with an eventfd added by ipc_add_external().
 *
 * @param[in] ctx  The context.
 * @return The fd (>= 0).
 * @retval -EINVAL     @p ctx is NULL.
 * @retval -EOPNOTSUPP The library was built with the poll(2) backend,
 *                     which has no fd to offer (ipc_wait_event_timeout()
 *                     still works).
 * @retval -EMFILE, -ENFILE  No fd left for the context's eventfd or
 *                     timerfd (first call only).
 * @retval -ENOMEM     Out of memory (first call only).
 * @retval -ENOSPC     The epoll watch limit
 *                     (/proc/sys/fs/epoll/max_user_watches) is reached
 *                     (first call only).
 * @retval -ECHILD     Called in a child forked after @p ctx was made (see
 *                     ipc_context_deinit()).
 */
int ipc_context_fd(void *ctx);

/* ------------------------------------------------------------------ */
/* Passing fds with messages (LIBIPC_1.1, libipc 0.2.0)                 */
/* ------------------------------------------------------------------ */

/**
 * @brief Queue a message with file descriptors (SCM_RIGHTS).
 *
 * Same as ipc_schedule(), and the @p nfds fds of @p fds travel with the
 * message: the receiver gets its own descriptors of the same open files
 * (pipes, sockets, memfds, devices, ...) with ipc_message_fds().  The
 * library duplicates the fds now (close-on-exec), so the caller may close
 * its own at once; the duplicates are closed once sent, or when the
 * message is dropped (the peer went away, the connection or the context
 * was closed).  @p nfds 0 is ipc_schedule().
 *
 * Each message keeps its own fds, however frames are split or coalesced:
 * the fds leave with the frame's first byte, in a sendmsg(2) that carries
 * that frame alone.  The wire format is unchanged; a peer that reads with
 * read(2) (libipc 0.1) gets the message, and the kernel closes the fds.
 *
 * A message too large to copy can travel as a sealed memfd instead (see
 * ipc_memfd_check()).
 *
 * @code
 * int pipefd[2];
 *
 * if (pipe2(pipefd, O_CLOEXEC) < 0)
 * 	return -1;
 * // The peer gets the pipe's write end with the message.
 * ret = ipc_schedule_fds(ctx, fd, "log", 3, &pipefd[1], 1);
 * close(pipefd[1]);	// ours: the library sends its own copy
 * @endcode
 *
 * @param[in] ctx       The context.
 * @param[in] fd        A connection (client or server) of the context.
 * @param[in] mcontent  The payload (may be NULL when @p mlen is 0).
 * @param[in] mlen      Its length.
 * @param[in] fds       The fds to send, in the order the receiver gets
 *                      them.
 * @param[in] nfds      Their count, 0 to #IPC_MESSAGE_FDS_MAX.
 * @return 0 on success: the message is queued; nothing is queued on
 *         failure.
 * @retval -EINVAL     @p ctx is NULL, @p fds is NULL with @p nfds above
 *                     0, @p mcontent is NULL with @p mlen above 0, @p fd
 *                     is switched or not a connection, or an fd of
 *                     @p fds is not open.
 * @retval -E2BIG      @p nfds is above #IPC_MESSAGE_FDS_MAX.
 * @retval -EOPNOTSUPP @p fd is not a Unix socket (a connection routed to
 *                     another host is one to the local protocol service,
 *                     which refuses fds: see doc/network.md).
 * @retval -EBADF      @p fd is not held by the context.
 * @retval -EPIPE      The peer is gone.
 * @retval -EMSGSIZE   @p mlen is above the context's maximum.
 * @retval -ENOBUFS    The connection's queue is full (see
 *                     ipc_context_queue_limits()).
 * @retval -EMFILE     No fd left for the duplicates.
 * @retval -ENOMEM     Out of memory.
 * @retval -ECHILD     Called in a child forked after @p ctx was made.
 */
int ipc_schedule_fds(void *ctx, int fd, const char *mcontent, size_t mlen,
		     const int *fds, size_t nfds);

/**
 * @brief Take the fds that came with the message just returned.
 *
 * Called after ipc_wait_event() or ipc_wait_event_timeout() returned a
 * MESSAGE_RX event, or ipc_read() or ipc_read_fd() a message: stores the
 * fds sent with that message (ipc_schedule_fds()) in @p fds, in the order
 * they were sent, and the caller owns them from then on (close-on-exec is
 * set on each).  A second call returns none.  Fds not taken are closed by
 * the library at the next call of one of those four functions: nothing
 * leaks.
 *
 * A peer cannot fill the receiver's fd table: see ipc_context_fd_limit().
 *
 * @code
 * int fds[IPC_MESSAGE_FDS_MAX];
 * size_t nfds = IPC_MESSAGE_FDS_MAX;
 *
 * if (type == MESSAGE_RX && ipc_message_fds(ctx, fds, &nfds) == 0)
 * 	for (size_t i = 0; i < nfds; i++)
 * 		use_and_close(fds[i]);	// the program's own work
 * @endcode
 *
 * @param[in] ctx       The context.
 * @param[out] fds      Receives the fds (may be NULL when @p *nfds is 0).
 * @param[in,out] nfds  In: the size of @p fds; out: the count of fds of
 *                      the message (0 when it had none).
 * @return 0 on success.
 * @retval -EINVAL   @p ctx or @p nfds is NULL, or @p fds is NULL with
 *                   @p *nfds above 0.
 * @retval -EMSGSIZE @p fds is too small: @p *nfds is set to the count
 *                   needed, and the fds stay for the next call.
 * @retval -ECHILD   Called in a child forked after @p ctx was made.
 */
int ipc_message_fds(void *ctx, int *fds, size_t *nfds);

/**
 * @brief Bound the fds each connection may hold before they are taken.
 *
 * Fds received with messages not yet returned count against a bound per
 * connection: the library never accepts more (it reads with room for no
 * more than what is left), and a peer that sends more is disconnected
 * (DISCONNECTION), its fds closed.  The bound is also the most fds one
 * message may carry.  The default, #IPC_FD_LIMIT_DEFAULT, is above what
 * the library's own peers ever hold (the fds of the message being read,
 * at most #IPC_MESSAGE_FDS_MAX); 0 refuses every fd.  The fds of the
 * message last returned (ipc_message_fds()) are not counted: there is one
 * such message per context.
 *
 * A peer is also disconnected when the fds it sends came in the middle of
 * a message, with control data other than SCM_RIGHTS, or were cut short
 * (MSG_CTRUNC).
 *
 * @code
 * // This service takes at most one fd per message.
 * if (ipc_context_fd_limit(ctx, 1) < 0)
 * 	return 1;
 * @endcode
 *
 * @param[in] ctx    The context.
 * @param[in] limit  The bound, 0 to 1048576.
 * @return 0 on success.
 * @retval -EINVAL @p ctx is NULL or @p limit is above 1048576.
 * @retval -ECHILD Called in a child forked after @p ctx was made.
 */
int ipc_context_fd_limit(void *ctx, size_t limit);

/**
 * @brief Check that a received memfd is sealed, and give its size.
 *
 * A large payload can travel as a memfd instead of through the socket:
 * the sender writes it into a memfd (memfd_create(2) with
 * MFD_ALLOW_SEALING), seals it with F_SEAL_SHRINK, F_SEAL_GROW and
 * F_SEAL_WRITE (fcntl(2) F_ADD_SEALS) and sends it with
 * ipc_schedule_fds(); the receiver maps it.  Before mapping, the receiver
 * must know that the sender can no longer change it: a buffer that can
 * shrink raises SIGBUS on a read past its new end, and one that can be
 * written changes under the reader's checks.  This function tells:
 * 0 when @p fd carries all three seals (its size and bytes are final for
 * good), with its size, which the receiver then maps read-only
 * (PROT_READ, MAP_PRIVATE or MAP_SHARED).  It only reads; the receiver
 * still owns @p fd.
 *
 * The fast way to make the memfd: ftruncate(2) it to the size, then
 * write(2) or pwrite(2) the payload in (a write of whole pages fills
 * pages the kernel has not zeroed first, where filling a fresh mapping
 * zeroes each page and then writes it again); seal; send.  The receiver
 * maps with MAP_POPULATE: every page at once, not a fault per few pages
 * as it reads.  A memfd can be sealed only once, so each payload needs a
 * new one.  doc/performance.md measures from which size this beats a
 * copy through the socket.
 *
 * @code
 * size_t size;
 * const char *data;
 *
 * if (ipc_memfd_check(fds[0], &size) < 0 || size == 0)
 * 	return -1;	// unsealed or empty: not mapped
 * data = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE,
 *             fds[0], 0);
 * @endcode
 *
 * @param[in] fd     The fd received, e.g. from ipc_message_fds().
 * @param[out] size  Receives the file's size in bytes.
 * @return 0 when the fd is sealed against writes and size changes.
 * @retval -EINVAL @p size is NULL, or @p fd is not a file that supports
 *                 seals (a pipe, a socket, a file of most file systems).
 * @retval -EBADF  @p fd is not open.
 * @retval -EPERM  One of F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE is
 *                 missing: the sender may still change it (also a memfd
 *                 made without MFD_ALLOW_SEALING).
 * @retval -EFBIG  The size does not fit in size_t (32-bit systems).
 */
int ipc_memfd_check(int fd, size_t *size);

/* ------------------------------------------------------------------ */
/* Closing                                                              */
/* ------------------------------------------------------------------ */

/**
 * @brief Close one connection, service or external fd.
 *
 * Queued messages are given one non-blocking write attempt, then the
 * rest is dropped.  A service removes its socket and lock files.  The
 * other side of a switch keeps running as an ordinary fd.  No
 * DISCONNECTION event is produced for a connection closed this way.
 *
 * @code
 * if (type == MESSAGE_RX && len == 4 && memcmp(buf, "quit", 4) == 0)
 * 	ipc_close_fd(ctx, fd);	// no DISCONNECTION event follows
 * @endcode
 *
 * @param[in] ctx  The context.
 * @param[in] fd   The fd to close.
 * @return 0 on success.
 * @retval -EINVAL @p ctx is NULL.
 * @retval -EBADF  @p fd is not held by the context.
 * @retval -ECHILD Called in a child forked after @p ctx was made (see
 *                 ipc_context_deinit()).
 */
int ipc_close_fd(void *ctx, int fd);

/**
 * @brief Same as ipc_close_fd(), the connection being named by its index.
 *
 * @code
 * if (type == MESSAGE_RX && len == 0)
 * 	ipc_close(ctx, index);	// an empty message ends this client
 * @endcode
 *
 * @param[in] ctx    The context.
 * @param[in] index  The connection's index (from ipc_wait_event()).
 * @return 0 on success.
 * @retval -EINVAL @p ctx is NULL.
 * @retval -EBADF  No connection has this index.
 * @retval -ECHILD Called in a child forked after @p ctx was made (see
 *                 ipc_context_deinit()).
 */
int ipc_close(void *ctx, size_t index);

/**
 * @brief Close every fd the context holds (see ipc_close_fd()).
 *
 * The context stays usable.
 *
 * @param[in] ctx  The context.
 * @return 0 on success.
 * @retval -EINVAL @p ctx is NULL.
 * @retval -ECHILD Called in a child forked after @p ctx was made (see
 *                 ipc_context_deinit()).
 */
int ipc_close_all(void *ctx);

/**
 * @brief Who is at the other end of a connection.
 *
 * The credentials the kernel recorded for the peer when the connection
 * was made (SO_PEERCRED), so a service can decide who may talk to it.
 * Any of @p pid, @p uid, @p gid may be NULL.
 *
 * @code
 * uid_t uid;
 *
 * if (type == CONNECTION &&
 *     (ipc_peer_credentials(ctx, newfd, NULL, &uid, NULL) < 0 ||
 *      uid != getuid()))
 * 	ipc_close_fd(ctx, newfd);	// only this user's processes
 * @endcode
 *
 * @param[in] ctx   The context.
 * @param[in] fd    A connection of the context (client, connected service
 *                  or external Unix socket).
 * @param[out] pid  Receives the peer's process id.
 * @param[out] uid  Receives the peer's user id.
 * @param[out] gid  Receives the peer's group id.
 * @return 0 on success.
 * @retval -EINVAL @p ctx is NULL, or @p fd is a listening service or not
 *                 a socket.
 * @retval -EBADF  @p fd is not held by the context.
 * @retval <0      Another negative errno from getsockopt(2), e.g.
 *                 -ENOPROTOOPT for a socket that is not a Unix socket.
 * @retval -ECHILD Called in a child forked after @p ctx was made (see
 *                 ipc_context_deinit()).
 */
int ipc_peer_credentials(void *ctx, int fd, pid_t *pid, uid_t *uid,
			 gid_t *gid);

/* ------------------------------------------------------------------ */
/* External fds and switches                                            */
/* ------------------------------------------------------------------ */

/**
 * @brief Watch a (possibly non-IPC) fd.
 *
 * ipc_wait_event() returns EXTERNAL when @p newfd is readable and reads
 * nothing from it.  The context owns the fd from now on: it is closed by
 * ipc_close_fd(), ipc_close_all(), ipc_context_deinit() and when it hangs
 * up (DISCONNECTION).  Its file status flags are left unchanged.
 *
 * @param[in] ctx    The context.
 * @param[in] newfd  An open fd.
 * @return 0 on success.
 * @retval -EINVAL @p ctx is NULL.
 * @retval -EBADF  @p newfd is not an open fd.
 * @retval -EEXIST The context already holds @p newfd.
 * @retval -ENOMEM Out of memory.
 * @retval -EPERM  The event backend cannot watch this kind of fd (a
 *                 regular file, with epoll).
 * @retval -ECHILD Called in a child forked after @p ctx was made (see
 *                 ipc_context_deinit()).
 */
int ipc_add_external(void *ctx, int newfd);

/**
 * @brief Relay messages between two fds the context holds.
 *
 * From now on every message read from one side is forwarded to the other:
 * SWITCH_RX when it was read, SWITCH_TX when it was written.  Without
 * callbacks both sides speak the libipc wire format.  Both fds are made
 * non-blocking.  When either side goes away or a callback fails, both are
 * closed, each with its DISCONNECTION event; messages already forwarded
 * to the surviving side are written to it first, for as long as it keeps
 * taking them: a side that goes #IPC_LINGER_MS without taking a byte is
 * closed with the rest dropped, so a relay whose one side is gone frees
 * both within that time of the other's last read.  While more than the
 * high-water mark of ipc_context_queue_limits() waits to be written to
 * one side, the other is not read.
 *
 * A half-close is carried over.  When one side reaches the end of its
 * stream (a read returns 0, or its input callback returns CB_FD_CLOSING)
 * but can still be written, because both sides are sockets and it did not
 * hang up in full (no POLLHUP: its peer only did shutdown(SHUT_WR), as
 * `nc -N` does), nothing is closed and no event is reported: that side is
 * no longer read; once everything forwarded to the other side is written,
 * the other side's writing is shut down (shutdown(SHUT_WR)), so its peer
 * sees the end of the stream; and the other side is still read, its
 * messages relayed to the half-closed side.  The switch then ends as
 * above, both sides closed with their DISCONNECTION, when the other side
 * ends too, when the half-closed side hangs up or a write to it fails, or
 * when the other side goes #IPC_LINGER_MS without taking a byte of what
 * is still queued for it.  A side that hangs up in full, a read error, a
 * side that is not a socket (a pipe or a terminal: its end cannot be
 * passed on without closing the fd) and a failed callback keep the rule
 * above.  A libipc program on the far side of a half-close sees it as
 * the end of the connection: it gets DISCONNECTION after the messages
 * before it, so it writes its replies as each request arrives
 * (ipc_write(), or ipc_schedule() and a MESSAGE_TX before the next
 * read).
 *
 * @code
 * int client, upstream;
 *
 * // A relay: a new client is connected to the real service, and the
 * // library forwards every message both ways from then on.
 * if (type == CONNECTION) {
 * 	client = newfd;
 * 	if (ipc_connect_service(ctx, &upstream, "backend", 7) < 0 ||
 * 	    ipc_add_switch(ctx, client, upstream) < 0)
 * 		ipc_close_fd(ctx, client);
 * }
 * @endcode
 *
 * @param[in] ctx  The context.
 * @param[in] fd1  A connection or external fd of the context.
 * @param[in] fd2  Another one.
 * @return 0 on success.
 * @retval -EINVAL   @p ctx is NULL, @p fd1 equals @p fd2, or one of them is
 *                   a listening service.
 * @retval -EBADF    One of them is not held by the context.
 * @retval -EALREADY One of them is already switched.
 * @retval -ECHILD   Called in a child forked after @p ctx was made (see
 *                   ipc_context_deinit()).
 */
int ipc_add_switch(void *ctx, int fd1, int fd2);

/**
 * @brief Set the input and output callbacks of a switched fd.
 *
 * @p in replaces the library's read of one message from @p fd: it is
 * called when @p fd is readable as in(fd, payload, &mlen), with @p mlen
 * the payload buffer's size (the context's maximum message size); it reads
 * from @p fd itself, stores at most @p mlen bytes of one message's payload,
 * sets @p mlen to that length and returns CB_NO_ERROR to forward it,
 * CB_IGNORE when there is nothing to forward yet, CB_FD_CLOSING at end of
 * file, CB_ERROR to close both sides.  After CB_NO_ERROR it is called
 * again (so a callback that read several messages at once loses none)
 * until it returns CB_IGNORE; then it is called when @p fd is readable
 * again.  It must return CB_FD_CLOSING at end of file, or it is called
 * forever; it is not called again after that.  CB_FD_CLOSING is the end
 * of what @p fd sends: a half-close when @p fd can still be written (see
 * ipc_add_switch()), else both sides close.
 *
 * @p out replaces the library's write of one message to @p fd: it is called
 * as out(fd, payload, mlen) for each message forwarded to @p fd and returns
 * CB_NO_ERROR once it is delivered (a SWITCH_TX event follows), CB_IGNORE
 * to drop it silently, CB_FD_CLOSING or CB_ERROR to close both sides.
 *
 * NULL keeps (or restores) the library's default for that direction.  The
 * callbacks may be set before or after ipc_add_switch().
 *
 * The callbacks run inside ipc_wait_event() and may call any function of
 * the library on the context, with these differences while one runs:
 * ipc_close_fd(), ipc_close() and ipc_close_all() return 0 and close when
 * the callback has returned (so the fd a callback was given stays valid
 * until then, whichever fd it closed); ipc_wait_event() returns -EBUSY;
 * ipc_context_deinit() does nothing.  Connections a callback opens are
 * served as usual.  An input callback that closed its own fd and returns
 * CB_FD_CLOSING gets one DISCONNECTION for it, as without the close.
 *
 * @code
 * // Lines of text on an external fd become messages, and back.
 * static char line_in(int fd, char *payload, size_t *mlen)
 * {
 * 	ssize_t n = read(fd, payload, *mlen);	// one line per read, say
 *
 * 	if (n == 0)
 * 		return CB_FD_CLOSING;
 * 	if (n < 0)
 * 		return errno == EAGAIN ? CB_IGNORE : CB_ERROR;
 * 	*mlen = (size_t)n;
 * 	return CB_NO_ERROR;
 * }
 *
 * static char line_out(int fd, const char *payload, size_t mlen)
 * {
 * 	return write(fd, payload, mlen) == (ssize_t)mlen ?
 * 	       CB_NO_ERROR : CB_ERROR;
 * }
 * ...
 * ipc_add_external(ctx, sock);
 * ipc_add_switch(ctx, sock, servicefd);
 * ipc_set_switch_callbacks(ctx, sock, line_in, line_out);
 * @endcode
 *
 * @param[in] ctx  The context.
 * @param[in] fd   A connection or external fd of the context.
 * @param[in] in   Input callback, or NULL.
 * @param[in] out  Output callback, or NULL.
 * @return 0 on success.
 * @retval -EINVAL @p ctx is NULL or @p fd is a listening service.
 * @retval -EBADF  @p fd is not held by the context.
 * @retval -ECHILD Called in a child forked after @p ctx was made (see
 *                 ipc_context_deinit()).
 */
int ipc_set_switch_callbacks(void *ctx, int fd,
			     char (*in)(int orig, char *payload, size_t *mlen),
			     char (*out)(int dest, const char *payload,
					 size_t mlen));

#ifdef __cplusplus
}
#endif

#endif /* LIBIPC_H */
