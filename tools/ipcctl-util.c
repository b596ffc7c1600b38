/*
 * ipcctl-util.c - what the commands of ipcctl share (ipcctl.h): the run
 * directory, names and errors, the options, the printing of payloads.
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

__attribute__((format(printf, 1, 2)))
int usage_error(const char *fmt, ...)
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
int bad_option(const char *command, char **argv)
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
char *rundir_get(void)
{
	char *dir = ipc__rundir_get();

	if (!dir) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(EXIT_ERROR);
	}
	return dir;
}

int name_check(const char *name)
{
	size_t len = strlen(name);

	if (len > UINT16_MAX)
		return -EINVAL;
	return ipc__service_name_check(name, (uint16_t)len);
}

/* The checks of the library for a directory it reads: 0 or -errno. */
int rundir_check(const char *dir)
{
	return ipc__rundir_check(dir, false);
}

/* The exit status for an error reaching a service. */
int status_of(int err)
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
int service_error(const char *service, int err)
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
int sockaddr_make(struct sockaddr_un *sa, const char *dir,
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
int probe(const struct sockaddr_un *sa, int *fdp)
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
int parse_seconds(const char *arg, int *ms)
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

int parse_count(const char *arg, unsigned long *n)
{
	char *end;

	errno = 0;
	*n = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || !isdigit((unsigned char)arg[0]))
		return -EINVAL;
	return 0;
}

/* The monotonic clock in milliseconds. */
int64_t now_ms(void)
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


void payload_print(const char *data, size_t len, enum print_mode mode)
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
void preview_print(const char *data, size_t shown, size_t len,
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
void name_print(FILE *f, const char *name)
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
void json_string(const char *s)
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
