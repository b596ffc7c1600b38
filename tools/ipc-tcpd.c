/*
 * ipc-tcpd - the TCP protocol service of libipc.
 *
 * Usage: ipc-tcpd [--listen ADDR:PORT] [--allow SERVICE]... [OPTION]...
 *
 * Relays libipc connections between machines (doc/network.md, ipc-tcpd(8)):
 * - inbound, a remote ipc-tcpd connects over TCP and names a local service;
 *   when the allow-list has it, ipc-tcpd connects to it and switches the
 *   TCP connection with it;
 * - outbound, a local client (ipcd) of the libipc service "tcp" sends a
 *   URI tcp://HOST:PORT/SERVICE; ipc-tcpd connects to HOST:PORT, asks the
 *   remote ipc-tcpd for SERVICE and switches the client's connection with
 *   the TCP connection.
 * Once switched, libipc relays the frames untouched (ipc_add_switch()).
 * Everything runs in one event loop and nothing in it blocks: TCP sockets
 * in their handshake are watched by an epoll instance of ours that is
 * itself an external fd of the context (a connect completes with
 * writability, which external fds do not report, and a socket must be
 * able to stop being watched without being closed); they become external
 * fds of the context when they are switched.  The connection to a local
 * service whose backlog is full is tried again at timer ticks until the
 * handshake's time limit; host names are resolved by short-lived threads
 * that report through a pipe; signals arrive through a signalfd; time
 * limits are checked at the context's timer ticks.
 *
 * Against a flood of idle peers: at most --max-handshakes TCP connections
 * in handshake, at most --max-per-source from one address, and FD_RESERVE
 * fds kept free for relays and local clients; past a limit, the oldest
 * handshake (of that address, or of all) is shed.
 *
 * This file holds the event loop, start and stop, and the options;
 * tcpd-inbound.c and tcpd-outbound.c the two directions; tcpd-peers.c the
 * table of connections in their handshake, the log and the error replies;
 * tcpd.h what they share.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <libipc.h>

#include "daemon.h"
#include "tcpd.h"

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

/* The library closed @fd (DISCONNECTION): drop what depended on it. */
static void peer_gone(struct tcpd *d, int fd)
{
	struct peer *p = peer_get(d, fd);
	int other;

	if (!p)
		return;		/* switched, or not ours */
	other = p->other;
	if (p->state == PEER_WAITING || p->state == PEER_RESOLVING)
		log_line("out %s: dropped: the requester went away", p->uri);
	peer_end(d, fd);
	if (!peer_get(d, other))
		return;
	if (d->peers[other]->state == PEER_WAITING) {
		/* Our TCP side: the remote closed before replying. */
		d->peers[other]->other = -1;
		outbound_fail(d, other, ECONNRESET,
			      "connection closed by the remote");
	} else {
		peer_close(d, other);
	}
}

/*
 * Inbound connections waiting for a full backlog try again; every
 * handshake past its time limit gets ETIMEDOUT and is dropped.
 */
static void check_deadlines(struct tcpd *d)
{
	uint64_t now = daemon_now_ms();
	size_t fd;

	for (fd = 0; fd < d->npeers && d->inflight > 0; fd++) {
		struct peer *p = d->peers[fd];

		if (p && p->state == PEER_LOCAL)
			inbound_local_try(d, (int)fd);
		p = d->peers[fd];
		if (!p || p->deadline_ms > now)
			continue;
		if (p->state == PEER_INBOUND) {
			inbound_refuse(d, (int)fd, ETIMEDOUT, "timed out",
				       NULL);
		} else if (p->state == PEER_LOCAL) {
			inbound_refuse(d, (int)fd, ETIMEDOUT,
				       "the service is busy", p->name);
		} else if (p->state == PEER_REQUESTER) {
			log_line("out: dropped a client: no request in time");
			ipc_send_error(d, (int)fd, ETIMEDOUT, "timed out");
			peer_close(d, (int)fd);
		} else if (p->state == PEER_WAITING ||
			   p->state == PEER_RESOLVING) {
			outbound_fail(d, (int)fd, ETIMEDOUT, "timed out");
		}
		/* CONNECTING and REPLY end with their requester. */
	}
}

