/*
 * ipcd - the lookup daemon of IPC_NETWORK (doc/network.md, section 1).
 *
 * SPDX-License-Identifier: ISC
 *
 * The libipc service "ipc".  A client sends one lookup, NAME;RULES;
 * ipcd finds the rule for NAME, connects to the protocol service named by
 * the URI's scheme ("tcp": ipc-tcpd), sends it the URI, reads its reply,
 * and on "ok" passes that connection's fd to the client with SCM_RIGHTS,
 * or the fd that came with the "ok" when the protocol service sent one
 * (ipc-sshd hands over ssh's socket: the client then talks to ssh, no
 * relay between); an error reply is forwarded.
 *
 * The clients' lookups arrive as libipc messages.  The connection to the
 * protocol service is made and read raw (an external fd of the context,
 * read with tools/handshake.c): exactly the reply frame is read, so the
 * bytes after "ok" stay in the socket for the client.  Every step has a
 * time limit, checked by the context's periodic timer while lookups are
 * in progress; a peer that breaks the protocol, stalls or leaves is
 * dropped alone.  SIGTERM and SIGINT arrive through a signalfd watched
 * by the context: ipcd closes everything, removing its socket, and exits.
 */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libipc.h>

#include "daemon.h"
#include "handshake.h"
#include "network.h"

#define SERVICE_NAME "ipc"
/* Largest lookup, NAME;RULES. */
#define LOOKUP_MAX (64 * 1024)
/* Largest reply of a protocol service. */
#define REPLY_MAX 1024
#define CLIENT_TIMEOUT_MS 5000
#define SERVICE_TIMEOUT_MS 10000
/* Checks of the time limits per limit: their precision. */
#define TICKS_PER_LIMIT 10
/* Period of the attempts to reach a protocol service whose backlog is full. */
#define CONNECT_RETRY_MS 20

enum step {
	STEP_LOOKUP,	/* waiting for the client's lookup */
	STEP_CONNECT,	/* the protocol service's backlog is full */
	STEP_SERVICE,	/* waiting for the protocol service's reply */
};

/* One client's lookup, from its connection to its reply. */
struct lookup {
	int client;		/* the client's fd, a libipc connection */
	int service;		/* raw fd to the protocol service, or -1 */
	enum step step;
	uint64_t deadline;	/* monotonic ms */
	pid_t pid;		/* the client's, for the log */
	char name[IPC_NET_NAME_MAX + 1];
	char *uri;		/* the URI asked for, NUL-terminated */
	struct ipc_span scheme;	/* in @uri: the protocol service */
	struct handshake_reader reader;
	char reply[REPLY_MAX];
};

struct ipcd {
	void *ctx;
	int service;		/* our listening socket */
	int signals;		/* signalfd of SIGTERM and SIGINT */
	unsigned int client_timeout;	/* ms */
	unsigned int service_timeout;	/* ms */
	struct lookup **byfd;	/* fd -> lookup, for both of its fds */
	int nfds;
	unsigned int active;	/* lookups in progress */
	unsigned int connecting;	/* of them, waiting for a backlog */
	char *buffer;		/* LOOKUP_MAX bytes for ipc_wait_event */
	bool stop;
};

/* ------------------------------------------------------------------ */
/* The lookups, by fd                                                   */
/* ------------------------------------------------------------------ */

static int byfd_set(struct ipcd *d, int fd, struct lookup *l)
{
	if (fd >= d->nfds) {
		int n = d->nfds ? d->nfds : 64;
		struct lookup **map;

		while (n <= fd)
			n *= 2;
		map = realloc(d->byfd, (size_t)n * sizeof(*map));
		if (!map)
			return -ENOMEM;
		memset(map + d->nfds, 0, (size_t)(n - d->nfds) * sizeof(*map));
		d->byfd = map;
		d->nfds = n;
	}
	d->byfd[fd] = l;
	return 0;
}

static struct lookup *byfd_get(struct ipcd *d, int fd)
{
	return fd >= 0 && fd < d->nfds ? d->byfd[fd] : NULL;
}

