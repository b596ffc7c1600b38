/*
 * ipcctl - list, call, wait for and watch the services of a libipc run
 * directory.
 *
 * Usage: ipcctl list [--json]
 *        ipcctl send [OPTIONS] SERVICE [MESSAGE]
 *        ipcctl wait [--timeout S] SERVICE
 *        ipcctl monitor [OPTIONS] SERVICE
 *
 * doc/man/ipcctl.1 describes each command and the exit statuses.
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

/* Exit statuses (doc/man/ipcctl.1). */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1,		/* any other failure */
	EXIT_USAGE = 2,		/* bad arguments or input */
	EXIT_NO_SERVICE = 3,	/* no such service */
	EXIT_REFUSED = 4,	/* a socket no one listens on (stale) */
	EXIT_TIMEOUT = 5,	/* the timeout expired */
	EXIT_CLOSED = 6,	/* the service closed before all replies */
	EXIT_DENIED = 7,	/* permission denied, unsafe run directory */
};

#define SEND_TIMEOUT_DEFAULT_MS 5000
#define WAIT_TIMEOUT_DEFAULT_MS 30000
#define WAIT_POLL_MS 100
#define PREVIEW_DEFAULT 64
#define MONITOR_SUFFIX ".monitor"

static const char *progname = "ipcctl";

static const char usage_text[] =
	"Usage: ipcctl [--help | --version] COMMAND [OPTIONS] [ARGS]\n"
	"\n"
	"Commands:\n"
	"  list [--json]                  the services of the run directory\n"
	"  send [OPTIONS] SERVICE [MSG]   send MSG (or -f FILE, or stdin),\n"
	"                                 print the replies\n"
	"      -f, --file FILE            send the contents of FILE\n"
	"      -n, --count N              stop after N replies (default 1;\n"
	"                                 0: until the service closes)\n"
	"      -t, --timeout S            give up after S seconds (default 5;\n"
	"                                 0: never)\n"
	"      -r, --raw                  write the replies' bytes unchanged\n"
	"      -x, --hex                  always print a hex dump\n"
	"  wait [-t S] SERVICE            return once SERVICE accepts\n"
	"                                 connections (default 30 s; 0: never)\n"
	"  monitor [OPTIONS] SERVICE      stand in front of SERVICE and print\n"
	"                                 every frame until interrupted\n"
	"      -p, --preview BYTES        bytes of payload shown (default 64)\n"
	"      -x, --hex                  show the payloads in hex\n"
	"\n"
	"The run directory is $IPC_RUNDIR, else " IPC_RUNDIR_DEFAULT ".\n"
	"Exit status: 0 success, 1 error, 2 usage, 3 no such service,\n"
	"4 refused (stale socket), 5 timeout, 6 closed before all replies,\n"
	"7 permission denied or unsafe run directory.  See ipcctl(1).\n";

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ipcctl --help'.\n");
	return EXIT_USAGE;
}

/* getopt_long() returned '?': an unknown option or a missing value. */
static int bad_option(const char *command, char **argv)
{
	return usage_error("%s: unknown option or missing value: '%s'",
			   command, argv[optind - 1]);
}

/* ------------------------------------------------------------------ */
/* Run directory, names, errors                                         */
/* ------------------------------------------------------------------ */

/*
 * The run directory and the name rules are the library's own: ipcctl is
 * built with lib/rundir.c (ipc__rundir_get(), ipc__rundir_check(),
 * ipc__service_name_check()).
 */
static char *rundir_get(void)
{
	char *dir = ipc__rundir_get();

	if (!dir) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(EXIT_ERROR);
	}
	return dir;
}

static int name_check(const char *name)
{
	size_t len = strlen(name);

	if (len > UINT16_MAX)
		return -EINVAL;
	return ipc__service_name_check(name, (uint16_t)len);
}

/* The checks of the library for a directory it reads: 0 or -errno. */
static int rundir_check(const char *dir)
{
	return ipc__rundir_check(dir, false);
}