static void external_readable(struct tcpd *d, int fd)
{
	struct peer *p = peer_get(d, fd);
	struct signalfd_siginfo si;

	if (fd == d->listenfd) {
		listener_readable(d);
	} else if (fd == d->watchfd) {
		watch_ready(d);
	} else if (fd == d->resolved[0]) {
		resolved_ready(d);
	} else if (fd == d->signalfd) {
		if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			log_line("stopping on signal %u", si.ssi_signo);
		d->stop = true;
	} else if (p && p->state == PEER_REPLY) {
		outbound_readable(d, fd);
	}
}

static void handle_event(struct tcpd *d, char type, int fd, int newfd,
			 const char *buf, size_t len)
{
	int ret;

	switch (type) {
	case CONNECTION:
		ret = peer_start(d, newfd, PEER_REQUESTER);
		if (ret < 0) {
			log_line("out: dropped a client: %s", strerror(-ret));
			ipc_close_fd(d->ctx, newfd);
		}
		break;
	case MESSAGE_RX:
		requester_message(d, fd, buf, len);
		break;
	case EXTERNAL:
		external_readable(d, fd);
		break;
	case DISCONNECTION:
		peer_gone(d, fd);
		break;
	case TIMER:
		check_deadlines(d);
		break;
	default:		/* MESSAGE_TX, SWITCH_RX, SWITCH_TX */
		break;
	}
}