/*
 * Sets the timer on with the first lookup, off with the last, faster
 * while a protocol service's backlog is full.  Called when these change.
 */
static void timer_update(struct ipcd *d)
{
	unsigned int limit = d->client_timeout < d->service_timeout ?
				     d->client_timeout : d->service_timeout;
	int tick = (int)(limit / TICKS_PER_LIMIT);

	if (d->connecting && tick > CONNECT_RETRY_MS)
		tick = CONNECT_RETRY_MS;
	ipc_context_timer(d->ctx, d->active ? (tick ? tick : 1) : 0);
}

/* The lookup leaves or enters STEP_CONNECT. */
static void connecting_set(struct ipcd *d, struct lookup *l, bool on)
{
	if (on == (l->step == STEP_CONNECT))
		return;
	if (on) {
		l->step = STEP_CONNECT;
		d->connecting++;
	} else {
		l->step = STEP_SERVICE;
		d->connecting--;
	}
	timer_update(d);
}

static int lookup_new(struct ipcd *d, int client)
{
	struct lookup *l = calloc(1, sizeof(*l));

	if (!l || byfd_set(d, client, l) < 0) {
		free(l);
		return -ENOMEM;
	}
	l->client = client;
	l->service = -1;
	handshake_reader_init(&l->reader, l->reply, sizeof(l->reply));
	l->step = STEP_LOOKUP;
	l->deadline = daemon_now_ms() + (uint64_t)d->client_timeout;
	l->pid = -1;
	ipc_peer_credentials(d->ctx, client, &l->pid, NULL, NULL);
	if (d->active++ == 0)
		timer_update(d);
	return 0;
}

/*
 * Forgets a lookup and closes what is still open of it; the fds the
 * library closed already (after a DISCONNECTION) are set to -1 first.
 */
static void lookup_end(struct ipcd *d, struct lookup *l)
{
	if (l->step == STEP_CONNECT)
		d->connecting--;
	if (l->client >= 0) {
		d->byfd[l->client] = NULL;
		ipc_close_fd(d->ctx, l->client);
	}
	if (l->service >= 0) {
		d->byfd[l->service] = NULL;
		ipc_close_fd(d->ctx, l->service);
	}
	if (l->reader.passfd >= 0)
		close(l->reader.passfd);
	free(l->uri);
	free(l);
	if (--d->active == 0)
		timer_update(d);
}

/* ------------------------------------------------------------------ */
/* Replies and the log                                                  */
/* ------------------------------------------------------------------ */

/*
 * One line: the client, the name and URI when known, what happened.  A
 * service name may hold any byte but '/' and NUL: others than printable
 * ASCII are logged as '?' (URIs and replies are printable already).
 */
static void log_line(const struct lookup *l, const char *what)
{
	char name[sizeof(l->name)];
	size_t i;

	for (i = 0; l->name[i]; i++)
		name[i] = l->name[i] >= 0x20 && l->name[i] <= 0x7e ?
				  l->name[i] : '?';
	name[i] = '\0';
	fprintf(stderr, "ipcd: pid %ld: %s%s%s: %s\n", (long)l->pid,
		name[0] ? name : "(no lookup)", l->uri ? " -> " : "",
		l->uri ? l->uri : "", what);
}

/*
 * Replies an error to the client, logs it, ends the lookup.  A text too
 * long for the reply is cut: a forwarded "error E2 TEXT" of REPLY_MAX
 * bytes grows by 4 once E2 reads as EPROTO, and must still arrive.
 */
static void lookup_fail(struct ipcd *d, struct lookup *l, int err,
			const char *text)
{
	char reply[REPLY_MAX + 1];	/* a forwarded reply, and its NUL */
	char cut[REPLY_MAX + 1];
	/* "error ", the errno name, a blank, the text: REPLY_MAX at most. */
	size_t room = REPLY_MAX - 7 - strlen(ipc__errno_name(err));
	int len;

	if (text && strlen(text) > room) {
		memcpy(cut, text, room);
		cut[room] = '\0';
		text = cut;
	}
	len = ipc__reply_format(reply, sizeof(reply), err, text);

	if (len > 0 && l->client >= 0)
		handshake_send(l->client, reply, (size_t)len, -1);
	log_line(l, len > 0 ? reply : "error");
	lookup_end(d, l);
}

