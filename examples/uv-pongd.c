/*
 * uv-pongd - the pongd echo service inside a libuv loop.
 *
 * Usage: uv-pongd [SERVICE]
 *
 * A uv_poll_t watches the context fd of ipc_context_fd(); each time it is
 * readable, one ipc_wait_event_timeout(..., 0) call.  SIGTERM or SIGINT
 * stop it cleanly.  Built when configure finds libuv.
 *
 * SPDX-License-Identifier: ISC
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libipc.h>
#include <uv.h>

struct service {
	void *ctx;
	char *buffer;
	size_t size;
	uv_poll_t poll;
	uv_signal_t term, intr;
};

static void stop(struct service *s)
{
	uv_close((uv_handle_t *)&s->poll, NULL);
	uv_close((uv_handle_t *)&s->term, NULL);
	uv_close((uv_handle_t *)&s->intr, NULL);
}

/* One call per wake-up: the fd stays readable while events remain. */
static void on_context_fd(uv_poll_t *poll, int status, int events)
{
	struct service *s = poll->data;
	size_t index, len = s->size;
	int origin, newfd, ret;
	char type, *bigger;

	(void)events;
	if (status < 0)
		return;
	ret = ipc_wait_event_timeout(s->ctx, &type, &index, &origin, &newfd,
				     s->buffer, &len, 0);
	if (ret == -EMSGSIZE) {
		/* Kept for the next call: grow the buffer meanwhile. */
		bigger = realloc(s->buffer, len);
		if (!bigger) {
			stop(s);
			return;
		}
		s->buffer = bigger;
		s->size = len;
		return;
	}
	if (ret == -EAGAIN || ret == -EINTR)
		return;
	if (ret < 0) {
		fprintf(stderr, "uv-pongd: %s\n", strerror(-ret));
		stop(s);
		return;
	}
	if (type == MESSAGE_RX) {
		ret = ipc_schedule(s->ctx, origin, s->buffer, len);
		if (ret < 0 && ret != -EPIPE)
			fprintf(stderr, "uv-pongd: cannot answer fd %d: %s\n",
				origin, strerror(-ret));
	}
}

/*
 * Closing the signal handles gives the signals their default action back:
 * block them first, so that a second SIGTERM cannot kill us while the
 * loop ends.
 */
static void on_signal(uv_signal_t *signal, int signum)
{
	sigset_t set;

	(void)signum;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	stop(signal->data);
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "pong";
	struct service s = { .size = 4096 };
	uv_loop_t loop;
	int fd, ret;

	if (argc > 2 || strlen(name) > UINT16_MAX) {
		fprintf(stderr, "usage: uv-pongd [SERVICE]\n");
		return 2;
	}
	s.buffer = malloc(s.size);
	if (!s.buffer || uv_loop_init(&loop) < 0 ||
	    ipc_context_init(&s.ctx) < 0)
		return 1;
	ret = ipc_service_init(s.ctx, &fd, name, (uint16_t)strlen(name));
	if (ret >= 0)
		ret = ipc_context_fd(s.ctx);
	if (ret < 0) {
		fprintf(stderr, "uv-pongd: %s: %s\n", name, strerror(-ret));
		ipc_context_deinit(&s.ctx);
		uv_loop_close(&loop);
		free(s.buffer);
		return 1;
	}
	uv_poll_init(&loop, &s.poll, ret);
	uv_signal_init(&loop, &s.term);
	uv_signal_init(&loop, &s.intr);
	s.poll.data = s.term.data = s.intr.data = &s;
	uv_poll_start(&s.poll, UV_READABLE, on_context_fd);
	uv_signal_start(&s.term, on_signal, SIGTERM);
	uv_signal_start(&s.intr, on_signal, SIGINT);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	ipc_context_deinit(&s.ctx);
	free(s.buffer);
	return 0;
}