static int serve(struct tcpd *d)
{
	/* SWITCH_RX copies what fits: relayed messages need no room here. */
	char buf[REQUEST_MAX];
	int ret;

	while (!d->stop) {
		size_t index, len = sizeof(buf);
		int fd, newfd;
		char type;

		ret = ipc_wait_event(d->ctx, &type, &index, &fd, &newfd, buf,
				     &len);
		if (ret == -EMSGSIZE) {
			/* A request longer than any URI: never kept. */
			if (peer_get(d, fd))
				outbound_fail(d, fd, EMSGSIZE, "too long");
			else
				ipc_close_fd(d->ctx, fd);
			continue;
		}
		if (ret == -EINTR || ret == -ENOMEM)
			continue;	/* nothing lost: the library retries */
		if (ret < 0)
			return ret;
		handle_event(d, type, fd, newfd, buf, len);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                       */
/* ------------------------------------------------------------------ */

static int listen_tcp(const char *spec, int *fdp)
{
	struct ipc_span a = { spec, strlen(spec) };
	char host[NI_MAXHOST];
	struct addrinfo *ai;
	uint16_t port;
	int fd, one = 1, ret;

	if (ipc__hostport_parse(a, host, sizeof(host), &port) < 0)
		return -EINVAL;
	/* Before the loop runs: a name may be resolved, and wait. */
	ret = resolve(host, port, AI_PASSIVE, false, &ai);
	if (ret != 0)
		return ret == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	/* Restarting must not wait for the old connections' TIME_WAIT. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, LISTEN_BACKLOG) < 0) {
		ret = -errno;
		close(fd);
		goto out;
	}
	*fdp = fd;
out:
	freeaddrinfo(ai);
	return ret;
}

/* Our epoll of TCP fds in handshake, and the resolvers' pipe. */
static int watch_handshakes(struct tcpd *d)
{
	int ret;

	d->watchfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->watchfd < 0)
		return -errno;
	ret = ipc_add_external(d->ctx, d->watchfd);
	if (ret < 0) {
		close(d->watchfd);
		d->watchfd = -1;
		return ret;
	}
	/* The write end blocks: a resolver waits rather than lose a job. */
	if (pipe2(d->resolved, O_CLOEXEC) < 0) {
		d->resolved[0] = d->resolved[1] = -1;
		return -errno;
	}
	ret = fcntl(d->resolved[0], F_SETFL, O_NONBLOCK) < 0 ? -errno : 0;
	if (ret == 0)
		ret = ipc_add_external(d->ctx, d->resolved[0]);
	if (ret < 0) {
		close(d->resolved[0]);
		close(d->resolved[1]);
		d->resolved[0] = d->resolved[1] = -1;
	}
	return ret;
}

static int start_failed(const char *what, const char *arg, int err)
{
	fprintf(stderr, PROGRAM ": cannot %s%s%s: %s\n", what, arg ? " " : "",
		arg ? arg : "", strerror(-err));
	return err;
}

/* Sets everything up, saying on stderr what failed; 0 or -errno. */
static int start(struct tcpd *d)
{
	int servicefd, ret;

	ret = ipc_context_init(&d->ctx);
	if (ret < 0)
		return start_failed("create a context", NULL, ret);
	d->signalfd = daemon_signals_watch(d->ctx);
	if (d->signalfd < 0)
		return start_failed("watch signals", NULL, d->signalfd);
	ret = watch_handshakes(d);
	if (ret < 0)
		return start_failed("watch handshakes", NULL, ret);
	ret = listen_tcp(d->opt.listen, &d->listenfd);
	if (ret == 0) {
		ret = ipc_add_external(d->ctx, d->listenfd);
		if (ret < 0)
			close(d->listenfd);
	}
	if (ret < 0)
		return start_failed("listen on", d->opt.listen, ret);
	/* The service comes last: its socket says that all is ready. */
	ret = ipc_service_init(d->ctx, &servicefd, d->opt.service,
			       (uint16_t)strlen(d->opt.service));
	if (ret < 0)
		return start_failed("start service", d->opt.service, ret);
	d->sparefd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	log_line("listening on %s, service %s, %zu service%s allowed",
		 d->opt.listen, d->opt.service, d->opt.nallow,
		 d->opt.nallow == 1 ? "" : "s");
	return 0;
}

/* Closes everything; the service's socket and lock files are removed. */
static void stop(struct tcpd *d)
{
	size_t fd;

	for (fd = 0; fd < d->npeers; fd++)
		if (d->peers[fd])
			peer_close(d, (int)fd);
	free(d->peers);
	ipc_context_deinit(&d->ctx);
	if (d->sparefd >= 0)
		close(d->sparefd);
	/*
	 * A resolver still running writes to the pipe when done: its write
	 * end stays open for it (the process exits anyway), and the job is
	 * freed by the resolver when the read end is gone.
	 */
	if (d->resolved[1] >= 0 && d->nresolving == 0)
		close(d->resolved[1]);
}

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROGRAM " [--listen ADDR:PORT] [--allow SERVICE]..."
		" [--allow-file FILE]\n"
		"                [--service NAME] [--timeout MS]"
		" [--max-handshakes N] [--max-per-source N]\n"
		"Relays libipc connections over TCP (see ipc-tcpd(8)).\n"
		"  -l, --listen ADDR:PORT  TCP address to listen on (default "
		"$" LISTEN_ENV ",\n"
		"                          else " DEFAULT_LISTEN ")\n"
		"  -a, --allow SERVICE     let remote peers reach SERVICE"
		" (repeatable)\n"
		"  -f, --allow-file FILE   the same, one SERVICE per line\n"
		"  -s, --service NAME      libipc service name (default "
		DEFAULT_SERVICE ")\n"
		"  -t, --timeout MS        handshake time limit (default %d)\n"
		"  -m, --max-handshakes N  TCP connections in handshake at once"
		" (default %d);\n"
		"                          past it the oldest is dropped\n"
		"  -p, --max-per-source N  the same from one address"
		" (default %d)\n"
		"  -h, --help              show this help and exit\n"
		"  -V, --version           show the version and exit\n"
		"%d file descriptors are kept free for relays and local"
		" clients: raise\n"
		"RLIMIT_NOFILE (LimitNOFILE=) for more relays.\n",
		DEFAULT_TIMEOUT_MS, DEFAULT_MAX_HANDSHAKES,
		DEFAULT_MAX_PER_SOURCE, FD_RESERVE);
}

