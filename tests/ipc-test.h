/*
 * libipc test helpers: the per-test fixture, forked children, event waits
 * and raw wire-format peers.
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_TEST_H
#define IPC_TEST_H

/* The build may pass the same pins with -D. */
#ifndef GLIB_VERSION_MIN_REQUIRED
#define GLIB_VERSION_MIN_REQUIRED GLIB_VERSION_2_74
#endif
#ifndef GLIB_VERSION_MAX_ALLOWED
#define GLIB_VERSION_MAX_ALLOWED GLIB_VERSION_2_74
#endif

#include <glib.h>
#include <stdint.h>
#include <sys/types.h>

#include <libipc.h>

/* ------------------------------------------------------------------ */
/* Program and fixture                                                  */
/* ------------------------------------------------------------------ */

/** Seconds a test (and each forked child) may run before SIGALRM ends it. */
#define IPC_TEST_TIMEOUT 60

/**
 * g_test_init() plus alarm(IPC_TEST_TIMEOUT), so a hung test fails instead
 * of hanging CI.  SIGPIPE is reset to its default action on purpose (it
 * may have been inherited as ignored): the library must never raise it,
 * and a raised SIGPIPE kills the test program, which the harness reports
 * as a failure.
 */
void ipc_test_init(int *argc, char ***argv);

/**
 * Per-test state, used with g_test_add(path, struct ipc_test_fixture, data,
 * ipc_test_setup, test_func, ipc_test_teardown).
 *
 * @rundir:     private run directory (g_dir_make_tmp), exported as IPC_RUNDIR.
 * @fds_before: open fds counted after the run directory was made and before
 *              the context was created.
 * @ctx:        a context made by ipc_context_init().
 * @leftovers:  names (relative to @rundir) the test declared with
 *              ipc_test_expect_leftover(); any other entry in @rundir at
 *              teardown fails the test.
 */
struct ipc_test_fixture {
	char *rundir;
	int fds_before;
	void *ctx;
	GPtrArray *leftovers;
};

/** g_test_add() of a test using struct ipc_test_fixture. */
#define IPC_TEST_ADD(path, func, data)                                 \
	g_test_add(path, struct ipc_test_fixture, data, ipc_test_setup, \
		   func, ipc_test_teardown)

/**
 * Makes the run directory, sets IPC_RUNDIR, re-arms the alarm, records the
 * fd count and initialises f->ctx (asserting success).
 */
void ipc_test_setup(struct ipc_test_fixture *f, gconstpointer data);

/**
 * Deinitialises f->ctx (asserting it is NULL afterwards), asserts the fd
 * count is back to f->fds_before and that the run directory holds nothing
 * but the declared leftovers (so every service removed its socket and lock
 * files), removes the run directory recursively and unsets IPC_RUNDIR.
 * A test that moved IPC_RUNDIR elsewhere must restore it or not care:
 * teardown always works on f->rundir.
 */
void ipc_test_teardown(struct ipc_test_fixture *f, gconstpointer data);

/**
 * Declare that @name (a direct entry of f->rundir, e.g. a sub-directory the
 * test made, or a file it planted) may still exist at teardown.
 */
void ipc_test_expect_leftover(struct ipc_test_fixture *f, const char *name);

/** Returns g_build_filename(f->rundir, name); g_free() it. */
char *ipc_test_path(const struct ipc_test_fixture *f, const char *name);

/** Number of open fds of this process (/proc/self/fd minus its own fd). */
int ipc_test_count_fds(void);

/** Number of open fds of another process @pid (its /proc/<pid>/fd). */
int ipc_test_count_fds_of(pid_t pid);

/** Asserts that @fd is closed: fcntl(fd, F_GETFD) fails with EBADF. */
void ipc_test_assert_fd_closed(int fd);

/**
 * Virtual size (@vm) and resident set (@rss) of process @pid (0 for this
 * one) in bytes, from /proc/<pid>/statm; either pointer may be NULL.
 */
void ipc_test_memory(pid_t pid, gsize *vm, gsize *rss);

