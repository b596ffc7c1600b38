/*
 * pong - the client of the pongd echo service.
 *
 * Usage: pong [-s SERVICE] [MESSAGE...]
 *        pong [-s SERVICE] -n COUNT
 *        pong --help
 *
 * Connects to SERVICE ("pong" by default) in the run directory, sends
 * every MESSAGE ("hello" when none is given) and prints each reply on its
 * own line.  With -n it sends COUNT numbered messages at once, checks that
 * every reply comes back in order and prints one line when they all did.
 * Exits 0 when every reply came back equal to what was sent.
 *
 * SPDX-License-Identifier: ISC
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libipc.h>

#define DEFAULT_SERVICE "pong"
#define DEFAULT_MESSAGE "hello"
#define COUNTED_MESSAGE_SIZE 32

struct pong {
	const char *service;
	char **messages;	/* the messages to send, or NULL with -n */
	unsigned long count;	/* how many */
	size_t longest;		/* the length of the longest one */
};

static char default_message[] = DEFAULT_MESSAGE;
static char *default_messages[] = { default_message, NULL };

/* Message number i: argv's, or "ping <i>" with -n.  Returns its length. */
static size_t message(const struct pong *p, unsigned long i, char *buf,
		      size_t size)
{
	if (p->messages)
		return (size_t)snprintf(buf, size, "%s", p->messages[i]);
	return (size_t)snprintf(buf, size, "ping %lu", i + 1);
}

static const char usage_text[] =
	"usage: pong [-s SERVICE] [MESSAGE...]\n"
	"       pong [-s SERVICE] -n COUNT\n";

static int usage(void)
{
	fputs(usage_text, stderr);
	return 2;
}

static int parse_count(const char *arg, unsigned long *count)
{
	char *end;

	errno = 0;
	*count = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || *count == 0 || arg[0] == '-')
		return -EINVAL;
	return 0;
}

static int parse_args(int argc, char **argv, struct pong *p)
{
	int counted = 0;
	int opt;

	p->service = DEFAULT_SERVICE;
	while ((opt = getopt(argc, argv, "s:n:")) != -1) {
		if (opt == 's') {
			p->service = optarg;
		} else if (opt == 'n') {
			if (parse_count(optarg, &p->count) < 0)
				return -EINVAL;
			counted = 1;
		} else {
			return -EINVAL;
		}
	}
	if (strlen(p->service) > UINT16_MAX || (counted && optind < argc))
		return -EINVAL;
	if (counted) {
		p->messages = NULL;
		p->longest = COUNTED_MESSAGE_SIZE;
		return 0;
	}
	p->messages = optind < argc ? argv + optind : default_messages;
	p->longest = 0;
	for (p->count = 0; p->messages[p->count]; p->count++)
		if (strlen(p->messages[p->count]) > p->longest)
			p->longest = strlen(p->messages[p->count]);
	return 0;
}

static int send_all(void *ctx, int fd, const struct pong *p, char *buf,
		    size_t size)
{
	unsigned long i;
	int ret;

	for (i = 0; i < p->count; i++) {
		ret = ipc_schedule(ctx, fd, buf, message(p, i, buf, size));
		if (ret < 0) {
			fprintf(stderr, "pong: cannot send message %lu: %s\n",
				i + 1, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Checks reply number i; prints it unless the messages are counted. */
static int check_reply(const struct pong *p, unsigned long i,
		       const char *reply, size_t len, char *buf, size_t size)
{
	size_t expected_len = message(p, i, buf, size);

	if (len != expected_len || memcmp(reply, buf, len) != 0) {
		fprintf(stderr, "pong: reply %lu is \"%.*s\", not \"%s\"\n",
			i + 1, (int)len, reply, buf);
		return -EPROTO;
	}
	if (p->messages)
		printf("%.*s\n", (int)len, reply);
	return 0;
}

static int receive_all(void *ctx, const struct pong *p, char *reply,
		       char *buf, size_t size)
{
	unsigned long received = 0;
	int ret = 0;

	while (received < p->count) {
		size_t index, len = size;
		int fd, newfd;
		char type;

		ret = ipc_wait_event(ctx, &type, &index, &fd, &newfd, reply,
				     &len);
		if (ret == -EMSGSIZE) {
			fprintf(stderr, "pong: reply %lu is longer than any"
				" message sent\n", received + 1);
			return ret;
		}
		if (ret < 0) {
			fprintf(stderr, "pong: waiting for replies: %s\n",
				strerror(-ret));
			return ret;
		}
		if (type == DISCONNECTION) {
			fprintf(stderr, "pong: the service went away after"
				" %lu of %lu replies\n", received, p->count);
			return -ECONNRESET;
		}
		if (type != MESSAGE_RX)
			continue;
		ret = check_reply(p, received, reply, len, buf, size);
		if (ret < 0)
			return ret;
		received++;
	}
	return 0;
}

static int ping(void *ctx, const struct pong *p)
{
	size_t size = p->longest + 1;
	char *buf = malloc(size);
	char *reply = malloc(size);
	int fd, ret;

	if (!buf || !reply) {
		ret = -ENOMEM;
		fprintf(stderr, "pong: %s\n", strerror(-ret));
		goto out;
	}
	ret = ipc_connect_service(ctx, &fd, p->service,
				  (uint16_t)strlen(p->service));
	if (ret < 0) {
		fprintf(stderr, "pong: cannot connect to service \"%s\": %s\n",
			p->service, strerror(-ret));
		goto out;
	}
	ret = send_all(ctx, fd, p, buf, size);
	if (ret == 0)
		ret = receive_all(ctx, p, reply, buf, size);
	if (ret == 0 && !p->messages)
		printf("%lu replies, in order\n", p->count);
out:
	free(reply);
	free(buf);
	return ret;
}

int main(int argc, char **argv)
{
	struct pong p;
	void *ctx = NULL;
	int ret;

	if (argc == 2 && (!strcmp(argv[1], "--help") ||
			  !strcmp(argv[1], "-h"))) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (parse_args(argc, argv, &p) < 0)
		return usage();
	ret = ipc_context_init(&ctx);
	if (ret < 0) {
		fprintf(stderr, "pong: cannot create a context: %s\n",
			strerror(-ret));
		return 1;
	}
	ret = ping(ctx, &p);
	ipc_context_deinit(&ctx);
	if (fflush(stdout) != 0)
		ret = -errno;
	return ret < 0 ? 1 : 0;
}