/* A stream socket, as the client wants one. */
static bool is_stream_socket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_STREAM;
}

/*
 * The protocol service said ok: its connection goes to the client, or
 * the socket it sent with the ok (doc/network.md, section 2).
 */
static void lookup_pass(struct ipcd *d, struct lookup *l)
{
	int passfd = l->reader.passfd >= 0 ? l->reader.passfd : l->service;
	int ret;

	if (!is_stream_socket(passfd)) {
		lookup_fail(d, l, EPROTO, "the protocol service passed no "
			    "stream socket");
		return;
	}
	ret = handshake_send(l->client, "ok", 2, passfd);

	if (ret < 0) {
		char what[128];

		snprintf(what, sizeof(what), "ok, not passed: %s",
			 strerror(-ret));
		log_line(l, what);
	} else {
		log_line(l, "ok");
	}
	lookup_end(d, l);
}

/* ------------------------------------------------------------------ */
/* The protocol service                                                 */
/* ------------------------------------------------------------------ */

/*
 * Connects to the URI's protocol service, without blocking, and sends it
 * the URI; while its backlog is full, the lookup waits in STEP_CONNECT
 * and the timer tries again, until the service's time limit.
 */
static void service_try(struct ipcd *d, struct lookup *l)
{
	int fd = -1, ret;

	ret = daemon_local_connect(l->scheme.p, l->scheme.len, &fd);
	if (ret == -EAGAIN) {
		connecting_set(d, l, true);
		return;
	}
	connecting_set(d, l, false);
	if (ret < 0) {
		lookup_fail(d, l, ret, "cannot reach the protocol service");
		return;
	}
	ret = ipc_add_external(d->ctx, fd);
	if (ret < 0) {
		close(fd);
		lookup_fail(d, l, ret, "cannot watch the protocol service");
		return;
	}
	ret = byfd_set(d, fd, l);
	if (ret < 0) {
		ipc_close_fd(d->ctx, fd);
		lookup_fail(d, l, ret, "out of memory");
		return;
	}
	l->service = fd;
	ret = handshake_send(fd, l->uri, strlen(l->uri), -1);
	if (ret < 0) {
		lookup_fail(d, l, ret, "cannot ask the protocol service");
		return;
	}
	handshake_reader_init(&l->reader, l->reply, sizeof(l->reply));
	l->step = STEP_SERVICE;
}

/* The URI @u (in l->uri) is found: ask its protocol service. */
static void service_ask(struct ipcd *d, struct lookup *l,
			const struct ipc_uri *u)
{
	if (u->scheme.len == strlen(SERVICE_NAME) &&
	    !memcmp(u->scheme.p, SERVICE_NAME, u->scheme.len)) {
		lookup_fail(d, l, EINVAL, "ipc is not a protocol service");
		return;
	}
	/* One time limit for the connection and the reply. */
	l->deadline = daemon_now_ms() + (uint64_t)d->service_timeout;
	/* A URI starts with its scheme. */
	l->scheme.p = l->uri;
	l->scheme.len = u->scheme.len;
	service_try(d, l);
}

/* The protocol service's fd is readable (or hung up). */
static void service_readable(struct ipcd *d, struct lookup *l)
{
	struct ipc_span text;
	char copy[REPLY_MAX + 1];
	int ret = handshake_read_fd(l->service, &l->reader);

	if (ret == 0)
		return;
	if (ret < 0) {
		lookup_fail(d, l, ret == -EMSGSIZE || ret == -EPROTO ? EPROTO :
			    ECONNRESET, "no reply from the protocol service");
		return;
	}
	ret = ipc__reply_parse(l->reply, l->reader.len, &text);
	if (ret == 0) {
		lookup_pass(d, l);
		return;
	}
	memcpy(copy, text.p, text.len);
	copy[text.len] = '\0';
	if (ret == -EPROTO && !text.len)
		strcpy(copy, "bad reply from the protocol service");
	lookup_fail(d, l, ret, copy);
}