/* The exit status for an error reaching a service. */
static int status_of(int err)
{
	switch (err) {
	case -ENOENT:
		return EXIT_NO_SERVICE;
	case -ECONNREFUSED:
		return EXIT_REFUSED;
	case -EACCES:
	case -EPERM:
	case -ELOOP:
	case -ENOTDIR:
		return EXIT_DENIED;
	case -EINVAL:
	case -ENAMETOOLONG:
	case -EMSGSIZE:
		return EXIT_USAGE;
	default:
		return EXIT_ERROR;
	}
}

/* One line on stderr saying why SERVICE cannot be reached. */
static int service_error(const char *service, int err)
{
	const char *why;

	switch (err) {
	case -ENOENT:
		why = "no such service";
		break;
	case -ECONNREFUSED:
		why = "refused: a stale socket, no process listens on it";
		break;
	case -ELOOP:
		why = "unsafe run directory: it is a symbolic link";
		break;
	case -EPERM:
		why = "unsafe run directory: writable by others or owned by"
		      " another user";
		break;
	case -EINVAL:
		why = "invalid service name";
		break;
	case -ENAMETOOLONG:
		why = "the socket path is too long";
		break;
	default:
		why = strerror(-err);
		break;
	}
	fprintf(stderr, "%s: %s: %s\n", progname, service, why);
	return status_of(err);
}

/* "dir/name" in sa; -ENAMETOOLONG when it does not fit. */
static int sockaddr_make(struct sockaddr_un *sa, const char *dir,
			 const char *name, const char *suffix)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s%s", dir,
		     name, suffix);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	return 0;
}

/*
 * A non-blocking test connection: 0 with the connected fd in *fdp, 1
 * when the listener's backlog is full (it listens, but is busy), or a
 * negative errno.
 */
static int probe(const struct sockaddr_un *sa, int *fdp)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0)
		ret = errno == EAGAIN ? 1 : -errno;
	if (ret != 0 || !fdp)
		close(fd);
	else
		*fdp = fd;
	return ret;
}

/* Seconds as "S" or "S.FFF", into milliseconds (0..INT_MAX). */
static int parse_seconds(const char *arg, int *ms)
{
	char *end;
	double s;

	errno = 0;
	s = strtod(arg, &end);
	if (errno || end == arg || *end || !(s >= 0) ||
	    s * 1000 > INT_MAX)
		return -EINVAL;
	*ms = (int)(s * 1000 + 0.5);
	if (s > 0 && *ms == 0)
		*ms = 1;
	return 0;
}

static int parse_count(const char *arg, unsigned long *n)
{
	char *end;

	errno = 0;
	*n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || !isdigit((unsigned char)arg[0]))
		return -EINVAL;
	return 0;
}

/* The monotonic clock in milliseconds. */
static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ */
/* Printing payloads                                                    */
/* ------------------------------------------------------------------ */

/* Length of the UTF-8 sequence at p (1 to 4 bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	size_t n, i;

	if (p[0] < 0xc2 || p[0] > 0xf4)
		return 0;
	n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
	if (n > left)
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Printable text: UTF-8 without control characters but tab and newline. */
static bool is_text(const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0, n;

	while (i < len) {
		if (p[i] >= 0x80) {
			n = utf8_len(p + i, len - i);
			if (!n)
				return false;
			i += n;
			continue;
		}
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\n') ||
		    p[i] == 0x7f)
			return false;
		i++;
	}
	return true;
}

/* hexdump -C style: offset, 16 bytes in hex, the printable ones. */
static void hex_dump(const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t off, i;

	for (off = 0; off < len; off += 16) {
		printf("%08zx ", off);
		for (i = 0; i < 16; i++) {
			if (i == 8)
				putchar(' ');
			if (off + i < len)
				printf(" %02x", p[off + i]);
			else
				fputs("   ", stdout);
		}
		fputs("  |", stdout);
		for (i = 0; i < 16 && off + i < len; i++)
			putchar(isprint(p[off + i]) ? p[off + i] : '.');
		puts("|");
	}
	printf("%08zx\n", len);
}

enum print_mode { PRINT_AUTO, PRINT_RAW, PRINT_HEX };

static void payload_print(const char *data, size_t len, enum print_mode mode)
{
	if (mode == PRINT_RAW) {
		fwrite(data, 1, len, stdout);
	} else if (mode == PRINT_HEX || !is_text(data, len)) {
		hex_dump(data, len);
	} else {
		fwrite(data, 1, len, stdout);
		if (!len || data[len - 1] != '\n')
			putchar('\n');
	}
}

