/*
 * ipcctl monitor: every frame between a service and its new clients
 * (ipcctl(1)).
 *
 * monitor stands in front of a running service: it hard-links the
 * service's socket to RUNDIR/.SERVICE.monitor, binds its own socket to a
 * temporary name and renames it over RUNDIR/SERVICE (an atomic
 * replacement: a new client always finds one of the two sockets).  Each
 * client it accepts is connected to the real service through the second
 * name and relayed with the switch.  On SIGINT, SIGTERM or SIGHUP it puts
 * the real socket back the same way, unless the service has gone and
 * something else holds the name by then.  The service keeps its socket,
 * its lock and its clients all along.
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
#include "signals.h"
#include "ipcctl.h"

#define PREVIEW_DEFAULT 64
#define MONITOR_SUFFIX ".monitor"
/* The largest message the library takes: monitor must relay any frame
 * (a 32-bit size_t lowers the limit below UINT32_MAX). */
#define MONITOR_MAX_MESSAGE \
	(IPC_SIZE_LIMIT < UINT32_MAX ? IPC_SIZE_LIMIT : UINT32_MAX)

/* ------------------------------------------------------------------ */
/* monitor                                                              */
/* ------------------------------------------------------------------ */

/* One relayed connection: our client and our connection to the service. */
struct relay {
	unsigned long id;
	int client;
	int server;
	bool open;
};

struct monitor {
	const char *service;
	struct sockaddr_un path;	/* RUNDIR/SERVICE */
	struct sockaddr_un aside;	/* RUNDIR/.SERVICE.monitor */
	char *aside_name;		/* .SERVICE.monitor */
	struct stat spy;		/* our socket file, once in place */
	bool in_place;
	void *ctx;
	int listener;
	int signals;			/* signalfd of SIGINT, SIGTERM, SIGHUP */
	unsigned int stops;		/* stop signals received */
	size_t preview;
	bool hex;
	struct relay *relays;
	size_t nrelays;
	size_t open;			/* relays not closed yet */
	unsigned long next_id;
};

/* The stop signals come from a signalfd that the loop watches. */
static int monitor_signals_watch(struct monitor *m)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	m->signals = signals_watch(m->ctx, &set);
	return m->signals < 0 ? m->signals : 0;
}

/*
 * Our socket, bound under a temporary name with the mode and group of
 * the real one, then renamed over RUNDIR/SERVICE.
 */
