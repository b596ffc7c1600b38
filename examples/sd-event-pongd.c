/*
 * sd-event-pongd - the pongd echo service inside an sd-event loop.
 *
 * Usage: sd-event-pongd [SERVICE]
 *
 * sd_event_add_io() watches the context fd of ipc_context_fd(); each time
 * it is readable, one ipc_wait_event_timeout(..., 0) call.  SIGTERM or
 * SIGINT stop it cleanly.  Built when configure finds libsystemd.
 *
 * SPDX-License-Identifier: ISC
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <libipc.h>
#include <systemd/sd-event.h>

struct service {
	void *ctx;
	char *buffer;
	size_t size;
};

/* One call per wake-up: the fd stays readable while events remain. */
static int on_context_fd(sd_event_source *source, int fd, uint32_t revents,
			 void *data)
{
	struct service *s = data;
	size_t index, len = s->size;
	int origin, newfd, ret;
	char type, *bigger;

	(void)fd;
	(void)revents;
	ret = ipc_wait_event_timeout(s->ctx, &type, &index, &origin, &newfd,
				     s->buffer, &len, 0);
	if (ret == -EMSGSIZE) {
		/* Kept for the next call: grow the buffer meanwhile. */
		bigger = realloc(s->buffer, len);
		if (!bigger)
			return sd_event_exit(sd_event_source_get_event(source),
					     -ENOMEM);
		s->buffer = bigger;
		s->size = len;
		return 0;
	}
	if (ret == -EAGAIN || ret == -EINTR)
		return 0;
	if (ret < 0) {
		fprintf(stderr, "sd-event-pongd: %s\n", strerror(-ret));
		return sd_event_exit(sd_event_source_get_event(source), ret);
	}
	if (type == MESSAGE_RX) {
		ret = ipc_schedule(s->ctx, origin, s->buffer, len);
		if (ret < 0 && ret != -EPIPE)
			fprintf(stderr,
				"sd-event-pongd: cannot answer fd %d: %s\n",
				origin, strerror(-ret));
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "pong";
	struct service s = { .size = 4096 };
	sd_event_source *io = NULL;
	sd_event *event = NULL;
	sigset_t stop_signals;
	int fd, ret;

	if (argc > 2 || strlen(name) > UINT16_MAX) {
		fprintf(stderr, "usage: sd-event-pongd [SERVICE]\n");
		return 2;
	}
	/* sd-event takes signals through a signalfd: block them first. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);
	s.buffer = malloc(s.size);
	if (!s.buffer || sd_event_new(&event) < 0 ||
	    ipc_context_init(&s.ctx) < 0)
		return 1;
	ret = ipc_service_init(s.ctx, &fd, name, (uint16_t)strlen(name));
	if (ret >= 0)
		ret = ipc_context_fd(s.ctx);
	if (ret >= 0)
		ret = sd_event_add_io(event, &io, ret, EPOLLIN, on_context_fd,
				      &s);
	/* A NULL handler: the signal ends the loop (sd_event_exit). */
	if (ret >= 0)
		ret = sd_event_add_signal(event, NULL, SIGTERM, NULL, NULL);
	if (ret >= 0)
		ret = sd_event_add_signal(event, NULL, SIGINT, NULL, NULL);
	if (ret >= 0)
		ret = sd_event_loop(event);
	if (ret < 0)
		fprintf(stderr, "sd-event-pongd: %s: %s\n", name,
			strerror(-ret));
	sd_event_source_unref(io);
	sd_event_unref(event);
	ipc_context_deinit(&s.ctx);
	free(s.buffer);
	return ret < 0 ? 1 : 0;
}