/* A short, quoted, escaped preview for the monitor's lines. */
static void preview_print(const char *data, size_t shown, size_t len,
			  bool hex)
{
	const unsigned char *p = (const unsigned char *)data;
	size_t i;

	if (hex) {
		for (i = 0; i < shown; i++)
			printf("%s%02x", i ? " " : "", p[i]);
	} else {
		putchar('"');
		for (i = 0; i < shown; i++) {
			if (p[i] == '"' || p[i] == '\\')
				printf("\\%c", p[i]);
			else if (p[i] == '\n')
				fputs("\\n", stdout);
			else if (p[i] == '\t')
				fputs("\\t", stdout);
			else if (p[i] < 0x20 || p[i] >= 0x7f)
				printf("\\x%02x", p[i]);
			else
				putchar(p[i]);
		}
		putchar('"');
	}
	if (shown < len)
		fputs("...", stdout);
}

/* A name on a terminal: bytes that are not printable ASCII escaped. */
static void name_print(FILE *f, const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	for (; *p; p++) {
		if (*p < 0x20 || *p >= 0x7f || *p == '\\')
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static void json_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putchar('"');
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

/* ------------------------------------------------------------------ */
/* list                                                                 */
/* ------------------------------------------------------------------ */

struct entry {
	const char *name;
	const char *state;	/* alive, busy, stale, denied, unknown */
	bool creds;		/* pid and uid known */
	pid_t pid;
	uid_t uid;
	mode_t mode;
};

static void entry_probe(const char *dir, struct entry *e)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd = -1, ret;

	ret = sockaddr_make(&sa, dir, e->name, "");
	if (ret == 0)
		ret = probe(&sa, &fd);
	if (ret == 0) {
		e->state = "alive";
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
			       &len) == 0) {
			e->creds = true;
			e->pid = cred.pid;
			e->uid = cred.uid;
		}
		close(fd);
	} else if (ret == 1) {
		e->state = "busy";
	} else if (ret == -ECONNREFUSED || ret == -ENOENT) {
		e->state = "stale";
	} else if (ret == -EACCES || ret == -EPERM) {
		e->state = "denied";
	} else {
		e->state = "unknown";
	}
}

static void entry_print(const struct entry *e, bool json, bool first)
{
	if (json) {
		printf("%s\n  {\"name\": ", first ? "" : ",");
		json_string(e->name);
		printf(", \"state\": \"%s\", ", e->state);
		if (e->creds)
			printf("\"pid\": %ld, \"uid\": %lu, ", (long)e->pid,
			       (unsigned long)e->uid);
		else
			fputs("\"pid\": null, \"uid\": null, ", stdout);
		printf("\"mode\": \"%04o\"}", (unsigned int)e->mode);
		return;
	}
	printf("%-7s ", e->state);
	if (e->creds)
		printf("%7ld %7lu ", (long)e->pid, (unsigned long)e->uid);
	else
		printf("%7s %7s ", "-", "-");
	printf("%04o ", (unsigned int)e->mode);
	name_print(stdout, e->name);
	putchar('\n');
}

/* Prints the sockets of the run directory, sorted by name. */
static int list_print(const char *dir, bool json)
{
	struct dirent **names = NULL;
	bool first = true;
	struct stat st;
	int i, n, dfd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	n = dfd < 0 ? -1 : scandir(dir, &names, NULL, alphasort);
	if (n < 0) {
		n = -errno;
		if (dfd >= 0)
			close(dfd);
		if (n == -ENOENT)
			n = 0;	/* no run directory: no services */
		else
			return n;
	}
	if (json)
		putchar('[');
	else
		printf("%-7s %7s %7s %-4s %s\n", "STATE", "PID", "UID", "MODE",
		       "SERVICE");
	for (i = 0; i < n; i++) {
		struct entry e = { .name = names[i]->d_name };

		if (fstatat(dfd, e.name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISSOCK(st.st_mode)) {
			e.mode = st.st_mode & 07777;
			entry_probe(dir, &e);
			entry_print(&e, json, first);
			first = false;
		}
		free(names[i]);
	}
	free(names);
	if (dfd >= 0)
		close(dfd);
	if (json)
		puts(first ? "]" : "\n]");
	return 0;
}

static int cmd_list(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	char *dir;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "jh", options, NULL)) != -1) {
		if (opt == 'j')
			json = true;
		else if (opt == 'h')
			return fputs(usage_text, stdout), EXIT_OK;
		else
			return bad_option("list", argv);
	}
	if (optind < argc)
		return usage_error("list: unexpected argument '%s'",
				   argv[optind]);
	dir = rundir_get();
	ret = rundir_check(dir);
	if (ret == 0 || ret == -ENOENT)
		ret = list_print(dir, json);
	if (ret < 0)
		fprintf(stderr, "%s: cannot list the run directory %s: %s\n",
			progname, dir, ret == -EPERM ?
			"unsafe: writable by others or owned by another user" :
			strerror(-ret));
	free(dir);
	return ret < 0 ? status_of(ret) : EXIT_OK;
}

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