/**
 * Bytes this process has allocated with malloc and not freed (glibc's
 * mallinfo2(): heap chunks in use plus mmapped chunks): what the program
 * asked for, whether touched or not, and whatever the allocator does with
 * freed memory.  FALSE (and *@bytes = 0) where mallinfo2() is missing.
 */
gboolean ipc_test_heap_in_use(gsize *bytes);

/**
 * TRUE under valgrind, a sanitizer (ASan, TSan, MSan) or an emulator
 * ($IPC_TEST_EMULATED set, as CI does for i386 programs run by
 * qemu-user): their shadow memory, allocators and code caches make RSS
 * and virtual-size figures meaningless, so
 * tests that bound memory report the figures without asserting the bounds.
 */
gboolean ipc_test_memory_instrumented(void);

/** TRUE when the program runs under valgrind. */
gboolean ipc_test_under_valgrind(void);

/**
 * Raises the soft RLIMIT_NOFILE to at least @wanted when the hard limit
 * allows; returns the soft limit in force afterwards.
 */
guint64 ipc_test_raise_fd_limit(guint64 wanted);

/* ------------------------------------------------------------------ */
/* Child processes                                                      */
/* ------------------------------------------------------------------ */

/**
 * fork(); the child closes every inherited close-on-exec fd (all the
 * library's fds: the parent's services and connections must not be kept
 * alive by the child), arms its own alarm, runs child(arg) and _exit(0)s.
 * A failed assertion in the child aborts it, which ipc_test_reap() reports.
 * Fds meant for the child (e.g. from ipc_test_pipe()) must therefore be
 * opened without O_CLOEXEC.  The child must not touch the parent's
 * context.  Returns the child's pid in the parent.
 */
pid_t ipc_test_fork(void (*child)(void *arg), void *arg);

/** waitpid() and assert the child exited with status 0. */
void ipc_test_reap(pid_t pid);

/** waitpid() and assert the child was killed by signal @sig. */
void ipc_test_reap_signaled(pid_t pid, int sig);

/** pipe() without O_CLOEXEC (so it survives ipc_test_fork()), asserted. */
void ipc_test_pipe(int fds[2]);

/** Write one byte to @fd: a go-ahead for the process reading the pipe. */
void ipc_test_notify(int fd);

/**
 * Block until one byte can be read from @fd and assert it came (not EOF):
 * waits for ipc_test_notify() from the other process.
 */
void ipc_test_wait_notify(int fd);

/* ------------------------------------------------------------------ */
/* Services and events                                                  */
/* ------------------------------------------------------------------ */

/** ipc_service_init() of a NUL-terminated name, asserted; returns the fd. */
int ipc_test_service_init(void *ctx, const char *name);

/** ipc_connect_service() of a NUL-terminated name, asserted; returns fd. */
int ipc_test_connect(void *ctx, const char *name);

/**
 * One event as returned by ipc_wait_event().  Initialise with
 * IPC_TEST_EVENT_INIT (or use g_auto(IpcTestEvent)); every wait below
 * reuses the event's buffer, and ipc_test_event_clear() frees it.
 *
 * @ret:      the return value of ipc_wait_event().
 * @type:     *t (enum event_types).
 * @index:    *index.
 * @fd:       *originfd.
 * @newfd:    *newfd.
 * @len:      *buflen on return (payload length, or size needed).
 * @data:     the payload (first @len bytes); NULL until the first wait.
 * @capacity: size of @data.
 */
struct ipc_test_event {
	int ret;
	char type;
	size_t index;
	int fd;
	int newfd;
	size_t len;
	char *data;
	size_t capacity;
};

#define IPC_TEST_EVENT_INIT { 0, ERROR, (size_t)-1, -1, -1, 0, NULL, 0 }

typedef struct ipc_test_event IpcTestEvent;

/** Free the event's buffer and reset it to IPC_TEST_EVENT_INIT. */
void ipc_test_event_clear(struct ipc_test_event *ev);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(IpcTestEvent, ipc_test_event_clear)

/** "CONNECTION", "MESSAGE_RX", ... for logs; "?" for unknown values. */
const char *ipc_test_event_name(char type);

