/*
 * libipc tests: the header beside a program's own ERROR, TIMER, ...
 *
 * With IPC_NO_SHORT_NAMES defined before the include, libipc.h declares
 * none of the short names of libipc 0.x, so this program can name its own
 * enumerators ERROR, TIMER, CB_ERROR ... and use the IPC_ names.  That it
 * compiles is most of the test; the cases check the values and that the
 * prefixed names work with the library.
 *
 * SPDX-License-Identifier: ISC
 */

#define IPC_NO_SHORT_NAMES
#include <libipc.h>
#include <libipc.h>	/* twice: the guard holds */

#include <glib.h>
#include <unistd.h>

#ifndef LIBIPC_H
#error "libipc.h must define its guard LIBIPC_H"
#endif
#ifndef LIBIPC
#error "libipc.h must still define LIBIPC for the programs of libipc 0.x"
#endif

/* A program's own names: every short name of libipc.h, and more. */
enum log_level {
	DEBUG, INFO, ERROR,
	CONNECTION, DISCONNECTION, MESSAGE_RX, MESSAGE_TX, TIMER, EXTERNAL,
	SWITCH_RX, SWITCH_TX,
	CB_NO_ERROR, CB_ERROR, CB_FD_CLOSING, CB_IGNORE,
};

/* The prefixed names keep the values of libipc 0.x. */
G_STATIC_ASSERT(IPC_EVENT_ERROR == 0);
G_STATIC_ASSERT(IPC_EVENT_CONNECTION == 1);
G_STATIC_ASSERT(IPC_EVENT_DISCONNECTION == 2);
G_STATIC_ASSERT(IPC_EVENT_MESSAGE_RX == 3);
G_STATIC_ASSERT(IPC_EVENT_MESSAGE_TX == 4);
G_STATIC_ASSERT(IPC_EVENT_TIMER == 5);
G_STATIC_ASSERT(IPC_EVENT_EXTERNAL == 6);
G_STATIC_ASSERT(IPC_EVENT_SWITCH_RX == 7);
G_STATIC_ASSERT(IPC_EVENT_SWITCH_TX == 8);
G_STATIC_ASSERT(IPC_CB_NO_ERROR == 0);
G_STATIC_ASSERT(IPC_CB_ERROR == 1);
G_STATIC_ASSERT(IPC_CB_FD_CLOSING == 2);
G_STATIC_ASSERT(IPC_CB_IGNORE == 3);

/* The names are the program's own, not libipc's. */
static void test_own_names(void)
{
	enum log_level level = ERROR;

	g_assert_cmpint(DEBUG, ==, 0);
	g_assert_cmpint(level, ==, 2);
	g_assert_cmpint(CB_IGNORE, ==, 14);
}

/* The prefixed names in a switch over the event type, as a char. */
static const char *event_name(char type)
{
	switch ((enum event_types)type) {
	case IPC_EVENT_ERROR:
		return "error";
	case IPC_EVENT_CONNECTION:
		return "connection";
	case IPC_EVENT_DISCONNECTION:
		return "disconnection";
	case IPC_EVENT_MESSAGE_RX:
		return "message-rx";
	case IPC_EVENT_MESSAGE_TX:
		return "message-tx";
	case IPC_EVENT_TIMER:
		return "timer";
	case IPC_EVENT_EXTERNAL:
		return "external";
	case IPC_EVENT_SWITCH_RX:
		return "switch-rx";
	case IPC_EVENT_SWITCH_TX:
		return "switch-tx";
	}
	return "unknown";
}

/* ipc_wait_event() reports a tick as IPC_EVENT_TIMER. */
static void test_timer_event(void)
{
	char type = IPC_EVENT_ERROR, buf[16];
	size_t index, len = sizeof(buf);
	int origin, newfd;
	void *ctx = NULL;

	alarm(30);
	g_assert_cmpint(ipc_context_init(&ctx), ==, 0);
	ipc_context_timer(ctx, 1);
	g_assert_cmpint(ipc_wait_event(ctx, &type, &index, &origin, &newfd,
				       buf, &len), ==, 0);
	g_assert_cmpint(type, ==, IPC_EVENT_TIMER);
	g_assert_cmpstr(event_name(type), ==, "timer");
	ipc_context_deinit(&ctx);
	alarm(0);
}

int main(int argc, char *argv[])
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ipc/header/own-names", test_own_names);
	g_test_add_func("/ipc/header/prefixed-timer", test_timer_event);
	return g_test_run();
}
