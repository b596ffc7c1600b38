/*
 * ipcctl list: the services of the run directory (ipcctl(1)).
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

int cmd_list(int argc, char **argv)
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