/* ------------------------------------------------------------------ */
/* The client's lookup                                                  */
/* ------------------------------------------------------------------ */

/* NAME;RULES: finds the URI and asks its protocol service. */
static void lookup_received(struct ipcd *d, struct lookup *l,
			    const char *msg, size_t len)
{
	const char *semi = memchr(msg, ';', len);
	size_t nlen = semi ? (size_t)(semi - msg) : 0;
	struct ipc_span uri;
	struct ipc_uri u;

	if (l->step != STEP_LOOKUP || !semi ||
	    !ipc__service_name_ok(msg, nlen)) {
		lookup_fail(d, l, EPROTO, "bad lookup");
		return;
	}
	memcpy(l->name, msg, nlen);
	l->name[nlen] = '\0';
	if (!ipc__route_find(semi + 1, len - nlen - 1, msg, nlen, &uri)) {
		lookup_fail(d, l, ENOENT, "no rule for this service");
		return;
	}
	if (ipc__uri_parse(uri.p, uri.len, &u) < 0) {
		lookup_fail(d, l, EINVAL, "bad URI");
		return;
	}
	l->uri = strndup(uri.p, uri.len);
	if (!l->uri) {
		lookup_fail(d, l, ENOMEM, "out of memory");
		return;
	}
	service_ask(d, l, &u);
}

/* ------------------------------------------------------------------ */
/* The event loop                                                       */
/* ------------------------------------------------------------------ */

/*
 * Lookups waiting for a full backlog try again; those whose step is over
 * time fail.
 */
static void timeouts_check(struct ipcd *d)
{
	uint64_t now = daemon_now_ms();
	int fd;

	for (fd = 0; fd < d->nfds; fd++) {
		struct lookup *l = d->byfd[fd];

		if (l && l->client == fd && l->step == STEP_CONNECT)
			service_try(d, l);
		l = d->byfd[fd];
		if (!l || l->client != fd || now < l->deadline)
			continue;
		lookup_fail(d, l, ETIMEDOUT,
			    l->step == STEP_LOOKUP ? "no lookup in time" :
			    l->step == STEP_CONNECT ?
				    "the protocol service is busy" :
				    "the protocol service did not answer");
	}
}

/* The library closed @fd: one side of a lookup went away. */
static void disconnected(struct ipcd *d, int fd)
{
	struct lookup *l = byfd_get(d, fd);

	if (!l)
		return;
	d->byfd[fd] = NULL;
	if (fd == l->client) {
		l->client = -1;
		log_line(l, "client left");
		lookup_end(d, l);
	} else {
		l->service = -1;
		lookup_fail(d, l, ECONNRESET,
			    "the protocol service closed the connection");
	}
}

static void external(struct ipcd *d, int fd)
{
	struct lookup *l = byfd_get(d, fd);

	if (fd == d->signals) {
		d->stop = true;
		return;
	}
	if (l && fd == l->service)
		service_readable(d, l);
}

static void connected(struct ipcd *d, int fd)
{
	if (lookup_new(d, fd) < 0) {
		fprintf(stderr, "ipcd: client dropped: %s\n", strerror(ENOMEM));
		ipc_close_fd(d->ctx, fd);
	}
}

/* A message from a client: its lookup, or one too many. */
static void received(struct ipcd *d, int fd, size_t len)
{
	struct lookup *l = byfd_get(d, fd);

	if (l && fd == l->client)
		lookup_received(d, l, d->buffer, len);
}

static int dispatch(struct ipcd *d, char type, int fd, int newfd,
		    size_t len)
{
	switch (type) {
	case CONNECTION:
		connected(d, newfd);
		break;
	case DISCONNECTION:
		disconnected(d, fd);
		break;
	case MESSAGE_RX:
		received(d, fd, len);
		break;
	case EXTERNAL:
		external(d, fd);
		break;
	case TIMER:
		timeouts_check(d);
		break;
	default:
		break;
	}
	return 0;
}