static int spy_install(struct monitor *m, const struct stat *real)
{
	struct sockaddr_un tmp;
	int fd, ret;

	memset(&tmp, 0, sizeof(tmp));
	tmp.sun_family = AF_UNIX;
	snprintf(tmp.sun_path, sizeof(tmp.sun_path), "%s-new",
		 m->aside.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(tmp.sun_path);
	if (bind(fd, (struct sockaddr *)&tmp, sizeof(tmp)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* As root, the owner too; else the group, where we may. */
	if (lchown(tmp.sun_path, real->st_uid, real->st_gid) < 0 &&
	    lchown(tmp.sun_path, (uid_t)-1, real->st_gid) < 0) {
		/* Our group: the clients the mode allows may differ. */
	}
	if (chmod(tmp.sun_path, real->st_mode & 0777) < 0 ||
	    listen(fd, SOMAXCONN) < 0 || lstat(tmp.sun_path, &m->spy) < 0 ||
	    rename(tmp.sun_path, m->path.sun_path) < 0) {
		ret = -errno;
		unlink(tmp.sun_path);
		close(fd);
		return ret;
	}
	m->listener = fd;
	m->in_place = true;
	return 0;
}

/*
 * Puts the real socket back, unless our socket is no longer the one at
 * RUNDIR/SERVICE: the service went away (and removed it), and a new
 * instance may hold the name by now.
 */
static void monitor_restore(struct monitor *m)
{
	struct stat st;

	if (!m->in_place)
		return;
	m->in_place = false;
	if (lstat(m->path.sun_path, &st) == 0 && st.st_ino == m->spy.st_ino &&
	    st.st_dev == m->spy.st_dev &&
	    rename(m->aside.sun_path, m->path.sun_path) == 0)
		return;
	unlink(m->aside.sun_path);
}

static int monitored_already(const struct monitor *m)
{
	fprintf(stderr, "%s: %s is already monitored (or a monitor was"
		" killed: see ipcctl(1) to put %s back)\n", progname,
		m->service, m->aside.sun_path);
	return EXIT_ERROR;
}

/*
 * Moves the real socket aside (a second link) and puts ours in its place.
 * The real service must answer first: a stale socket is not monitored.
 */
static int monitor_start(struct monitor *m)
{
	struct stat real;
	int ret;

	/* Checked first, so that no test connection goes to the monitor. */
	if (lstat(m->aside.sun_path, &real) == 0)
		return monitored_already(m);
	ret = probe(&m->path, NULL);
	if (ret < 0)
		return service_error(m->service, ret);
	if (lstat(m->path.sun_path, &real) < 0)
		return service_error(m->service, -errno);
	if (link(m->path.sun_path, m->aside.sun_path) < 0) {
		ret = -errno;
		if (ret == -EEXIST)
			return monitored_already(m);
		fprintf(stderr, "%s: %s: cannot link %s: %s\n", progname,
			m->service, m->aside.sun_path, strerror(-ret));
		return status_of(ret);
	}
	ret = spy_install(m, &real);
	if (ret == 0) {
		ret = ipc_add_external(m->ctx, m->listener);
		if (ret < 0) {
			monitor_restore(m);
			close(m->listener);
			m->listener = -1;
		}
	} else {
		unlink(m->aside.sun_path);
	}
	if (ret < 0) {
		fprintf(stderr, "%s: %s: cannot put the monitor in place: %s\n",
			progname, m->service, strerror(-ret));
		return status_of(ret);
	}
	return EXIT_OK;
}

static struct relay *relay_of(struct monitor *m, int fd, bool *from_client)
{
	size_t i;

	for (i = 0; i < m->nrelays; i++) {
		struct relay *r = &m->relays[i];

		if (r->open && (r->client == fd || r->server == fd)) {
			*from_client = r->client == fd;
			return r;
		}
	}
	return NULL;
}

static struct relay *relay_new(struct monitor *m)
{
	struct relay *r;
	size_t i;

	for (i = 0; i < m->nrelays; i++)
		if (!m->relays[i].open)
			return &m->relays[i];
	r = realloc(m->relays, (m->nrelays + 1) * sizeof(*r));
	if (!r)
		return NULL;
	m->relays = r;
	return &m->relays[m->nrelays++];
}

/* Connects one new client to the service through the second name. */
static void relay_open(struct monitor *m, int client)
{
	struct relay *r = relay_new(m);
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int server = -1, ret = -ENOMEM;

	if (r)
		ret = ipc_connect_service(m->ctx, &server, m->aside_name,
					  (uint16_t)strlen(m->aside_name));
	if (ret == 0)
		ret = ipc_add_external(m->ctx, client);
	if (ret == 0)
		ret = ipc_add_switch(m->ctx, client, server);
	if (ret < 0) {
		printf("#%lu cannot reach %s: %s\n", m->next_id + 1,
		       m->service, strerror(-ret));
		if (server >= 0)
			ipc_close_fd(m->ctx, server);
		if (ipc_close_fd(m->ctx, client) < 0)
			close(client);
		return;
	}
	*r = (struct relay){ ++m->next_id, client, server, true };
	m->open++;
	printf("#%lu connected", r->id);
	if (getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		printf(" (client pid %ld, uid %lu)", (long)cred.pid,
		       (unsigned long)cred.uid);
	putchar('\n');
}

static void clients_accept(struct monitor *m)
{
	int fd;

	for (;;) {
		fd = accept4(m->listener, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0)
			return;
		relay_open(m, fd);
	}
}

static void frame_print(struct monitor *m, int fd, const char *buf,
			size_t len)
{
	bool from_client = false;
	struct relay *r = relay_of(m, fd, &from_client);

	if (!r)
		return;
	printf("#%lu %s %zu bytes ", r->id,
	       from_client ? "client > service" : "service > client", len);
	preview_print(buf, len < m->preview ? len : m->preview, len, m->hex);
	putchar('\n');
}

/* Both sides report DISCONNECTION: the first one closes the relay. */
static void relay_closed(struct monitor *m, int fd)
{
	bool from_client = false;
	struct relay *r = relay_of(m, fd, &from_client);

	if (!r)
		return;
	printf("#%lu closed by the %s\n", r->id,
	       from_client ? "client" : "service");
	r->open = false;
	m->open--;
}

/* Stops taking clients; the relayed ones go on until they close. */
static void monitor_stop(struct monitor *m)
{
	monitor_restore(m);
	if (m->listener >= 0) {
		ipc_close_fd(m->ctx, m->listener);
		m->listener = -1;
		fprintf(stderr, "%s: %s restored\n", progname, m->service);
		if (m->open)
			fprintf(stderr, "%s: %zu connection(s) still relayed"
				" until they close (interrupt again to cut"
				" them)\n", progname, m->open);
	}
}

static int monitor_loop(struct monitor *m)
{
	size_t index, len;
	int fd, newfd, ret = 0;
	char type, *buf = malloc(m->preview ? m->preview : 1);

	if (!buf)
		return -ENOMEM;
	while (m->stops < 2 && (m->listener >= 0 || m->open)) {
		if (m->stops)
			monitor_stop(m);
		if (m->listener < 0 && !m->open)
			break;
		len = m->preview;
		ret = ipc_wait_event(m->ctx, &type, &index, &fd, &newfd, buf,
				     &len);
		if (ret == -EINTR)
			continue;
		if (ret < 0)
			break;
		if (type == EXTERNAL && fd == m->listener)
			clients_accept(m);
		else if (type == EXTERNAL && fd == m->signals)
			m->stops += signals_read(fd);
		else if (type == SWITCH_RX)
			frame_print(m, fd, buf, len);
		else if (type == DISCONNECTION)
			relay_closed(m, fd);
		fflush(stdout);
	}
	free(buf);
	return ret < 0 && ret != -EINTR ? ret : 0;
}

static int monitor_setup(struct monitor *m, const char *dir)
{
	size_t len = strlen(m->service) + sizeof(MONITOR_SUFFIX) + 1;
	int ret;

	m->aside_name = malloc(len);
	if (!m->aside_name)
		return service_error(m->service, -ENOMEM);
	snprintf(m->aside_name, len, ".%s%s", m->service, MONITOR_SUFFIX);
	ret = rundir_check(dir);
	if (ret == 0)
		ret = sockaddr_make(&m->path, dir, m->service, "");
	if (ret == 0)
		ret = sockaddr_make(&m->aside, dir, m->aside_name, "");
	/* The temporary name is the longest. */
	if (ret == 0 && strlen(m->aside.sun_path) + 4 >=
			sizeof(m->aside.sun_path))
		ret = -ENAMETOOLONG;
	if (ret < 0)
		return service_error(m->service, ret);
	ret = ipc_context_init(&m->ctx);
	if (ret == 0)
		ret = ipc_context_max_message_size(m->ctx, MONITOR_MAX_MESSAGE);
	if (ret == 0)
		ret = monitor_signals_watch(m);
	if (ret < 0) {
		fprintf(stderr, "%s: cannot set up: %s\n", progname,
			strerror(-ret));
		return EXIT_ERROR;
	}
	return monitor_start(m);
}

static int monitor_parse(int argc, char **argv, struct monitor *m)
{
	static const struct option options[] = {
		{ "preview", required_argument, NULL, 'p' },
		{ "hex", no_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long n;
	int opt;

	while ((opt = getopt_long(argc, argv, "p:xh", options, NULL)) != -1) {
		if (opt == 'p') {
			if (parse_count(optarg, &n) < 0 || n > 65536)
				return usage_error("monitor: bad preview size"
						   " '%s'", optarg);
			m->preview = n;
		} else if (opt == 'x') {
			m->hex = true;
		} else if (opt == 'h') {
			return fputs(usage_text, stdout), -1;
		} else {
			return bad_option("monitor", argv);
		}
	}
	if (optind != argc - 1)
		return usage_error("monitor: %s", "name one service");
	m->service = argv[optind];
	if (name_check(m->service) < 0)
		return usage_error("monitor: invalid service name '%s'",
				   m->service);
	return 0;
}

int cmd_monitor(int argc, char **argv)
{
	struct monitor m = {
		.listener = -1,
		.signals = -1,
		.preview = PREVIEW_DEFAULT,
	};
	char *dir;
	int ret, status;

	ret = monitor_parse(argc, argv, &m);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	dir = rundir_get();
	/* Lines as they come, also into a pipe. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	status = monitor_setup(&m, dir);
	if (status == EXIT_OK) {
		fprintf(stderr, "%s: monitoring %s (the service's socket is"
			" linked as %s until interrupted)\n", progname,
			m.service, m.aside.sun_path);
		ret = monitor_loop(&m);
		if (ret < 0) {
			fprintf(stderr, "%s: %s: %s\n", progname, m.service,
				strerror(-ret));
			status = EXIT_ERROR;
		}
	}
	monitor_restore(&m);
	ipc_context_deinit(&m.ctx);
	free(m.relays);
	free(m.aside_name);
	free(dir);
	return status;
}
