/*
 * libipc tests: the periodic TIMER event.
 *
 * Only lower bounds on time are checked: a tick never comes early.  How late
 * it may come is the benchmarks' business, not a pass/fail criterion.
 *
 * SPDX-License-Identifier: ISC
 */

#include "ipc-test.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

typedef struct ipc_test_fixture Fixture;

#define PERIOD_MS 40
#define TICKS 5
/* The library may count time in whole milliseconds: a tick may appear up
 * to 1 ms before the exact microsecond it is due. */
#define CLOCK_SLACK_US 1000

#define FLOOD_PERIOD_MS 20
#define FLOOD_MIN_US (300 * 1000)
#define FLOOD_MIN_MESSAGES 1001
#define FLOOD_BURST 20

#define EXTERNAL_DELAY_US (200 * 1000)

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* A TIMER event concerns no connection. */
static void assert_timer_event(const struct ipc_test_event *ev)
{
	g_assert_cmpstr(ipc_test_event_name(ev->type), ==,
			ipc_test_event_name(TIMER));
	g_assert_cmpint(ev->fd, ==, -1);
	g_assert_cmpuint(ev->index, ==, (size_t)-1);
	g_assert_cmpint(ev->newfd, ==, -1);
	g_assert_cmpuint(ev->len, ==, 0);
}

/* Waits for @ticks TIMER events; the k-th must come at least k periods
 * after @start. */
static void expect_ticks(void *ctx, gint64 start, int ticks, int period_ms)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	for (int k = 1; k <= ticks; k++) {
		gint64 elapsed;

		ipc_test_wait_for(ctx, TIMER, &ev);
		elapsed = g_get_monotonic_time() - start;
		g_test_message("tick %d after %" G_GINT64_FORMAT " us", k,
			       elapsed);
		assert_timer_event(&ev);
		g_assert_cmpint(elapsed, >=,
				(gint64)k * period_ms * 1000 - CLOCK_SLACK_US);
	}
}

/* ------------------------------------------------------------------ */
/* Period                                                               */
/* ------------------------------------------------------------------ */

/* The shortest period, 1 ms, ticks too. */
static void test_one_ms(Fixture *f, gconstpointer data)
{
	(void)data;
	ipc_context_timer(f->ctx, 1);
	expect_ticks(f->ctx, g_get_monotonic_time(), TICKS, 1);
}

/* Ticks missed while the program was busy elsewhere are not replayed:
 * after a long pause one tick is due at once, the next a period later. */
static void test_no_replay(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	gint64 late;

	(void)data;
	ipc_context_timer(f->ctx, PERIOD_MS);
	g_usleep(10 * PERIOD_MS * 1000);
	ipc_test_wait_for(f->ctx, TIMER, &ev);
	late = g_get_monotonic_time();
	expect_ticks(f->ctx, late, 2, PERIOD_MS);
}

/* With data != NULL the context also holds a service and an idle client,
 * whose fds must not disturb the ticks. */
static void test_period(Fixture *f, gconstpointer data)
{
	int raw = -1;
	gint64 start;

	if (data) {
		int svc = ipc_test_service_init(f->ctx, "ticking");

		raw = ipc_test_raw_connect("ticking");
		ipc_test_accept(f->ctx, svc, NULL);
	}
	start = g_get_monotonic_time();
	ipc_context_timer(f->ctx, PERIOD_MS);
	expect_ticks(f->ctx, start, TICKS, PERIOD_MS);
	if (raw >= 0)
		close(raw);
}

/* A new period replaces the old one and counts from the call: a library
 * that kept the short period, or its grid, would tick too early. */
static void test_change_period(Fixture *f, gconstpointer data)
{
	gint64 start;

	(void)data;
	ipc_context_timer(f->ctx, PERIOD_MS / 4);
	g_usleep(PERIOD_MS * 1000);
	start = g_get_monotonic_time();
	ipc_context_timer(f->ctx, 2 * PERIOD_MS);
	expect_ticks(f->ctx, start, 2, 2 * PERIOD_MS);
}

/* ------------------------------------------------------------------ */
/* Under load                                                           */
/* ------------------------------------------------------------------ */

/* The flood's last message: its length (8) tells it from the numbered
 * ones (4), and it carries how many numbered messages were sent. */
#define END_MAGIC 0x454e4421u /* "END!" */

#define FLOOD_SERVICE "flooded"

static void flood_child(void *arg)
{
	g_autoptr(GByteArray) burst = g_byte_array_new();
	int fd = ipc_test_raw_connect(FLOOD_SERVICE);
	gint64 start = g_get_monotonic_time();
	guint32 sent = 0;
	guint32 end[2];

	(void)arg;
	while (sent < FLOOD_MIN_MESSAGES ||
	       g_get_monotonic_time() - start < FLOOD_MIN_US) {
		g_byte_array_set_size(burst, 0);
		for (int i = 0; i < FLOOD_BURST; i++, sent++) {
			guint32 seq = GUINT32_TO_BE(sent);

			ipc_test_append_frame(burst, &seq, sizeof(seq));
		}
		ipc_test_write_all(fd, burst->data, burst->len);
		/* Bursts about every millisecond: the service is never idle
		 * for a whole period, so only a timer that does not restart
		 * its countdown on every event can fire. */
		g_usleep(1000);
	}
	end[0] = GUINT32_TO_BE(END_MAGIC);
	end[1] = GUINT32_TO_BE(sent);
	ipc_test_write_frame(fd, end, sizeof(end));
	close(fd);
}

struct flood_count {
	guint32 received;
	guint32 announced;
	gboolean ended;
	int ticks;
};