static int cmd_send(int argc, char **argv)
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

/* ------------------------------------------------------------------ */
/* wait                                                                 */
/* ------------------------------------------------------------------ */

/* Probes every WAIT_POLL_MS until the service answers or time is up. */
static int wait_for(const char *service, const struct sockaddr_un *sa,
		    int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int ret;

	for (;;) {
		ret = probe(sa, NULL);
		if (ret >= 0)
			return EXIT_OK;
		if (ret != -ENOENT && ret != -ECONNREFUSED)
			return service_error(service, ret);
		if (timeout_ms && now_ms() >= deadline) {
			fprintf(stderr, "%s: %s: timeout after %d ms: %s\n",
				progname, service, timeout_ms,
				ret == -ENOENT ? "no such service" :
				"a stale socket, no process listens on it");
			return EXIT_TIMEOUT;
		}
		poll(NULL, 0, WAIT_POLL_MS);
	}
}

static int cmd_wait(int argc, char **argv)
{
	static const struct option options[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int timeout_ms = WAIT_TIMEOUT_DEFAULT_MS, opt, ret;
	struct sockaddr_un sa;
	const char *service;
	char *dir;

	while ((opt = getopt_long(argc, argv, "t:h", options, NULL)) != -1) {
		if (opt == 't' && parse_seconds(optarg, &timeout_ms) < 0)
			return usage_error("wait: bad timeout '%s'", optarg);
		else if (opt == 'h')
			return fputs(usage_text, stdout), EXIT_OK;
		else if (opt == '?')
			return bad_option("wait", argv);
	}
	if (optind != argc - 1)
		return usage_error("wait: %s", "name one service");
	service = argv[optind];
	if (name_check(service) < 0)
		return usage_error("wait: invalid service name '%s'", service);
	dir = rundir_get();
	ret = rundir_check(dir);
	if (ret == -ENOENT)
		ret = 0;	/* it may come with the service */
	if (ret == 0)
		ret = sockaddr_make(&sa, dir, service, "");
	free(dir);
	if (ret < 0)
		return service_error(service, ret);
	return wait_for(service, &sa, timeout_ms);
}

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
		ret = ipc_context_max_message_size(m->ctx, UINT32_MAX);
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

static int cmd_monitor(int argc, char **argv)
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

/* ------------------------------------------------------------------ */
/* main                                                                 */
/* ------------------------------------------------------------------ */

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} commands[] = {
		{ "list", cmd_list },
		{ "send", cmd_send },
		{ "wait", cmd_wait },
		{ "monitor", cmd_monitor },
	};
	size_t i;
	int status;

	/* Errors are ours to word (getopt's would name the command). */
	opterr = 0;
	if (argc < 2)
		return usage_error("%s", "no command given");
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("ipcctl (" PACKAGE_NAME ") " PACKAGE_VERSION);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		/* The command's options start after its name. */
		status = commands[i].run(argc - 1, argv + 1);
		if (fflush(stdout) != 0 && status == EXIT_OK) {
			fprintf(stderr, "%s: writing the output: %s\n",
				progname, strerror(errno));
			status = EXIT_ERROR;
		}
		return status;
	}
	return usage_error("unknown command '%s'", argv[1]);
}
