/*
 * glib-pongd - the pongd echo service inside a GLib main loop.
 *
 * Usage: glib-pongd [SERVICE]
 *
 * The loop watches the context fd of ipc_context_fd() with g_unix_fd_add
 * and makes one ipc_wait_event_timeout(..., 0) call per wake-up; a GLib
 * timeout does the program's other work meanwhile.  SIGTERM or SIGINT stop
 * it cleanly.  Built when configure finds GLib.
 *
 * SPDX-License-Identifier: ISC
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <glib-unix.h>
#include <libipc.h>

struct service {
	void *ctx;
	char *buffer;
	size_t size;
	GMainLoop *loop;
	unsigned long ticks;	/* the other work: seconds served */
};

/* One call per wake-up: the fd stays readable while events remain. */
static gboolean on_context_fd(gint fd, GIOCondition cond, gpointer data)
{
	struct service *s = data;
	size_t index, len = s->size;
	int origin, newfd, ret;
	char type, *bigger;

	(void)fd;
	(void)cond;
	ret = ipc_wait_event_timeout(s->ctx, &type, &index, &origin, &newfd,
				     s->buffer, &len, 0);
	if (ret == -EMSGSIZE) {
		/* Kept for the next call: grow the buffer meanwhile. */
		bigger = realloc(s->buffer, len);
		if (!bigger) {
			g_main_loop_quit(s->loop);
			return G_SOURCE_REMOVE;
		}
		s->buffer = bigger;
		s->size = len;
		return G_SOURCE_CONTINUE;
	}
	if (ret == -EAGAIN || ret == -EINTR)
		return G_SOURCE_CONTINUE;
	if (ret < 0) {
		fprintf(stderr, "glib-pongd: %s\n", strerror(-ret));
		g_main_loop_quit(s->loop);
		return G_SOURCE_REMOVE;
	}
	if (type == MESSAGE_RX) {
		ret = ipc_schedule(s->ctx, origin, s->buffer, len);
		if (ret < 0 && ret != -EPIPE)
			fprintf(stderr, "glib-pongd: cannot answer fd %d: %s\n",
				origin, strerror(-ret));
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_tick(gpointer data)
{
	struct service *s = data;

	s->ticks++;
	return G_SOURCE_CONTINUE;
}

static gboolean on_stop(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_CONTINUE;
}

static void block_stop_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "pong";
	struct service s = { .size = 4096 };
	guint sources[4];
	int fd, ret, i;

	if (argc > 2 || strlen(name) > UINT16_MAX) {
		fprintf(stderr, "usage: glib-pongd [SERVICE]\n");
		return 2;
	}
	s.buffer = malloc(s.size);
	if (!s.buffer || ipc_context_init(&s.ctx) < 0)
		return 1;
	ret = ipc_service_init(s.ctx, &fd, name, (uint16_t)strlen(name));
	if (ret >= 0)
		ret = ipc_context_fd(s.ctx);
	if (ret < 0) {
		fprintf(stderr, "glib-pongd: %s: %s\n", name, strerror(-ret));
		ipc_context_deinit(&s.ctx);
		free(s.buffer);
		return 1;
	}
	s.loop = g_main_loop_new(NULL, FALSE);
	sources[0] = g_unix_fd_add(ret, G_IO_IN, on_context_fd, &s);
	sources[1] = g_timeout_add_seconds(1, on_tick, &s);
	sources[2] = g_unix_signal_add(SIGTERM, on_stop, s.loop);
	sources[3] = g_unix_signal_add(SIGINT, on_stop, s.loop);
	g_main_loop_run(s.loop);
	/*
	 * Removing its sources gives the signals their default action back:
	 * block them first, so that a second SIGTERM cannot kill us here.
	 */
	block_stop_signals();
	for (i = 0; i < 4; i++)
		g_source_remove(sources[i]);
	g_main_loop_unref(s.loop);
	ipc_context_deinit(&s.ctx);
	free(s.buffer);
	return 0;
}