/**
 * One ipc_wait_event() call with a buffer of @bufsize bytes (passed as
 * *buflen; a NULL buffer when @bufsize is 0).  Fills @ev, asserts nothing,
 * returns ev->ret.
 */
int ipc_test_wait_raw(void *ctx, struct ipc_test_event *ev, size_t bufsize);

/**
 * One event with a buffer of IPC_MAX_MESSAGE_SIZE_DEFAULT bytes; fails the
 * test when ipc_wait_event() returns an error.
 */
void ipc_test_next_event(void *ctx, struct ipc_test_event *ev);

/**
 * Wait until an event of type @type arrives (as ipc_test_next_event()).
 * Any other event fails the test.
 */
void ipc_test_wait_for(void *ctx, char type, struct ipc_test_event *ev);

/**
 * As ipc_test_wait_for(), but events whose type bit (1u << type) is set in
 * @ignore are skipped silently, e.g. IPC_TEST_BIT(MESSAGE_TX) when waiting
 * for a reply while scheduled messages are being written.
 */
void ipc_test_wait_for_ignoring(void *ctx, char type, unsigned int ignore,
				struct ipc_test_event *ev);

#define IPC_TEST_BIT(type) (1u << (type))

/**
 * Wait for a CONNECTION on @servicefd (asserting originfd == @servicefd and
 * a valid newfd); stores the new client's index in @index when not NULL
 * and returns its fd.
 */
int ipc_test_accept(void *ctx, int servicefd, size_t *index);

/**
 * Assert that @ev is a MESSAGE_RX from connection (@index, @fd) whose
 * payload is exactly @len bytes equal to @data.
 */
void ipc_test_assert_message(const struct ipc_test_event *ev, size_t index,
			     int fd, const void *data, size_t len);

/* ------------------------------------------------------------------ */
/* Raw peers: plain blocking sockets speaking the wire format           */
/* ------------------------------------------------------------------ */

/**
 * Plain blocking AF_UNIX SOCK_STREAM connect to $IPC_RUNDIR/@name,
 * asserted.  The fd is close-on-exec (so children of ipc_test_fork() do not
 * inherit it); close() it before the test ends.
 */
int ipc_test_raw_connect(const char *name);

/**
 * Same, but returns -errno on failure instead of asserting (e.g. to check
 * that nothing listens on a path).
 */
int ipc_test_raw_try_connect(const char *name);

/**
 * A plain blocking listening socket bound to $IPC_RUNDIR/@name (close-on-exec),
 * standing in for a service to test the client side.  The caller closes it
 * and unlinks the socket file (or declares it a leftover).
 */
int ipc_test_raw_listen(const char *name);

/**
 * A listening socket bound to $IPC_RUNDIR/@name whose backlog is full: a
 * service that never accepts.  Its backlog of 0 holds one connection,
 * *@filler (close-on-exec); a non-blocking connect then fails with
 * EAGAIN, which is asserted.  The caller closes both and unlinks the
 * socket file (or declares it a leftover).
 */
int ipc_test_raw_listen_full(const char *name, int *filler);

/** Append one frame (4-byte big-endian length + payload) to @out. */
void ipc_test_append_frame(GByteArray *out, const void *payload,
			   uint32_t len);

/**
 * Write all @len bytes to @fd (send with MSG_NOSIGNAL on sockets, so a test
 * helper never raises SIGPIPE itself), asserted.
 */
void ipc_test_write_all(int fd, const void *buf, size_t len);

/** Write one frame to @fd with a single write of header + payload. */
void ipc_test_write_frame(int fd, const void *payload, uint32_t len);

/**
 * Read exactly @len bytes from @fd (blocking; on a non-blocking fd it polls),
 * asserted: EOF before @len bytes fails the test.
 */
void ipc_test_read_all(int fd, void *buf, size_t len);

/**
 * Read one frame from @fd; @out is set to its payload.  Returns the payload
 * length.  EOF or an error fails the test.
 */
gsize ipc_test_read_frame(int fd, GByteArray *out);

/** Assert that the next read() on @fd returns 0 (the peer closed). */
void ipc_test_assert_eof(int fd);

