/*
 * libipc tests: signals.  A signal interrupting ipc_wait_event() gives
 * -EINTR and loses nothing; a peer gone away never raises SIGPIPE.
 *
 * SIGALRM is the test watchdog (alarm() in the fixture): the interrupting
 * signal here is SIGUSR1, sent to the waiting thread by another thread.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

/* How long the signalling thread lets the main thread settle in its wait
 * before interrupting it.  Not a threshold: the order of events only. */
#define SETTLE_US (200 * 1000)

static const char message[] = "sent around the signal";
#define MESSAGE_LEN (sizeof(message) - 1)
/* The first part of the frame written before the signal (split case). */
#define SPLIT_AT 10

#define SIGPIPE_MESSAGES 64
#define SIGPIPE_MESSAGE_LEN 1024

/* ------------------------------------------------------------------ */
/* EINTR                                                                */
/* ------------------------------------------------------------------ */

static gint signalled;

static void on_sigusr1(int sig)
{
	(void)sig;
	g_atomic_int_set(&signalled, 1);
}

struct interrupter {
	pthread_t target;
	int raw;		/* the client writing the frame */
	const guint8 *rest;	/* what is left of the frame to write */
	size_t rest_len;
};

/* Lets the target block, signals it, waits until its handler ran (so its
 * wait has returned), then writes the rest of the frame. */
static void *interrupter_thread(void *data)
{
	struct interrupter *job = data;

	g_usleep(SETTLE_US);
	g_assert_cmpint(pthread_kill(job->target, SIGUSR1), ==, 0);
	while (!g_atomic_int_get(&signalled))
		g_usleep(1000);
	ipc_test_write_all(job->raw, job->rest, job->rest_len);
	return NULL;
}

/* data != NULL: the first SPLIT_AT bytes of the frame are sent before the
 * wait, so the library holds a partial message when it is interrupted. */
static void test_eintr(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autoptr(GByteArray) frame = g_byte_array_new();
	struct sigaction sa, old;
	struct interrupter job;
	pthread_t thread;
	size_t split = data ? SPLIT_AT : 0;
	int svc = ipc_test_service_init(f->ctx, "interrupted");
	size_t index;
	int conn;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the wait must come back */
	g_assert_no_errno(sigaction(SIGUSR1, &sa, &old));
	g_atomic_int_set(&signalled, 0);

	job.raw = ipc_test_raw_connect("interrupted");
	conn = ipc_test_accept(f->ctx, svc, &index);
	ipc_test_append_frame(frame, message, MESSAGE_LEN);
	if (split)
		ipc_test_write_all(job.raw, frame->data, split);
	job.target = pthread_self();
	job.rest = frame->data + split;
	job.rest_len = frame->len - split;
	g_assert_cmpint(pthread_create(&thread, NULL, interrupter_thread,
				       &job), ==, 0);

	g_assert_cmpint(ipc_test_wait_raw(f->ctx, &ev, 256), ==, -EINTR);
	g_assert_cmpint(ev.type, ==, ERROR);
	g_assert_cmpint(g_atomic_int_get(&signalled), ==, 1);
	/* Nothing lost: the whole message is the next event. */
	ipc_test_wait_for(f->ctx, MESSAGE_RX, &ev);
	ipc_test_assert_message(&ev, index, conn, message, MESSAGE_LEN);

	g_assert_cmpint(pthread_join(thread, NULL), ==, 0);
	g_assert_no_errno(sigaction(SIGUSR1, &old, NULL));
	close(job.raw);
}

/* ------------------------------------------------------------------ */
/* SIGPIPE                                                              */
/* ------------------------------------------------------------------ */

/* SIGPIPE has its default action (fatal) and is not blocked. */
static void assert_sigpipe_default(void)
{
	struct sigaction sa;
	sigset_t mask;

	g_assert_no_errno(sigaction(SIGPIPE, NULL, &sa));
	g_assert_true(sa.sa_handler == SIG_DFL);
	g_assert_cmpint(pthread_sigmask(SIG_BLOCK, NULL, &mask), ==, 0);
	g_assert_cmpint(sigismember(&mask, SIGPIPE), ==, 0);
}

enum peer_exit {
	PEER_CLOSES,		/* close(): the service may see EOF first */
	PEER_STOPS_READING,	/* shutdown(SHUT_RD): only writing fails */
};

/* A client that went away while the service schedules messages to it:
 * the process lives on and the next event is its DISCONNECTION. */
static void test_sigpipe_schedule(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	g_autofree char *payload = g_malloc(SIGPIPE_MESSAGE_LEN);
	enum peer_exit how = GPOINTER_TO_INT(data);
	int svc = ipc_test_service_init(f->ctx, "pipe");
	int raw = ipc_test_raw_connect("pipe");
	size_t index;
	int conn = ipc_test_accept(f->ctx, svc, &index);

	assert_sigpipe_default();
	if (how == PEER_CLOSES)
		close(raw);
	else
		g_assert_no_errno(shutdown(raw, SHUT_RD));
	for (int i = 0; i < SIGPIPE_MESSAGES; i++) {
		int ret;

		ipc_test_fill(payload, SIGPIPE_MESSAGE_LEN, i);
		ret = ipc_schedule(f->ctx, conn, payload, SIGPIPE_MESSAGE_LEN);
		/* Queued, or refused once the library knows it is closing. */
		g_assert_true(ret == 0 || ret == -EPIPE);
	}
	ipc_test_next_event(f->ctx, &ev);
	g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
			ipc_test_event_name(DISCONNECTION));
	g_assert_cmpint(ev.fd, ==, conn);
	g_assert_cmpuint(ev.index, ==, index);
	ipc_test_assert_fd_closed(conn);
	assert_sigpipe_default();
	if (how == PEER_STOPS_READING)
		close(raw);
}

/* ipc_write to a closed peer: -EPIPE, no signal, then DISCONNECTION. */
static void test_sigpipe_write(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	int svc = ipc_test_service_init(f->ctx, "pipe");
	int raw = ipc_test_raw_connect("pipe");
	size_t index;
	int conn = ipc_test_accept(f->ctx, svc, &index);

	(void)data;
	assert_sigpipe_default();
	close(raw);
	g_assert_cmpint(ipc_write(f->ctx, conn, message, MESSAGE_LEN), ==,
			-EPIPE);
	ipc_test_wait_for(f->ctx, DISCONNECTION, &ev);
	g_assert_cmpint(ev.fd, ==, conn);
	g_assert_cmpuint(ev.index, ==, index);
	assert_sigpipe_default();
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);

#define ADD(path, data, func) \
	g_test_add(path, Fixture, data, ipc_test_setup, func, ipc_test_teardown)
	ADD("/ipc/signal/eintr", NULL, test_eintr);
	ADD("/ipc/signal/eintr-partial-message", "split", test_eintr);
	ADD("/ipc/signal/sigpipe-schedule-closed",
	    GINT_TO_POINTER(PEER_CLOSES), test_sigpipe_schedule);
	ADD("/ipc/signal/sigpipe-write", NULL, test_sigpipe_write);
	ADD("/ipc/signal/sigpipe-schedule-shutdown",
	    GINT_TO_POINTER(PEER_STOPS_READING), test_sigpipe_schedule);
#undef ADD

	return g_test_run();
}
