/*
 * ipc-sshd - the ssh protocol service of libipc.
 *
 * Usage: ipc-sshd [--ssh PATH] [--ssh-config FILE] [--ssh-option OPT]...
 *                 [--remote-command CMD] [OPTION]...
 *
 * A client of the libipc service "ssh" (ipcd) sends a URI
 * ssh://[USER@]HOST[:PORT]/SERVICE; ipc-sshd runs OpenSSH's client,
 *   ssh -T -o BatchMode=yes ... HOST ipcctl bridge 'SERVICE'
 * whose stdin and stdout are one end of a socketpair, the other end ours.
 * The remote bridge (ipcctl(1)) writes one status frame, "ok" once it
 * reached SERVICE or an error; ipc-sshd reads exactly that frame from its
 * end and passes an error on, or replies "ok" with its end of the
 * socketpair attached (SCM_RIGHTS), which ipcd hands to the client
 * instead of its connection to us (doc/network.md, section 2).  From then
 * on the client reads and writes ssh's socket itself: no relay of ours on
 * the data path, and nothing of the connection left here but the ssh
 * process (reaped) and its stderr (logged).  The status is read by us,
 * not by the client, so that every failure (ssh's stderr, its exit
 * status, our time limit) maps to its errno before the client holds
 * anything; starting ssh on the client's own socket would deliver the
 * bridge's status to ipcd directly, but then a failure of ssh before the
 * status could not be told from one after it.  When ssh fails before the
 * status frame, what its stderr said (else its exit status) gives the
 * error (doc/network.md).  ssh's stderr goes to ipc-sshd's log only.
 *
 * Clients of one destination share one SSH connection (ControlMaster=auto
 * with ControlPath in a private directory of ours, one socket per
 * destination): while the first ssh of a destination sets the connection
 * up, the others wait for it, and then each costs a session on the
 * shared connection.  ipc-sshd is the subreaper of its ssh children, so
 * the backgrounded masters stay its children too: every process is
 * reaped (SIGCHLD through a signalfd) and stopped when ipc-sshd stops.
 *
 * Everything runs in one event loop and nothing in it blocks.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libipc.h>

#include "daemon.h"
#include "handshake.h"
#include "ipc-sshd.h"
#include "network.h"
#include "signals.h"

#define DEFAULT_SERVICE "ssh"
#define DEFAULT_SSH "ssh"
#define DEFAULT_REMOTE_COMMAND "ipcctl"
/* Below ipcd's 10 s for a protocol service's reply (doc/network.md). */
#define DEFAULT_TIMEOUT_MS 8000
#define DEFAULT_PERSIST_S 60
#define PERSIST_MAX_S 86400
/* How long stop() waits for the children, then SIGKILL. */
#define STOP_WAIT_MS 3000
/* A ControlPath and ssh's temporary name beside it must fit sun_path. */
#define CONTROL_DIR_MAX 72

struct sshd {
	struct options opt;
	void *ctx;
	int signalfd;
	char control_dir[PATH_MAX];
	bool own_dir;			/* made by us: removed at stop */
	struct child *children;
	struct host **hosts;
	size_t nhosts;
	unsigned int tick_ms;
	bool timer_on;
	bool stop;
};

/* A client whose URI has not come yet. */
enum { CHILD_REQUEST = CHILD_ENDED + 1 };

/* ------------------------------------------------------------------ */
/* Children                                                             */
/* ------------------------------------------------------------------ */

static struct child *child_by_fd(struct sshd *d, int fd)
{
	struct child *c;

	for (c = d->children; c; c = c->next)
		if (c->client == fd || c->sock == fd || c->err == fd)
			return c;
	return NULL;
}

static void timer_update(struct sshd *d)
{
	bool on = d->children != NULL;

	if (on != d->timer_on) {
		d->timer_on = on;
		ipc_context_timer(d->ctx, on ? (int)d->tick_ms : 0);
	}
}

/* Frees @c once nothing of it is left: no fd, no process. */
static void child_maybe_free(struct sshd *d, struct child *c)
{
	struct child **p;

	if (c->client >= 0 || c->sock >= 0 || c->err >= 0 || c->pid > 0)
		return;
	for (p = &d->children; *p; p = &(*p)->next) {
		if (*p == c) {
			*p = c->next;
			break;
		}
	}
	if (c->host && c->host->starting == c)
		c->host->starting = NULL;
	free(c);
	timer_update(d);
}