/**
 * poll(2) @fd for @events for at most @ms milliseconds (-1: no limit),
 * waiting past EINTR, asserted; TRUE when it became ready.
 */
gboolean ipc_test_poll(int fd, short events, int ms);

/** Sets O_NONBLOCK on @fd, asserted. */
void ipc_test_set_nonblocking(int fd);

/** Bytes waiting to be read in @fd's socket receive queue (FIONREAD). */
int ipc_test_pending_bytes(int fd);

/**
 * Fill @buf with @len bytes of a pattern derived from @seed, so that
 * payloads of different messages differ and a shifted copy is caught.
 */
void ipc_test_fill(void *buf, size_t len, guint32 seed);

/**
 * Payload number @seq of a series: its 4-byte big-endian number, then
 * ipc_test_fill() of that number (as far as @len goes).
 */
void ipc_test_fill_numbered(void *buf, size_t len, guint32 seq);

/** Assert that @data (@len bytes) is payload @seq of @expected_len bytes. */
void ipc_test_assert_numbered(const void *data, size_t len,
			      size_t expected_len, guint32 seq);

/* ------------------------------------------------------------------ */
/* Switch relays: a switched pair of connections with raw peers         */
/* ------------------------------------------------------------------ */

/**
 * A relay for switch tests: a service of the test context accepts a raw
 * client A, and the context connects to B, a raw listener standing in for
 * another service.  A and B are plain blocking sockets of the test, so
 * every byte on each side can be checked; the test closes them.
 *
 * @svc:   the relay's service fd.
 * @a:     the context's connection to A.
 * @raw_a: A itself.
 * @b:     the context's connection to B.
 * @raw_b: B itself.
 */
struct ipc_test_relay {
	int svc;
	int a;
	int raw_a;
	int b;
	int raw_b;
};

/**
 * Opens the relay @r: service @relay_name accepts A, the context connects
 * to B listening on @peer_name (whose socket file is removed again once
 * accepted).  Does not switch a and b: the test calls ipc_add_switch()
 * in the direction it wants.
 */
void ipc_test_relay_open(struct ipc_test_fixture *f,
			 struct ipc_test_relay *r, const char *relay_name,
			 const char *peer_name);

/**
 * Writes the @n NUL-terminated messages @msgs as frames to the raw socket
 * @raw, all in one write, so that the library gets them coalesced.
 */
void ipc_test_send_frames(int raw, const char *const *msgs, guint n);

/** Reads @n frames from the raw socket @raw; asserts they are @msgs. */
void ipc_test_expect_frames(int raw, const char *const *msgs, guint n);

/**
 * Asserts that @ev is a SWITCH_TX: it concerns @to and carries neither a
 * payload nor a new fd.
 */
void ipc_test_assert_switch_tx(const struct ipc_test_event *ev, int to);

/**
 * Runs the loop until each of the @n messages @msgs was read from @from
 * (SWITCH_RX, in order, with its bytes, no new fd) and written to @to
 * (SWITCH_TX as ipc_test_assert_switch_tx(), never before its SWITCH_RX).
 * Any other event fails the test: no side of the switch may go meanwhile.
 */
void ipc_test_pump_forward(void *ctx, int from, int to,
			   const char *const *msgs, guint n);

/**
 * The reading half of a line protocol, for an input callback of
 * ipc_set_switch_callbacks(): one newline-terminated line of @orig is one
 * message.  Reads in chunks of a few bytes, so that a line may take
 * several reads and one read may hold several lines: bytes read and not
 * yet returned wait in @pending for the next call.  Returns CB_NO_ERROR
 * with the line (without its newline) in @payload and *@mlen, CB_IGNORE
 * while no whole line has come, CB_FD_CLOSING at end of file, CB_ERROR on
 * a read error or a line longer than *@mlen.
 */
char ipc_test_line_read(int orig, GString *pending, char *payload,
			size_t *mlen);

/**
 * The writing half, for an output callback: writes @payload (@mlen bytes)
 * and a newline to @dest, asserted; returns CB_NO_ERROR.
 */
char ipc_test_line_write(int dest, const char *payload, size_t mlen);

#endif /* IPC_TEST_H */
