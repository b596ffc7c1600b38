/*
 * libipc tests: the short names of libipc 0.x (ERROR, TIMER, CB_ERROR ...)
 *
 * Without IPC_NO_SHORT_NAMES, libipc.h declares both spellings as
 * enumerators of the same enum with the same values: the short names work
 * as they always did (case labels, char values, the event of a call),
 * and equal the IPC_ names.
 *
 * SPDX-License-Identifier: ISC
 */

#include <libipc.h>

#include <glib.h>
#include <unistd.h>

#ifndef LIBIPC
#error "libipc.h must still define LIBIPC for the programs of libipc 0.x"
#endif

G_STATIC_ASSERT(ERROR == 0 && ERROR == IPC_EVENT_ERROR);
G_STATIC_ASSERT(CONNECTION == 1 && CONNECTION == IPC_EVENT_CONNECTION);
G_STATIC_ASSERT(DISCONNECTION == 2 &&
		DISCONNECTION == IPC_EVENT_DISCONNECTION);
G_STATIC_ASSERT(MESSAGE_RX == 3 && MESSAGE_RX == IPC_EVENT_MESSAGE_RX);
G_STATIC_ASSERT(MESSAGE_TX == 4 && MESSAGE_TX == IPC_EVENT_MESSAGE_TX);
G_STATIC_ASSERT(TIMER == 5 && TIMER == IPC_EVENT_TIMER);
G_STATIC_ASSERT(EXTERNAL == 6 && EXTERNAL == IPC_EVENT_EXTERNAL);
G_STATIC_ASSERT(SWITCH_RX == 7 && SWITCH_RX == IPC_EVENT_SWITCH_RX);
G_STATIC_ASSERT(SWITCH_TX == 8 && SWITCH_TX == IPC_EVENT_SWITCH_TX);
G_STATIC_ASSERT(CB_NO_ERROR == 0 && CB_NO_ERROR == IPC_CB_NO_ERROR);
G_STATIC_ASSERT(CB_ERROR == 1 && CB_ERROR == IPC_CB_ERROR);
G_STATIC_ASSERT(CB_FD_CLOSING == 2 && CB_FD_CLOSING == IPC_CB_FD_CLOSING);
G_STATIC_ASSERT(CB_IGNORE == 3 && CB_IGNORE == IPC_CB_IGNORE);

/* Short names as case labels of a switch on a char, as 0.x programs do. */
static int event_number(char type)
{
	switch (type) {
	case ERROR:
		return 0;
	case CONNECTION:
		return 1;
	case DISCONNECTION:
		return 2;
	case MESSAGE_RX:
		return 3;
	case MESSAGE_TX:
		return 4;
	case TIMER:
		return 5;
	case EXTERNAL:
		return 6;
	case SWITCH_RX:
		return 7;
	case SWITCH_TX:
		return 8;
	}
	return -1;
}

/* A switch callback's return values are chars. */
static char callback_value(int n)
{
	static const char values[] = {
		CB_NO_ERROR, CB_ERROR, CB_FD_CLOSING, CB_IGNORE,
	};

	return values[n];
}

static void test_values(void)
{
	for (char t = ERROR; t <= SWITCH_TX; t++)
		g_assert_cmpint(event_number(t), ==, t);
	g_assert_cmpint(event_number(IPC_EVENT_SWITCH_RX), ==, 7);
	for (int n = 0; n < 4; n++)
		g_assert_cmpint(callback_value(n), ==, n);
	g_assert_cmpint(callback_value(3), ==, IPC_CB_IGNORE);
}

/* ipc_wait_event() reports a tick as TIMER. */
static void test_timer_event(void)
{
	char type = ERROR, buf[16];
	size_t index, len = sizeof(buf);
	int origin, newfd;
	void *ctx = NULL;

	alarm(30);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	ipc_context_timer(ctx, 1);
	g_assert_cmpint(ipc_wait_event(ctx, &type, &index, &origin, &newfd,
				       buf, &len), ==, 0);
	g_assert_cmpint(type, ==, TIMER);
	g_assert_cmpint(event_number(type), ==, IPC_EVENT_TIMER);
	ipc_context_deinit(&ctx);
	alarm(0);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ipc/header/short-values", test_values);
	g_test_add_func("/ipc/header/short-timer", test_timer_event);
	return g_test_run();
}