static int allow_add(struct options *o, const char *name, size_t len)
{
	char **allow;

	if (!ipc__service_name_ok(name, len)) {
		fprintf(stderr, PROGRAM ": invalid service name \"%.*s\"\n",
			(int)len, name);
		return -EINVAL;
	}
	allow = realloc(o->allow, (o->nallow + 1) * sizeof(*allow));
	if (!allow)
		return -ENOMEM;
	o->allow = allow;
	allow[o->nallow] = strndup(name, len);
	if (!allow[o->nallow])
		return -ENOMEM;
	o->nallow++;
	return 0;
}

/* One service name per line; blanks around it, empty lines and lines
 * starting with '#' are ignored. */
static int allow_file(struct options *o, const char *path)
{
	FILE *f = fopen(path, "re");
	size_t size = 0, len;
	char *line = NULL, *p;
	ssize_t n;
	int ret = 0;

	if (!f) {
		fprintf(stderr, PROGRAM ": cannot read %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	while (ret == 0 && (n = getline(&line, &size, f)) >= 0) {
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		len = strcspn(p, "\r\n");
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len > 0 && p[0] != '#')
			ret = allow_add(o, p, len);
	}
	if (ret == 0 && ferror(f))
		ret = -EIO;
	free(line);
	fclose(f);
	return ret;
}

/* 0 to run, 1 when done (--help, --version), 2 on a usage error. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "allow", required_argument, NULL, 'a' },
		{ "allow-file", required_argument, NULL, 'f' },
		{ "service", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "max-handshakes", required_argument, NULL, 'm' },
		{ "max-per-source", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *env = getenv(LISTEN_ENV);
	int c, ret = 0;

	o->listen = env && *env ? env : DEFAULT_LISTEN;
	o->service = DEFAULT_SERVICE;
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->max_handshakes = DEFAULT_MAX_HANDSHAKES;
	o->max_per_source = DEFAULT_MAX_PER_SOURCE;
	while (ret == 0 &&
	       (c = getopt_long(argc, argv, "l:a:f:s:t:m:p:hV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = optarg;
			break;
		case 'a':
			ret = allow_add(o, optarg, strlen(optarg));
			break;
		case 'f':
			ret = allow_file(o, optarg);
			break;
		case 's':
			o->service = optarg;
			if (!ipc__service_name_ok(optarg, strlen(optarg)))
				ret = -EINVAL;
			break;
		case 't':
			ret = daemon_ms_parse(optarg, &o->timeout_ms);
			break;
		case 'm':
			ret = daemon_count_parse(optarg, COUNT_MAX,
						 &o->max_handshakes);
			break;
		case 'p':
			ret = daemon_count_parse(optarg, COUNT_MAX,
						 &o->max_per_source);
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf(PROGRAM " (libipc) " PACKAGE_VERSION "\n");
			return 1;
		default:
			ret = -EINVAL;
		}
	}
	if (ret == 0 && optind < argc)
		ret = -EINVAL;
	if (ret < 0) {
		usage(stderr);
		return 2;
	}
	return 0;
}

static void options_free(struct options *o)
{
	size_t i;

	for (i = 0; i < o->nallow; i++)
		free(o->allow[i]);
	free(o->allow);
}

int main(int argc, char **argv)
{
	struct tcpd d = {
		.listenfd = -1, .signalfd = -1, .watchfd = -1, .sparefd = -1,
		.resolved = { -1, -1 }, .oldest = -1, .newest = -1,
	};
	int ret;

	daemon_memory_setup();
	ret = parse_args(argc, argv, &d.opt);
	if (ret != 0) {
		options_free(&d.opt);
		return ret == 1 ? 0 : 2;
	}
	/* Like ipcd, ipc-tcpd never routes its own connections. */
	unsetenv("IPC_NETWORK");
	/* The library never raises SIGPIPE; nor does ipc-tcpd's own I/O. */
	signal(SIGPIPE, SIG_IGN);
	d.tick_ms = d.opt.timeout_ms / 10;
	if (d.tick_ms < 10)
		d.tick_ms = 10;
	if (d.tick_ms > 1000)
		d.tick_ms = 1000;
	ret = start(&d);
	if (ret == 0) {
		ret = serve(&d);
		if (ret < 0)
			log_line("waiting for events: %s", strerror(-ret));
	}
	stop(&d);
	options_free(&d.opt);
	return ret < 0 ? 1 : 0;
}
