/*
 * ipcctl - list, call, wait for and watch the services of a libipc run
 * directory.
 *
 * Usage: ipcctl list [--json]
 *        ipcctl send [OPTIONS] SERVICE [MESSAGE]
 *        ipcctl wait [--timeout S] SERVICE
 *        ipcctl monitor [OPTIONS] SERVICE
 *        ipcctl bridge SERVICE
 *
 * doc/man/ipcctl.1 describes each command and the exit statuses.
 *
 * This file holds main() and the usage; the commands are in
 * ipcctl-list.c, ipcctl-send.c, ipcctl-wait.c, ipcctl-monitor.c and
 * ipcctl-bridge.c, what
 * they share in ipcctl-util.c (ipcctl.h).
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <libipc.h>

#include "ipcctl.h"

const char *progname = "ipcctl";

const char usage_text[] =
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
	"  bridge SERVICE                 join stdin and stdout to SERVICE\n"
	"                                 (the far end of ipc-sshd's route)\n"
	"\n"
	"The run directory is $IPC_RUNDIR, else " IPC_RUNDIR_DEFAULT ".\n"
	"Exit status: 0 success, 1 error, 2 usage, 3 no such service,\n"
	"4 refused (stale socket), 5 timeout, 6 closed before all replies,\n"
	"7 permission denied or unsafe run directory.  See ipcctl(1).\n";

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
		{ "bridge", cmd_bridge },
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