static void fd_close(struct sshd *d, int *fd)
{
	int f = *fd;

	if (f >= 0) {
		*fd = -1;
		ipc_close_fd(d->ctx, f);
	}
}

static void send_error(struct sshd *d, int fd, int err, const char *text)
{
	char reply[STATUS_MAX];
	int len = ipc__reply_format(reply, sizeof(reply), err, text);

	/* Closing gives it one write attempt: the socket takes it whole. */
	if (len > 0)
		(void)ipc_schedule(d->ctx, fd, reply, (size_t)len);
}

static void host_release(struct sshd *d, struct host *h, int err);

/*
 * @c's handshake failed: its client gets the error and is closed, its
 * ssh is stopped (and reaped later).
 */
static void child_fail(struct sshd *d, struct child *c, int err,
		       const char *text)
{
	struct host *h = c->host;

	log_line("%s%s%s -> %s: %s %s", h && h->user[0] ? h->user : "",
		 h && h->user[0] ? "@" : "", h ? h->name : "?", c->service,
		 ipc__errno_name(err), text);
	if (c->client >= 0) {
		send_error(d, c->client, err, text);
		fd_close(d, &c->client);
	}
	fd_close(d, &c->sock);
	if (c->pid > 0)
		kill(c->pid, SIGTERM);
	c->state = CHILD_ENDED;
	if (h && h->starting == c) {
		h->starting = NULL;
		host_release(d, h, err);
	}
	child_maybe_free(d, c);
}

/* ------------------------------------------------------------------ */
/* Destinations and their shared connection                             */
/* ------------------------------------------------------------------ */

