/*
 * ipcctl send: one message to a service, its replies (ipcctl(1)).
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libipc.h>

#include "internal.h"
#include "ipcctl.h"

#define SEND_TIMEOUT_DEFAULT_MS 5000

/* ------------------------------------------------------------------ */
/* send                                                                 */
/* ------------------------------------------------------------------ */

struct send_opts {
	const char *service;
	const char *message;	/* the argument, or NULL */
	const char *file;	/* -f, or NULL for stdin */
	unsigned long count;
	int timeout_ms;
	enum print_mode mode;
};

/* Reads fd whole, at most max bytes: -EMSGSIZE when there is more. */
static int read_whole(int fd, size_t max, char **data, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap), *bigger;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n == cap) {
			if (cap > max) {
				free(buf);
				return -EMSGSIZE;
			}
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			r = -errno;
			free(buf);
			return (int)r;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (n > max) {
		free(buf);
		return -EMSGSIZE;
	}
	*data = buf;
	*len = n;
	return 0;
}

static int message_get(const struct send_opts *o, char **data, size_t *len)
{
	int fd = STDIN_FILENO, ret;
	const char *what = "standard input";

	if (o->message) {
		*len = strlen(o->message);
		*data = strdup(o->message);
		ret = *data ? 0 : -ENOMEM;
		what = "the message";
	} else {
		if (o->file) {
			what = o->file;
			fd = open(o->file, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				ret = -errno;
				goto out;
			}
		}
		ret = read_whole(fd, IPC_MAX_MESSAGE_SIZE_DEFAULT, data, len);
		if (fd != STDIN_FILENO)
			close(fd);
	}
out:
	if (ret == -EMSGSIZE)
		fprintf(stderr, "%s: %s is over the message size limit of"
			" %u bytes\n", progname, what,
			IPC_MAX_MESSAGE_SIZE_DEFAULT);
	else if (ret < 0)
		fprintf(stderr, "%s: cannot read %s: %s\n", progname, what,
			strerror(-ret));
	return ret;
}

/* Prints replies until the count, the timeout or the service's close. */
static int replies_print(void *ctx, const struct send_opts *o)
{
	size_t size = 4096, index, len;
	unsigned long replies = 0;
	char *buf = malloc(size), *bigger, type;
	int fd, newfd, ret, status = EXIT_ERROR;

	ipc_context_timer(ctx, o->timeout_ms);
	while (buf) {
		len = size;
		ret = ipc_wait_event(ctx, &type, &index, &fd, &newfd, buf,
				     &len);
		if (ret == -EMSGSIZE) {
			bigger = realloc(buf, len);
			if (!bigger)
				break;
			buf = bigger;
			size = len;
			continue;
		}
		if (ret == -EINTR)
			continue;
		if (ret < 0) {
			fprintf(stderr, "%s: %s: waiting for replies: %s\n",
				progname, o->service, strerror(-ret));
			break;
		}
		if (type == MESSAGE_RX) {
			payload_print(buf, len, o->mode);
			if (fflush(stdout) != 0) {
				fprintf(stderr, "%s: writing the replies: %s\n",
					progname, strerror(errno));
				break;
			}
			if (++replies == o->count) {
				status = EXIT_OK;
				break;
			}
		} else if (type == DISCONNECTION) {
			status = EXIT_OK;
			if (o->count) {
				fprintf(stderr, "%s: %s closed the connection"
					" after %lu of %lu replies\n",
					progname, o->service, replies,
					o->count);
				status = EXIT_CLOSED;
			}
			break;
		} else if (type == TIMER) {
			fprintf(stderr, "%s: %s: timeout, %lu replies\n",
				progname, o->service, replies);
			status = EXIT_TIMEOUT;
			break;
		}
	}
	if (!buf)
		fprintf(stderr, "%s: out of memory\n", progname);
	free(buf);
	return status;
}

static void on_alarm(int sig)
{
	(void)sig;
}

/*
 * ipc_connect_service() waits while the service's backlog is full: a
 * SIGALRM (without SA_RESTART) ends that wait with -EINTR at the timeout.
 */