static int serve(struct ipcd *d)
{
	size_t index, len;
	int fd, newfd, ret;
	char type;

	while (!d->stop) {
		len = LOOKUP_MAX;
		ret = ipc_wait_event(d->ctx, &type, &index, &fd, &newfd,
				     d->buffer, &len);
		if (ret == -EINTR || ret == -ENOMEM)
			continue;
		if (ret < 0)
			return ret;
		dispatch(d, type, fd, newfd, len);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                       */
/* ------------------------------------------------------------------ */

/* Everything the loop needs; reports what failed. */
static int start(struct ipcd *d)
{
	const char *what = "start";
	int ret = -ENOMEM;

	d->buffer = malloc(LOOKUP_MAX);
	if (d->buffer)
		ret = ipc_context_init(&d->ctx);
	if (!ret)
		ret = ipc_context_max_message_size(d->ctx, LOOKUP_MAX);
	if (!ret) {
		d->signals = daemon_signals_watch(d->ctx);
		ret = d->signals < 0 ? d->signals : 0;
	}
	if (!ret) {
		what = "serve \"" SERVICE_NAME "\"";
		ret = ipc_service_init(d->ctx, &d->service, SERVICE_NAME,
				       strlen(SERVICE_NAME));
	}
	if (ret < 0)
		fprintf(stderr, "ipcd: cannot %s: %s\n", what, strerror(-ret));
	return ret;
}

static void stop(struct ipcd *d)
{
	int fd;

	for (fd = 0; fd < d->nfds; fd++) {
		struct lookup *l = d->byfd[fd];

		if (l && l->client == fd)
			lookup_end(d, l);
	}
	ipc_context_deinit(&d->ctx);
	free(d->byfd);
	free(d->buffer);
}

/* ------------------------------------------------------------------ */
/* Command line                                                         */
/* ------------------------------------------------------------------ */

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: ipcd [OPTION]...\n"
		"The lookup daemon of libipc: serves \"ipc\" in the run directory\n"
		"($IPC_RUNDIR, else %s) and hands clients that have\n"
		"IPC_NETWORK set a connection from the protocol service of their\n"
		"route (see ipcd(8)).\n"
		"\n"
		"      --client-timeout=MS   time a client has to send its lookup\n"
		"                            (default %d)\n"
		"      --service-timeout=MS  time a protocol service has to"
		" accept\n"
		"                            and reply (default %d)\n"
		"  -h, --help                show this help and exit\n"
		"  -V, --version             show the version and exit\n",
		IPC_RUNDIR_DEFAULT, CLIENT_TIMEOUT_MS, SERVICE_TIMEOUT_MS);
}

enum { OPT_CLIENT_TIMEOUT = 256, OPT_SERVICE_TIMEOUT };

/* 0 to run, 1 to exit with success, -1 on a usage error. */
static int options(struct ipcd *d, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "client-timeout", required_argument, NULL,
		  OPT_CLIENT_TIMEOUT },
		{ "service-timeout", required_argument, NULL,
		  OPT_SERVICE_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_CLIENT_TIMEOUT:
		case OPT_SERVICE_TIMEOUT:
			if (daemon_ms_parse(optarg, c == OPT_CLIENT_TIMEOUT ?
					    &d->client_timeout :
					    &d->service_timeout) < 0) {
				fprintf(stderr, "ipcd: bad time limit: %s\n",
					optarg);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		case 'V':
			printf("ipcd (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			return 1;
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ipcd: unexpected argument: %s\n", argv[optind]);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct ipcd d = {
		.service = -1,
		.signals = -1,
		.client_timeout = CLIENT_TIMEOUT_MS,
		.service_timeout = SERVICE_TIMEOUT_MS,
	};
	int ret;

	daemon_memory_setup();
	ret = options(&d, argc, argv);
	if (ret)
		return ret > 0 ? EXIT_SUCCESS : 2;
	ret = start(&d);
	if (!ret) {
		fprintf(stderr, "ipcd: serving \"%s\"\n", SERVICE_NAME);
		ret = serve(&d);
		if (ret < 0)
			fprintf(stderr, "ipcd: %s\n", strerror(-ret));
	}
	stop(&d);
	if (!ret)
		fprintf(stderr, "ipcd: stopped\n");
	return ret < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