/* The master of @h listens on its ControlPath. */
static bool master_up(const struct sshd *d, const struct host *h)
{
	char path[CONTROL_DIR_MAX + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%.*s/%u", CONTROL_DIR_MAX,
		 d->control_dir, h->index);
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static struct host *host_get(struct sshd *d, const char *user,
			     const char *name, const char *port)
{
	struct host **hosts, *h;
	size_t i;

	for (i = 0; i < d->nhosts; i++) {
		h = d->hosts[i];
		if (!strcmp(h->user, user) && !strcmp(h->name, name) &&
		    !strcmp(h->port, port))
			return h;
	}
	hosts = realloc(d->hosts, (d->nhosts + 1) * sizeof(*hosts));
	if (!hosts)
		return NULL;
	d->hosts = hosts;
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	strcpy(h->user, user);
	strcpy(h->name, name);
	strcpy(h->port, port);
	h->index = (unsigned int)d->nhosts;
	hosts[d->nhosts++] = h;
	return h;
}

/* Runs ssh for @c, or queues it behind its host's first ssh. */
static void child_start(struct sshd *d, struct child *c)
{
	struct host *h = c->host;
	char **argv;
	int ret;

	if (!master_up(d, h)) {
		if (h->starting && h->starting != c) {
			c->state = CHILD_QUEUED;
			return;
		}
		h->starting = c;
	}
	argv = sshd_command(&d->opt, d->control_dir, c);
	ret = argv ? child_spawn(d->ctx, c, argv) : -ENOMEM;
	free(argv);
	if (ret < 0) {
		child_fail(d, c, -ret, "cannot run ssh");
		return;
	}
	c->state = CHILD_STARTING;
}

/*
 * The first ssh of @h is done: the others go, or fail as it did when it
 * could not connect (@err).
 */
static void host_release(struct sshd *d, struct host *h, int err)
{
	struct child *c, *next;

	for (c = d->children; c; c = next) {
		next = c->next;
		if (c->host != h || c->state != CHILD_QUEUED)
			continue;
		if (err && !master_up(d, h))
			child_fail(d, c, err, "the connection failed");
		else
			child_start(d, c);
	}
}

/* ------------------------------------------------------------------ */
/* Requests and status frames                                           */
/* ------------------------------------------------------------------ */

static void child_request(struct sshd *d, struct child *c, const char *uri,
			  size_t len)
{
	char user[USER_MAX], name[HOST_MAX], port[8];

	if ((int)c->state != CHILD_REQUEST) {
		child_fail(d, c, EPROTO, "one request per connection");
		return;
	}
	if (sshd_uri_parse(uri, len, user, name, port, c->service) < 0) {
		child_fail(d, c, EINVAL, "bad URI");
		return;
	}
	c->host = host_get(d, user, name, port);
	if (!c->host) {
		child_fail(d, c, ENOMEM, "out of memory");
		return;
	}
	child_start(d, c);
}

/* The bridge's status frame is whole: switch, or pass its error on. */
static void child_status(struct sshd *d, struct child *c)
{
	struct host *h = c->host;
	struct ipc_span text;
	char shown[STATUS_MAX];
	int ret = ipc__reply_parse(c->status, c->reader.len, &text);

	if (h->starting == c) {
		/* A status came through: the connection works. */
		h->starting = NULL;
		host_release(d, h, 0);
	}
	if (ret < 0) {
		snprintf(shown, sizeof(shown), "%.*s", (int)text.len, text.p);
		child_fail(d, c, -ret, text.len ? shown : "bad status");
		return;
	}
	/*
	 * The client gets ssh's socket itself, with the "ok" (ipcd passes
	 * it on): from then on it talks to ssh, and we hold nothing of the
	 * connection but the ssh process and its stderr.
	 */
	ret = handshake_send(c->client, "ok", 2, c->sock);
	if (ret < 0) {
		child_fail(d, c, -ret, strerror(-ret));
		return;
	}
	log_line("%s%s%s -> %s: ok (pid %ld)", h->user, h->user[0] ? "@" : "",
		 h->name, c->service, (long)c->pid);
	c->state = CHILD_HANDED;
	fd_close(d, &c->client);
	fd_close(d, &c->sock);
}

static void child_sock_readable(struct sshd *d, struct child *c)
{
	int ret = handshake_read(c->sock, &c->reader);

	if (ret == 0)
		return;
	if (ret > 0) {
		child_status(d, c);
		return;
	}
	if (ret == -EMSGSIZE) {
		child_fail(d, c, EPROTO, "bad status from the remote bridge");
		return;
	}
	/* ssh ended first: its exit status and stderr tell why. */
	fd_close(d, &c->sock);
	c->state = CHILD_ENDED;
	if (c->pid == 0)
		child_fail(d, c, child_errno(c), c->line[0] ? c->line :
			   "ssh failed");
}

/* ------------------------------------------------------------------ */
/* Signals                                                              */
/* ------------------------------------------------------------------ */

static struct child *child_by_pid(struct sshd *d, pid_t pid)
{
	struct child *c;

	for (c = d->children; c; c = c->next)
		if (c->pid == pid)
			return c;
	return NULL;
}

static void reaped(struct sshd *d, pid_t pid, int status)
{
	struct child *c = child_by_pid(d, pid);

	if (!c) {
		/*
		 * A shared connection's master, backgrounded by ssh (we are
		 * its subreaper), or the short-lived parent it left.
		 */
		log_line("ssh (pid %ld) of a shared connection ended",
			 (long)pid);
		return;
	}
	c->pid = 0;
	c->wstatus = status;
	/* Everything ssh wrote is in the pipe now. */
	if (c->err >= 0 && child_stderr(c))
		fd_close(d, &c->err);
	/*
	 * A child still STARTING may have its status in the socket: it is
	 * read first, and the end of file then fails it.
	 */
	if (c->state == CHILD_ENDED && c->sock < 0 && c->client >= 0)
		child_fail(d, c, child_errno(c),
			   c->line[0] ? c->line : "ssh failed");
	else
		child_maybe_free(d, c);
}

static void reap_all(struct sshd *d)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		reaped(d, pid, status);
}