static void flood_message(struct flood_count *count,
			  const struct ipc_test_event *ev)
{
	guint32 words[2];

	g_assert_false(count->ended);
	g_assert_true(ev->len == 4 || ev->len == 8);
	memcpy(words, ev->data, ev->len);
	if (ev->len == 8) {
		g_assert_cmphex(GUINT32_FROM_BE(words[0]), ==, END_MAGIC);
		count->announced = GUINT32_FROM_BE(words[1]);
		count->ended = TRUE;
		return;
	}
	/* Every message, once, in order. */
	g_assert_cmpuint(GUINT32_FROM_BE(words[0]), ==, count->received);
	count->received++;
}

static void test_under_load(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct flood_count count = { 0 };
	int svc = ipc_test_service_init(f->ctx, FLOOD_SERVICE);
	pid_t pid;
	size_t index;
	int conn;

	(void)data;
	pid = ipc_test_fork(flood_child, NULL);
	conn = ipc_test_accept(f->ctx, svc, &index);
	ipc_context_timer(f->ctx, FLOOD_PERIOD_MS);
	for (;;) {
		ipc_test_next_event(f->ctx, &ev);
		if (ev.type == TIMER) {
			assert_timer_event(&ev);
			/* Ticks between the first and the last message. */
			if (count.received > 0 && !count.ended)
				count.ticks++;
			continue;
		}
		g_assert_cmpint(ev.fd, ==, conn);
		g_assert_cmpuint(ev.index, ==, index);
		if (ev.type == DISCONNECTION)
			break;
		g_assert_cmpint(ev.type, ==, MESSAGE_RX);
		flood_message(&count, &ev);
	}
	ipc_test_reap(pid);
	g_test_message("%u messages, %d ticks meanwhile", count.received,
		       count.ticks);
	g_assert_true(count.ended);
	g_assert_cmpuint(count.received, ==, count.announced);
	g_assert_cmpuint(count.received, >=, FLOOD_MIN_MESSAGES);
	g_assert_cmpint(count.ticks, >=, 1);
}

/* ------------------------------------------------------------------ */
/* Turning it off                                                       */
/* ------------------------------------------------------------------ */

/* data: the value that turns the timer off (0 or negative). */
static void test_off_empty(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;

	ipc_context_timer(NULL, PERIOD_MS);
	ipc_context_timer(f->ctx, PERIOD_MS);
	ipc_test_wait_for(f->ctx, TIMER, &ev);
	assert_timer_event(&ev);
	ipc_context_timer(f->ctx, GPOINTER_TO_INT(data));
	g_assert_cmpint(ipc_test_wait_raw(f->ctx, &ev, 0), ==, -ENOENT);
	g_assert_cmpint(ev.type, ==, ERROR);
}

struct delayed_write {
	int fd;
	gint64 delay_us;
};

static void *delayed_write_thread(void *data)
{
	struct delayed_write *job = data;

	g_usleep(job->delay_us);
	ipc_test_write_all(job->fd, "!", 1);
	return NULL;
}

/* With the timer off, a service and no traffic, the wait blocks until the
 * pipe is written: the next event is EXTERNAL, not TIMER. */
static void test_off_blocks(Fixture *f, gconstpointer data)
{
	g_auto(IpcTestEvent) ev = IPC_TEST_EVENT_INIT;
	struct delayed_write job = { .delay_us = EXTERNAL_DELAY_US };
	pthread_t thread;
	gint64 start;
	char byte = 0;
	int p[2];

	(void)data;
	ipc_test_service_init(f->ctx, "quiet");
	ipc_context_timer(f->ctx, PERIOD_MS / 4);
	ipc_test_wait_for(f->ctx, TIMER, &ev);
	ipc_context_timer(f->ctx, 0);

	g_assert_no_errno(pipe(p));
	g_assert_cmpint(ipc_add_external(f->ctx, p[0]), ==, 0);
	job.fd = p[1];
	start = g_get_monotonic_time();
	g_assert_cmpint(pthread_create(&thread, NULL, delayed_write_thread,
				       &job), ==, 0);
	ipc_test_next_event(f->ctx, &ev);
	g_assert_cmpstr(ipc_test_event_name(ev.type), ==,
			ipc_test_event_name(EXTERNAL));
	g_assert_cmpint(ev.fd, ==, p[0]);
	g_assert_cmpint(g_get_monotonic_time() - start, >=, job.delay_us);
	g_assert_cmpint(pthread_join(thread, NULL), ==, 0);

	g_assert_cmpint(read(p[0], &byte, 1), ==, 1);
	g_assert_cmpint(byte, ==, '!');
	/* The context owns the read end: it closes it with the rest. */
	close(p[1]);
}

int main(int argc, char **argv)
{
	ipc_test_init(&argc, &argv);

#define ADD(path, data, func) \
	g_test_add(path, Fixture, data, ipc_test_setup, func, ipc_test_teardown)
	ADD("/ipc/timer/period", NULL, test_period);
	ADD("/ipc/timer/one-ms", NULL, test_one_ms);
	ADD("/ipc/timer/no-replay", NULL, test_no_replay);
	ADD("/ipc/timer/period-with-service", "yes", test_period);
	ADD("/ipc/timer/change-period", NULL, test_change_period);
	ADD("/ipc/timer/under-load", NULL, test_under_load);
	ADD("/ipc/timer/off-zero", GINT_TO_POINTER(0), test_off_empty);
	ADD("/ipc/timer/off-negative", GINT_TO_POINTER(-1), test_off_empty);
	ADD("/ipc/timer/off-blocks", NULL, test_off_blocks);
#undef ADD

	return g_test_run();
}