static int connect_bounded(void *ctx, int *fd, const struct send_opts *o)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval t = { { 0, 0 }, { o->timeout_ms / 1000,
					    o->timeout_ms % 1000 * 1000 } };
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	int ret;

	sigemptyset(&sa.sa_mask);
	if (o->timeout_ms && (sigaction(SIGALRM, &sa, NULL) < 0 ||
			      setitimer(ITIMER_REAL, &t, NULL) < 0))
		return -errno;
	ret = ipc_connect_service(ctx, fd, o->service,
				  (uint16_t)strlen(o->service));
	if (o->timeout_ms)
		setitimer(ITIMER_REAL, &off, NULL);
	return ret;
}

/*
 * Connects, queues the message and prints the replies; the timeout
 * bounds the whole: the connection, the write and the replies.
 */
static int send_run(const struct send_opts *o, const char *data, size_t len)
{
	struct send_opts rest = *o;
	int64_t start = now_ms();
	void *ctx = NULL;
	int fd, ret, status;

	ret = ipc_context_init(&ctx);
	if (ret < 0) {
		fprintf(stderr, "%s: cannot create a context: %s\n", progname,
			strerror(-ret));
		return EXIT_ERROR;
	}
	ret = connect_bounded(ctx, &fd, o);
	if (ret == -EINTR) {
		fprintf(stderr, "%s: %s: timeout after %d ms: the service does"
			" not accept connections\n", progname, o->service,
			o->timeout_ms);
		status = EXIT_TIMEOUT;
		goto out;
	}
	if (ret < 0) {
		status = service_error(o->service, ret);
		goto out;
	}
	/* Queued: written while waiting, so that the timeout holds. */
	ret = ipc_schedule(ctx, fd, data, len);
	if (ret < 0) {
		fprintf(stderr, "%s: %s: cannot send: %s\n", progname,
			o->service, strerror(-ret));
		status = ret == -EPIPE ? EXIT_CLOSED : status_of(ret);
		goto out;
	}
	if (o->timeout_ms) {
		/* What the connection left of it, at least 1 ms. */
		rest.timeout_ms -= (int)(now_ms() - start);
		if (rest.timeout_ms < 1)
			rest.timeout_ms = 1;
	}
	status = replies_print(ctx, &rest);
out:
	ipc_context_deinit(&ctx);
	return status;
}

static int send_parse(int argc, char **argv, struct send_opts *o)
{
	static const struct option options[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ "raw", no_argument, NULL, 'r' },
		{ "hex", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "f:n:t:rxh", options,
				  NULL)) != -1) {
		if (opt == 'f')
			o->file = optarg;
		else if (opt == 'n' && parse_count(optarg, &o->count) < 0)
			return usage_error("send: bad count '%s'", optarg);
		else if (opt == 't' && parse_seconds(optarg,
						     &o->timeout_ms) < 0)
			return usage_error("send: bad timeout '%s'", optarg);
		else if (opt == 'r')
			o->mode = PRINT_RAW;
		else if (opt == 'x')
			o->mode = PRINT_HEX;
		else if (opt == 'h')
			return fputs(usage_text, stdout), -1;
		else if (opt == '?')
			return bad_option("send", argv);
	}
	if (optind >= argc)
		return usage_error("send: %s", "no service named");
	o->service = argv[optind++];
	if (optind < argc)
		o->message = argv[optind++];
	if (optind < argc)
		return usage_error("send: unexpected argument '%s'",
				   argv[optind]);
	if (o->message && o->file)
		return usage_error("send: %s", "both a message and -f FILE");
	if (name_check(o->service) < 0)
		return usage_error("send: invalid service name '%s'",
				   o->service);
	return 0;
}

int cmd_send(int argc, char **argv)
{
	struct send_opts o = {
		.count = 1,
		.timeout_ms = SEND_TIMEOUT_DEFAULT_MS,
		.mode = PRINT_AUTO,
	};
	size_t len = 0;
	char *data = NULL;
	int ret;

	ret = send_parse(argc, argv, &o);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	ret = message_get(&o, &data, &len);
	if (ret < 0)
		return ret == -EMSGSIZE ? EXIT_USAGE : EXIT_ERROR;
	ret = send_run(&o, data, len);
	free(data);
	return ret;
}