static void signals_ready(struct sshd *d)
{
	struct signalfd_siginfo si;

	while (read(d->signalfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			continue;
		log_line("stopping on signal %u", si.ssi_signo);
		d->stop = true;
	}
	reap_all(d);
}

/* ------------------------------------------------------------------ */
/* Events                                                               */
/* ------------------------------------------------------------------ */

static void client_connected(struct sshd *d, int fd)
{
	struct child *c = calloc(1, sizeof(*c));

	if (!c) {
		log_line("dropped a client: out of memory");
		ipc_close_fd(d->ctx, fd);
		return;
	}
	c->state = (enum child_state)CHILD_REQUEST;
	c->client = fd;
	c->sock = c->err = -1;
	c->deadline_ms = daemon_now_ms() + d->opt.timeout_ms;
	handshake_reader_init(&c->reader, c->status, sizeof(c->status));
	c->next = d->children;
	d->children = c;
	timer_update(d);
}

static void external_readable(struct sshd *d, int fd)
{
	struct child *c;

	if (fd == d->signalfd) {
		signals_ready(d);
		return;
	}
	c = child_by_fd(d, fd);
	if (!c)
		return;
	if (fd == c->err) {
		if (child_stderr(c))
			fd_close(d, &c->err);
		child_maybe_free(d, c);
	} else if (fd == c->sock && c->state == CHILD_STARTING) {
		child_sock_readable(d, c);
	}
}

/* The library closed @fd (DISCONNECTION). */
static void fd_gone(struct sshd *d, int fd)
{
	struct child *c = child_by_fd(d, fd);

	if (!c)
		return;
	if (fd == c->err) {
		c->err = -1;
	} else if (fd == c->client) {
		/* The requester went away during the handshake. */
		c->client = -1;
		if (c->state == CHILD_STARTING && c->host->starting == c) {
			/* Let the first ssh finish: the others wait on it. */
		} else {
			fd_close(d, &c->sock);
			if (c->pid > 0)
				kill(c->pid, SIGTERM);
		}
	} else if (fd == c->sock) {
		c->sock = -1;
		c->state = CHILD_ENDED;
		if (c->pid == 0 && c->client >= 0) {
			/* Frees c when nothing of it is left. */
			child_fail(d, c, child_errno(c), "ssh failed");
			return;
		}
	}
	child_maybe_free(d, c);
}

static void check_deadlines(struct sshd *d)
{
	uint64_t now = daemon_now_ms();
	struct child *c, *next;

	for (c = d->children; c; c = next) {
		next = c->next;
		if (c->deadline_ms > now || c->state == CHILD_HANDED)
			continue;
		if (c->client < 0) {
			if (c->pid > 0)
				kill(c->pid, SIGTERM);
			fd_close(d, &c->sock);
			c->deadline_ms = UINT64_MAX;
			if (c->host && c->host->starting == c) {
				c->host->starting = NULL;
				host_release(d, c->host, 0);
			}
			child_maybe_free(d, c);
		} else {
			child_fail(d, c, ETIMEDOUT, "timed out");
		}
	}
}

static void handle_event(struct sshd *d, char type, int fd, int newfd,
			 const char *buf, size_t len)
{
	struct child *c;

	switch (type) {
	case CONNECTION:
		client_connected(d, newfd);
		break;
	case MESSAGE_RX:
		c = child_by_fd(d, fd);
		if (c && c->client == fd && c->state != CHILD_HANDED)
			child_request(d, c, buf, len);
		break;
	case EXTERNAL:
		external_readable(d, fd);
		break;
	case DISCONNECTION:
		fd_gone(d, fd);
		break;
	case TIMER:
		/*
		 * SIGCHLD normally reaps; the ticks also do, for a signal
		 * that never reached the signalfd (valgrind takes signals
		 * itself and may not leave them pending).
		 */
		reap_all(d);
		check_deadlines(d);
		break;
	default:		/* MESSAGE_TX, SWITCH_RX, SWITCH_TX */
		break;
	}
}

static int serve(struct sshd *d)
{
	char buf[REQUEST_MAX];
	int ret;

	while (!d->stop) {
		size_t index, len = sizeof(buf);
		int fd, newfd;
		char type;

		ret = ipc_wait_event(d->ctx, &type, &index, &fd, &newfd, buf,
				     &len);
		if (ret == -EMSGSIZE) {
			struct child *c = child_by_fd(d, fd);

			if (c && c->client == fd)
				child_fail(d, c, EMSGSIZE, "too long");
			else
				ipc_close_fd(d->ctx, fd);
			continue;
		}
		if (ret == -EINTR || ret == -ENOMEM)
			continue;
		if (ret < 0)
			return ret;
		handle_event(d, type, fd, newfd, buf, len);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Start and stop                                                       */
/* ------------------------------------------------------------------ */

/* Sends @sig to every child process of ours (ssh, backgrounded masters). */
static unsigned int signal_children(int sig)
{
	DIR *proc = opendir("/proc");
	pid_t self = getpid();
	unsigned int n = 0;
	struct dirent *e;

	if (!proc)
		return 0;
	while ((e = readdir(proc))) {
		char path[64], stat[512], *p;
		long pid = strtol(e->d_name, &p, 10), ppid;
		FILE *f;

		if (*p || pid <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		p = fgets(stat, sizeof(stat), f) ? strrchr(stat, ')') : NULL;
		fclose(f);
		if (p && sscanf(p, ") %*c %ld", &ppid) == 1 && ppid == self) {
			kill((pid_t)pid, sig);
			n++;
		}
	}
	closedir(proc);
	return n;
}

/* Stops every child and waits for it, at most STOP_WAIT_MS each round. */
static void children_stop(struct sshd *d)
{
	uint64_t end = daemon_now_ms() + STOP_WAIT_MS;
	int sig = SIGTERM;
	pid_t pid;
	int status;

	while (signal_children(sig) > 0) {
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
			reaped(d, pid, status);
		if (pid < 0)
			break;
		if (daemon_now_ms() > end)
			sig = SIGKILL;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		reaped(d, pid, status);
}

static int control_dir_make(struct sshd *d)
{
	const char *tmp = getenv("TMPDIR");

	if (d->opt.control_dir) {
		if (strlen(d->opt.control_dir) > CONTROL_DIR_MAX)
			return -ENAMETOOLONG;
		strcpy(d->control_dir, d->opt.control_dir);
		return 0;
	}
	if (!tmp || !*tmp || strlen(tmp) > CONTROL_DIR_MAX - 16)
		tmp = "/tmp";
	snprintf(d->control_dir, sizeof(d->control_dir), "%s/ipc-sshd.XXXXXX",
		 tmp);
	if (!mkdtemp(d->control_dir))
		return -errno;
	d->own_dir = true;
	return 0;
}

static void control_dir_remove(struct sshd *d)
{
	DIR *dir;
	struct dirent *e;
	char path[PATH_MAX];

	if (!d->own_dir)
		return;
	dir = opendir(d->control_dir);
	while (dir && (e = readdir(dir))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", d->control_dir,
			 e->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	rmdir(d->control_dir);
}

static int start_failed(const char *what, const char *arg, int err)
{
	fprintf(stderr, PROGRAM ": cannot %s%s%s: %s\n", what, arg ? " " : "",
		arg ? arg : "", strerror(-err));
	return err;
}

static int start(struct sshd *d)
{
	sigset_t set;
	int servicefd, ret;

	/* Backgrounded ssh masters become our children: we reap them. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
		return start_failed("become a subreaper", NULL, -errno);
	ret = ipc_context_init(&d->ctx);
	if (ret < 0)
		return start_failed("create a context", NULL, ret);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	d->signalfd = signals_watch(d->ctx, &set);
	if (d->signalfd < 0)
		return start_failed("watch signals", NULL, d->signalfd);
	ret = control_dir_make(d);
	if (ret < 0)
		return start_failed("make the control directory",
				    d->opt.control_dir, ret);
	/* The service comes last: its socket says that all is ready. */
	ret = ipc_service_init(d->ctx, &servicefd, d->opt.service,
			       (uint16_t)strlen(d->opt.service));
	if (ret < 0)
		return start_failed("start service", d->opt.service, ret);
	log_line("service %s, ssh %s, connections shared in %s",
		 d->opt.service, d->opt.ssh, d->control_dir);
	return 0;
}

static void stop(struct sshd *d)
{
	struct child *c;
	size_t i;

	for (c = d->children; c; c = c->next) {
		fd_close(d, &c->client);
		fd_close(d, &c->sock);
		fd_close(d, &c->err);
	}
	children_stop(d);
	while (d->children) {
		c = d->children;
		d->children = c->next;
		free(c);
	}
	for (i = 0; i < d->nhosts; i++)
		free(d->hosts[i]);
	free(d->hosts);
	ipc_context_deinit(&d->ctx);
	if (d->control_dir[0])
		control_dir_remove(d);
}

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROGRAM " [--ssh PATH] [--ssh-config FILE]"
		" [--ssh-option OPTION]...\n"
		"                [--remote-command CMD] [--service NAME]"
		" [--timeout MS] [--persist S]\n"
		"                [--control-dir DIR]\n"
		"Reaches libipc services on other hosts through OpenSSH"
		" (see ipc-sshd(8)).\n"
		"  -S, --ssh PATH            the ssh client (default "
		DEFAULT_SSH ", found in PATH)\n"
		"  -F, --ssh-config FILE     ssh's configuration file"
		" (ssh -F)\n"
		"  -o, --ssh-option OPTION   an ssh option (ssh -o;"
		" repeatable)\n"
		"  -r, --remote-command CMD  ipcctl on the remote hosts"
		" (default " DEFAULT_REMOTE_COMMAND ";\n"
		"                            a shell command, run as"
		" CMD bridge SERVICE)\n"
		"  -s, --service NAME        libipc service name (default "
		DEFAULT_SERVICE ")\n"
		"  -t, --timeout MS          time limit of a connection"
		" (default %d)\n"
		"  -p, --persist S           a shared connection outlives its"
		" last client\n"
		"                            by S seconds (default %d)\n"
		"  -c, --control-dir DIR     where the shared connections'"
		" sockets go\n"
		"                            (default: a new private"
		" directory in $TMPDIR)\n"
		"  -h, --help                show this help and exit\n"
		"  -V, --version             show the version and exit\n",
		DEFAULT_TIMEOUT_MS, DEFAULT_PERSIST_S);
}

static int option_add(struct options *o, const char *opt)
{
	const char **p = realloc(o->ssh_options,
				 (o->nssh_options + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	o->ssh_options = p;
	p[o->nssh_options++] = opt;
	return 0;
}

/* 0 to run, 1 when done (--help, --version), 2 on a usage error. */
static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "ssh", required_argument, NULL, 'S' },
		{ "ssh-config", required_argument, NULL, 'F' },
		{ "ssh-option", required_argument, NULL, 'o' },
		{ "remote-command", required_argument, NULL, 'r' },
		{ "service", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "persist", required_argument, NULL, 'p' },
		{ "control-dir", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c, ret = 0;

	o->service = DEFAULT_SERVICE;
	o->ssh = DEFAULT_SSH;
	o->remote_command = DEFAULT_REMOTE_COMMAND;
	o->timeout_ms = DEFAULT_TIMEOUT_MS;
	o->persist_s = DEFAULT_PERSIST_S;
	while (ret == 0 &&
	       (c = getopt_long(argc, argv, "S:F:o:r:s:t:p:c:hV", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'S':
			o->ssh = optarg;
			break;
		case 'F':
			o->config = optarg;
			break;
		case 'o':
			ret = option_add(o, optarg);
			break;
		case 'r':
			o->remote_command = optarg;
			if (!*optarg)
				ret = -EINVAL;
			break;
		case 's':
			o->service = optarg;
			if (!ipc__service_name_ok(optarg, strlen(optarg)))
				ret = -EINVAL;
			break;
		case 't':
			ret = daemon_ms_parse(optarg, &o->timeout_ms);
			break;
		case 'p':
			ret = daemon_count_parse(optarg, PERSIST_MAX_S,
						 &o->persist_s);
			break;
		case 'c':
			o->control_dir = optarg;
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

int main(int argc, char **argv)
{
	struct sshd d = { .signalfd = -1 };
	int ret;

	daemon_memory_setup();
	ret = parse_args(argc, argv, &d.opt);
	if (ret != 0) {
		free(d.opt.ssh_options);
		return ret == 1 ? 0 : 2;
	}
	/* Like ipcd, ipc-sshd never routes its own connections. */
	unsetenv("IPC_NETWORK");
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
	free(d.opt.ssh_options);
	return ret < 0 ? 1 : 0;
}
