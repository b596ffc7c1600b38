/*
 * ipc-bench - measure libipc against the kernel, ZeroMQ and nng.
 *
 * SPDX-License-Identifier: ISC
 *
 * The driver: options, the list of measurements to make, running each
 * one several times in fresh child processes (bench-proc.c), the medians;
 * then the report (bench-report.c): a table on stdout, one JSON line (or
 * CSV row) per table row, and how the figures compare with the targets
 * of the performance issue.  Only a broken implementation (a lost or
 * corrupted message, a crash, a hang) makes the exit status non-zero: no
 * figure is ever judged here.
 */

#include "bench.h"
#include "ipc-bench.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/*
 * The scenarios run by default (and by "all" without --routed): not
 * handover, whose payloads up to 64 MiB take minutes; name it.
 */
#define SC_DEFAULT_SET ((1u << SC_HANDOVER) - 1)

const char *const sc_names[SC_COUNT] = {
	"pingpong", "stream", "fanin", "idle", "churn", "switch", "memory",
	"handover", "routed",
};

struct options opt = {
	.runs = 5,
	.seconds = 0.1,
};

/* ------------------------------------------------------------------ */
/* Implementations of each scenario                                     */
/* ------------------------------------------------------------------ */

#ifdef HAVE_ZMQ
#define ZMQ_PINGPONG { "zmq", bench_zmq_echo, bench_zmq_client, false, NULL },
#define ZMQ_STREAM { "zmq", bench_zmq_sink, bench_zmq_sender, false, NULL },
#else
#define ZMQ_PINGPONG
#define ZMQ_STREAM
#endif
#ifdef HAVE_NNG
#define NNG_PINGPONG { "nng", bench_nng_echo, bench_nng_client, false, NULL },
#define NNG_STREAM { "nng", bench_nng_sink, bench_nng_sender, false, NULL },
#else
#define NNG_PINGPONG
#define NNG_STREAM
#endif

/* The first variant of each list is the baseline of the ratio column. */
static const struct variant pingpong_variants[] = {
	{ "raw-epoll", raw_epoll_echo, raw_epoll_client, false, NULL },
	{ "raw-blocking", raw_blocking_echo, raw_blocking_client, false, NULL },
	{ "libipc", ipc_echo, ipc_client, false, NULL },
	{ "libipc-embed", ipc_echo_embedded, ipc_client, false, NULL },
	ZMQ_PINGPONG
	NNG_PINGPONG
	{ NULL, NULL, NULL, false, NULL },
};

static const struct variant stream_variants[] = {
	{ "raw-writev", raw_sink, raw_writev_sender, false, NULL },
	{ "raw-packed", raw_sink, raw_packed_sender, false, NULL },
	{ "libipc", ipc_sink, ipc_sender, false, NULL },
	{ "libipc-embed", ipc_sink_embedded, ipc_sender, false, NULL },
	ZMQ_STREAM
	NNG_STREAM
	{ NULL, NULL, NULL, false, NULL },
};

static const struct variant fanin_variants[] = {
	{ "raw-writev", raw_epoll_sink, raw_writev_sender, false, NULL },
	{ "raw-packed", raw_epoll_sink, raw_packed_sender, false, NULL },
	{ "libipc", ipc_sink, ipc_sender, false, NULL },
	ZMQ_STREAM
	NNG_STREAM
	{ NULL, NULL, NULL, false, NULL },
};

static const struct variant idle_variants[] = {
	{ "raw-epoll", raw_epoll_echo, raw_epoll_client, false, NULL },
	{ "raw-poll", raw_poll_echo, raw_epoll_client, false, NULL },
	{ "libipc", ipc_echo, ipc_client, false, NULL },
	{ NULL, NULL, NULL, false, NULL },
};

static const struct variant churn_variants[] = {
	{ "raw", raw_epoll_echo, raw_churn_client, false, NULL },
	{ "libipc", ipc_echo, ipc_churn_client, false, NULL },
	{ NULL, NULL, NULL, false, NULL },
};

static const struct variant switch_variants[] = {
	{ "direct", ipc_echo, ipc_client, false, NULL },
	{ "relay", ipc_echo, ipc_client, false, ipc_relay },
	{ "relay-cb", ipc_echo, ipc_client, true, ipc_relay },
	{ "raw-relay", ipc_echo, ipc_client, false, raw_relay },
	{ NULL, NULL, NULL, false, NULL },
};

/* Memory: idle clients held by a server, then a 1 MiB stream. */
static const struct variant memory_variants[] = {
	{ "raw-epoll", raw_epoll_echo, NULL, false, NULL },
	{ "libipc", ipc_echo, NULL, false, NULL },
	{ NULL, NULL, NULL, false, NULL },
};

/*
 * Handover of large payloads: copied through libipc (the baseline), by
 * raw writes, and as a sealed memfd per message.  Every byte is written
 * by the sender and read by the receiver in each (--verify is implied).
 */
static const struct variant handover_variants[] = {
	{ "libipc", ipc_sink, ipc_sender, false, NULL },
	{ "raw-writev", raw_sink, raw_writev_sender, false, NULL },
	{ "libipc-memfd", ipc_memfd_sink, ipc_memfd_sender, false, NULL },
	/* The ways to make and map the memfd (doc/performance.md). */
	{ "memfd-map", ipc_memfd_sink, ipc_memfd_sender_map, false, NULL },
	{ "memfd-fault", ipc_memfd_sink, ipc_memfd_sender_fault, false, NULL },
	{ "memfd-falloc", ipc_memfd_sink, ipc_memfd_sender_falloc, false,
	  NULL },
	{ "memfd-huge", ipc_memfd_sink, ipc_memfd_sender_huge, false, NULL },
	{ "memfd-rxfault", ipc_memfd_sink_fault, ipc_memfd_sender, false,
	  NULL },
	/* The floor: written and read in one process, no IPC. */
	{ "local", local_fill_read, NULL, false, NULL },
	{ NULL, NULL, NULL, false, NULL },
};

/* Routed: the direct path, then through ipcd and two ipc-tcpd. */
static const struct variant routed_variants[] = {
	{ "direct", ipc_echo, ipc_client, false, NULL, false },
	{ "routed", ipc_echo, ipc_client, false, NULL, true },
	{ NULL, NULL, NULL, false, NULL, false },
};

static const struct variant *const sc_variants[SC_COUNT] = {
	pingpong_variants, stream_variants, fanin_variants, idle_variants,
	churn_variants, switch_variants, memory_variants, handover_variants,
	routed_variants,
};

/* ------------------------------------------------------------------ */
/* Rows: one per table line                                             */
/* ------------------------------------------------------------------ */

struct row *rows;
size_t nrows;
static size_t rows_cap;
int cpus[2] = { -1, -1 };
static char rundir[64];
char start_time[32];

static struct row *row_add(enum scenario sc, const struct variant *v,
			   size_t size, unsigned int param, int cpu)
{
	struct row *r;

	if (nrows == rows_cap) {
		rows_cap = rows_cap ? rows_cap * 2 : 64;
		rows = realloc(rows, rows_cap * sizeof(*rows));
		if (!rows) {
			fprintf(stderr, "ipc-bench: out of memory\n");
			exit(1);
		}
	}
	r = &rows[nrows++];
	*r = (struct row){
		.sc = sc, .v = v, .size = size, .param = param, .cpu = cpu,
		.baseline = sc == SC_MEMORY ? "" : sc_variants[sc][0].impl,
		.rate = NAN, .rate_min = NAN, .rate_max = NAN, .p50 = NAN,
		.p99 = NAN, .ratio = NAN, .heap_per_conn = NAN,
		.kernel_per_conn = NAN, .rx_peak = -1, .rx_growth = -1,
		.tx_peak = -1, .tx_growth = -1,
	};
	return r;
}

const char *cpu_name(int cpu)
{
	return cpu == CPU_SAME ? "same" : cpu == CPU_SPLIT ? "split" : "-";
}

/* ------------------------------------------------------------------ */
/* Options                                                              */
/* ------------------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs(
"Usage: ipc-bench [OPTION]... [SCENARIO]...\n"
"Measures libipc against the kernel, ZeroMQ and nng.  Every message is\n"
"checked; speed is reported, never judged.\n"
"\n"
"Scenarios: pingpong, stream, fanin, idle, churn, switch, memory (all by\n"
"default), handover (when named), routed (only with --routed).\n"
"\n"
"Options:\n"
"  -s, --sizes LIST     payload sizes in bytes (k and M suffixes\n"
"                       allowed); default 0,64,4k,64k,1M for pingpong\n"
"                       and stream, 64,4k for switch, 64k to 64M for\n"
"                       handover, 64 for the rest\n"
"  -i, --impl LIST      only these implementations (a name, or the part\n"
"                       before '-', e.g. raw); baselines left out leave\n"
"                       the ratio empty\n"
"  -r, --runs N         runs per measurement, median reported\n"
"                       (default 5)\n"
"  -n, --count N        messages (round trips, connections) per run,\n"
"                       instead of a duration\n"
"  -t, --seconds S      duration of a run (default 0.1)\n"
"  -c, --cpu PLACE      same, split or both: the two sides on one CPU,\n"
"                       on two CPUs, or each in turn (default: both for\n"
"                       pingpong and switch, split for the others)\n"
"      --clients LIST   fanin connection counts (default 1,10,100,1000)\n"
"      --idle LIST      idle client counts (default 0,100,1000,10000)\n"
"  -j, --json FILE      JSON lines to FILE instead of stdout (- for\n"
"                       stdout)\n"
"      --csv FILE       CSV rows, with a header line, to FILE (- for\n"
"                       stdout) instead of JSON lines\n"
"      --routed DIR     enable the routed scenario with the ipcd and\n"
"                       ipc-tcpd programs of DIR (e.g. tools of the\n"
"                       build tree, or /usr/sbin)\n"
"  -q, --quick          for CI: one run, tiny counts, every scenario and\n"
"                       code path, every payload byte checked\n"
"      --verify         check every payload byte (not only sequence\n"
"                       numbers); slower\n"
"  -h, --help           this text\n"
"\n"
"Exit status: 0 when every measurement ran and every message arrived\n"
"intact, 1 when one failed, 2 on a usage error.\n"
"\n"
"The scenarios, the implementations, the output and examples: the\n"
"section \"ipc-bench reference\" of doc/performance.md.\n",
	      f);
}

static int usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ipc-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ipc-bench --help'.\n");
	return -EINVAL;
}

/* "64", "4k", "1M": bytes (k = 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	if (*end == 'k' || *end == 'K') {
		v *= 1024;
		end++;
	} else if (*end == 'M' || *end == 'm') {
		v *= 1024 * 1024;
		end++;
	}
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_list(const char *arg, uint64_t max, uint64_t *vals,
		      int *n)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int ret = 0;

	*n = 0;
	for (tok = strtok_r(copy, ",", &save); tok && !ret;
	     tok = strtok_r(NULL, ",", &save)) {
		if (*n == MAX_LIST || parse_size(tok, &vals[*n]) < 0 ||
		    vals[*n] > max)
			ret = -EINVAL;
		else
			(*n)++;
	}
	free(copy);
	return ret < 0 || !*n ? -EINVAL : 0;
}

static int parse_sizes(const char *arg)
{
	uint64_t v[MAX_LIST];
	int i;

	if (parse_list(arg, MAX_PAYLOAD, v, &opt.nsizes) < 0)
		return usage_error("bad size list '%s' (up to 16 sizes, each "
				   "below 16M)", arg);
	for (i = 0; i < opt.nsizes; i++)
		opt.sizes[i] = (size_t)v[i];
	return 0;
}

static int parse_counts(const char *arg, unsigned int *out, int *n,
			uint64_t max)
{
	uint64_t v[MAX_LIST];
	int i;

	if (parse_list(arg, max, v, n) < 0)
		return usage_error("bad count list '%s'", arg);
	for (i = 0; i < *n; i++)
		out[i] = (unsigned int)v[i];
	return 0;
}

static int parse_scenario(const char *arg)
{
	int i;

	if (!strcmp(arg, "all")) {
		opt.scenarios |= SC_DEFAULT_SET;
		return 0;
	}
	for (i = 0; i < SC_COUNT; i++) {
		if (!strcmp(arg, sc_names[i]) ||
		    (arg[0] == '1' + i && !arg[1])) {
			opt.scenarios |= 1u << i;
			return 0;
		}
	}
	return usage_error("unknown scenario '%s'", arg);
}

static int parse_cpu(const char *arg)
{
	if (!strcmp(arg, "same"))
		opt.cpu = CPU_SAME;
	else if (!strcmp(arg, "split"))
		opt.cpu = CPU_SPLIT;
	else if (!strcmp(arg, "both"))
		opt.cpu = CPU_BOTH;
	else
		return usage_error("--cpu takes same, split or both, not '%s'",
				   arg);
	return 0;
}

static int parse_number(const char *arg, const char *what, uint64_t min,
			uint64_t *out)
{
	if (parse_size(arg, out) < 0 || *out < min)
		return usage_error("bad %s '%s'", what, arg);
	return 0;
}

enum { OPT_CLIENTS = 256, OPT_IDLE, OPT_CSV, OPT_VERIFY, OPT_ROUTED };

static const struct option long_options[] = {
	{ "sizes", required_argument, NULL, 's' },
	{ "impl", required_argument, NULL, 'i' },
	{ "runs", required_argument, NULL, 'r' },
	{ "count", required_argument, NULL, 'n' },
	{ "seconds", required_argument, NULL, 't' },
	{ "cpu", required_argument, NULL, 'c' },
	{ "clients", required_argument, NULL, OPT_CLIENTS },
	{ "idle", required_argument, NULL, OPT_IDLE },
	{ "json", required_argument, NULL, 'j' },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "quick", no_argument, NULL, 'q' },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "routed", required_argument, NULL, OPT_ROUTED },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int parse_option(int c, const char *arg)
{
	uint64_t v;
	char *end;

	switch (c) {
	case 's':
		return parse_sizes(arg);
	case 'i':
		opt.impls = arg;
		return 0;
	case 'r':
		if (parse_number(arg, "--runs", 1, &v) < 0)
			return -EINVAL;
		opt.runs = (unsigned int)(v > 1000 ? 1000 : v);
		return 0;
	case 'n':
		return parse_number(arg, "--count", 1, &opt.count);
	case 't':
		opt.seconds = strtod(arg, &end);
		if (*end || !(opt.seconds > 0) || opt.seconds > 3600)
			return usage_error("bad --seconds '%s'", arg);
		return 0;
	case 'c':
		return parse_cpu(arg);
	case OPT_CLIENTS:
		return parse_counts(arg, opt.clients, &opt.nclients, 100000);
	case OPT_IDLE:
		return parse_counts(arg, opt.idle, &opt.nidle, 1000000);
	case 'j':
		opt.json_path = arg;
		return 0;
	case OPT_CSV:
		opt.csv_path = arg;
		return 0;
	case 'q':
		opt.quick = true;
		return 0;
	case OPT_VERIFY:
		opt.verify = true;
		return 0;
	case OPT_ROUTED:
		opt.routed = arg;
		return 0;
	default:
		return -EINVAL;
	}
}

static int parse_options(int argc, char **argv)
{
	int c;

	while ((c = getopt_long(argc, argv, "s:i:r:n:t:c:j:qh", long_options,
				NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c == '?' || parse_option(c, optarg) < 0)
			return -EINVAL;
	}
	for (; optind < argc; optind++)
		if (parse_scenario(argv[optind]) < 0)
			return -EINVAL;
	if (!opt.scenarios)
		opt.scenarios = SC_DEFAULT_SET;
	if (opt.routed)
		opt.scenarios |= 1u << SC_ROUTED;
	else if (opt.scenarios & (1u << SC_ROUTED))
		return usage_error("%s", "the routed scenario needs --routed "
				   "DIR");
	if (opt.json_path && opt.csv_path)
		return usage_error("%s", "--json and --csv exclude each other");
	if (opt.quick) {
		opt.runs = 1;
		opt.verify = true;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The plan: every row, before anything runs                            */
/* ------------------------------------------------------------------ */

static bool impl_selected(const char *impl)
{
	const char *p = opt.impls;
	size_t len;

	if (!p)
		return true;
	while (*p) {
		len = strcspn(p, ",");
		if ((strlen(impl) == len || impl[len] == '-') &&
		    !strncmp(impl, p, len))
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

static const size_t default_sizes[] = { 0, 64, 4096, 65536, 1048576 };
static const size_t switch_sizes[] = { 64, 4096 };
static const size_t routed_sizes[] = { 64, 4096, 65536, 1048576 };
static const size_t one_size[] = { 64 };
static const size_t handover_sizes[] = { 65536, 262144, 1048576, 4194304,
					 16777216, 67108864 };
static const unsigned int default_clients[] = { 1, 10, 100, 1000 };
static const unsigned int default_idle[] = { 0, 100, 1000, 10000 };

/* The sizes of a scenario: --sizes, else its defaults. */
static int sc_sizes(enum scenario sc, const size_t **sizes)
{
	if (opt.nsizes) {
		*sizes = opt.sizes;
		return opt.nsizes;
	}
	if (sc == SC_PINGPONG || sc == SC_STREAM) {
		*sizes = default_sizes;
		return 5;
	}
	if (sc == SC_SWITCH) {
		*sizes = switch_sizes;
		return 2;
	}
	if (sc == SC_ROUTED) {
		*sizes = routed_sizes;
		return 4;
	}
	if (sc == SC_HANDOVER) {
		*sizes = handover_sizes;
		return 6;
	}
	*sizes = one_size;
	return 1;
}

static int sc_params(enum scenario sc, const unsigned int **params)
{
	static const unsigned int none[] = { 0 };
	static const unsigned int memory_idle[] = { 10000 };

	if (sc == SC_FANIN) {
		*params = opt.nclients ? opt.clients : default_clients;
		return opt.nclients ? opt.nclients : 4;
	}
	if (sc == SC_IDLE) {
		*params = opt.nidle ? opt.idle : default_idle;
		return opt.nidle ? opt.nidle : 4;
	}
	*params = sc == SC_MEMORY ? memory_idle : none;
	return 1;
}

static int sc_placements(enum scenario sc, int *out)
{
	enum placement p = opt.cpu;

	if (p == CPU_DEFAULT)
		p = sc == SC_PINGPONG || sc == SC_SWITCH ? CPU_BOTH : CPU_SPLIT;
	if (cpus[1] < 0 && p != CPU_SAME) {
		p = CPU_SAME;
	}
	if (p == CPU_BOTH) {
		out[0] = CPU_SAME;
		out[1] = CPU_SPLIT;
		return 2;
	}
	out[0] = p;
	return 1;
}

static void plan_scenario(enum scenario sc)
{
	const struct variant *v;
	const size_t *sizes;
	const unsigned int *params;
	int place[2], nsizes, nparams, nplace, s, p, c;

	nsizes = sc_sizes(sc, &sizes);
	nparams = sc_params(sc, &params);
	nplace = sc_placements(sc, place);
	for (c = 0; c < nplace; c++)
		for (p = 0; p < nparams; p++)
			for (s = 0; s < nsizes; s++)
				for (v = sc_variants[sc]; v->impl; v++)
					if (impl_selected(v->impl))
						row_add(sc, v, sizes[s],
							params[p], place[c]);
	if (sc != SC_MEMORY)
		return;
	/* Then the 1 MiB stream, with the stream implementations. */
	for (v = stream_variants; v->impl; v++)
		if (impl_selected(v->impl))
			row_add(sc, v, 1048576, 0, CPU_SPLIT)->rss = true;
}

/* ------------------------------------------------------------------ */
/* One measurement                                                      */
/* ------------------------------------------------------------------ */

/* Count mode for --count and --quick; how much each scenario does. */
static uint64_t run_count(const struct row *row)
{
	uint64_t n = opt.count;
	uint64_t bytes_cap = 64ull << 20;

	if (!n && opt.quick)
		n = row->sc == SC_STREAM || row->sc == SC_FANIN ? 2000 :
		    row->sc == SC_MEMORY ? 16 : 100;
	if (!n && row->rss)
		n = 64;
	/* A run of 0.1 s holds no 64 MiB message: count them. */
	if (!n && row->sc == SC_HANDOVER)
		n = 8;
	if (!n)
		return 0;
	/* Large payloads: no more than 64 MiB (--quick: 16 MiB) a run. */
	if (opt.quick)
		bytes_cap = 16ull << 20;
	if (row->size && n > bytes_cap / row->size)
		n = bytes_cap / row->size > 4 ? bytes_cap / row->size : 4;
	return n;
}

static void run_init(struct run *r, const struct row *row)
{
	*r = (struct run){
		.size = row->size,
		.count = run_count(row),
		.seconds = opt.seconds,
		.warmup = opt.quick ? 5 : 20,
		.nconns = 1,
		.total_conns = 1,
		.nsenders = 1,
		.verify = opt.verify || row->sc == SC_HANDOVER,
		.callbacks = row->v->callbacks,
		.measure_rss = row->rss,
	};
	if (row->sc == SC_IDLE || (row->sc == SC_MEMORY && !row->rss))
		r->nidle = row->param;
	if (row->sc == SC_FANIN)
		r->total_conns = row->param;
	/* Two client processes share the connections of a fan-in. */
	r->nsenders = r->total_conns > 1 ? 2 : 1;
}

static void run_service(struct run *r, const char *service,
			const char *upstream)
{
	snprintf(r->service, sizeof(r->service), "%s", service);
	snprintf(r->path, sizeof(r->path), "%s/%s", rundir, service);
	snprintf(r->url, sizeof(r->url), "ipc://%s", r->path);
	if (upstream) {
		snprintf(r->upstream, sizeof(r->upstream), "%s", upstream);
		snprintf(r->upstream_path, sizeof(r->upstream_path), "%s/%s",
			 rundir, upstream);
	}
}

/* Which CPU each role runs on. */
struct cpu_plan {
	int server, relay, client, idle;
};

static struct cpu_plan cpu_plan(const struct row *row)
{
	struct cpu_plan p = { cpus[0], cpus[0], cpus[0], cpus[0] };

	if (row->cpu == CPU_SPLIT) {
		/* Every hop crosses: client 1, relay 0, server 1 (or 0). */
		p.client = cpus[1];
		if (row->v->relay)
			p.server = cpus[1];
	}
	return p;
}

static unsigned int run_timeout(const struct run *r)
{
	unsigned int t = 60 + r->nidle / 500;

	if (!r->count)
		t += (unsigned int)(r->seconds * 4);
	else if (!opt.quick)
		t = 600;
	return t;
}

struct procs {
	struct measure m;
	struct child server, relay, idle, clients[2];
	struct result server_res, relay_res, idle_res, client_res[2];
	int nclients;
	struct routed rt;	/* the routed variant's daemons */
	bool routed;
};

/* Keeps the first error of any child. */
static void take_error(struct result *out, const struct result *res,
		       const char *who)
{
	if (res->err && !out->err)
		fail(out, res->err, "%s: %s", who, res->what);
}

/*
 * Collects every result: the clients end by themselves, then the stop
 * pipe ends the others.  The server's error comes first: when it fails,
 * its clients' errors are only the consequence.
 */
static void procs_finish(struct procs *p, struct result *out)
{
	unsigned int t = p->m.timeout_s;
	int i;

	for (i = 0; i < p->nclients; i++)
		child_finish(&p->clients[i], t, &p->client_res[i]);
	measure_stop(&p->m);
	child_finish(&p->server, t, &p->server_res);
	child_finish(&p->relay, t, &p->relay_res);
	child_finish(&p->idle, t, &p->idle_res);
	measure_close(&p->m);
	if (p->routed) {
		routed_stop(&p->rt);
		routed_env(&p->rt, rundir, false);
	}
	take_error(out, &p->server_res, "server");
	take_error(out, &p->relay_res, "relay");
	take_error(out, &p->idle_res, "idle clients");
	for (i = 0; i < p->nclients; i++)
		take_error(out, &p->client_res[i], "client");
}

/* Forks every process of the measurement and lets the clients go. */
static int procs_start(struct procs *p, const struct row *row)
{
	struct cpu_plan cpu = cpu_plan(row);
	struct run *r = &p->m.run;
	unsigned int total = r->total_conns;
	int i;

	run_service(r, "bench", NULL);
	if (row->v->routed) {
		/* The echo service on host B, its client on host A. */
		p->routed = true;
		if (routed_prepare(&p->rt, opt.routed, &p->server_res) < 0)
			return -1;
		routed_env(&p->rt, p->rt.rundir_b, false);
	}
	if (child_spawn(&p->m, &p->server, row->v->server, cpu.server, true,
			&p->server_res) < 0 ||
	    child_ready(&p->server, 'R', p->m.timeout_s, &p->server_res) < 0)
		return -1;
	if (row->v->routed) {
		if (routed_start(&p->rt, rundir, r->service,
				 &p->relay_res) < 0)
			return -1;
		routed_env(&p->rt, rundir, true);
	}
	if (row->v->relay) {
		run_service(r, "relay", "bench");
		if (child_spawn(&p->m, &p->relay, row->v->relay, cpu.relay,
				true, &p->relay_res) < 0 ||
		    child_ready(&p->relay, 'R', p->m.timeout_s,
				&p->relay_res) < 0)
			return -1;
	}
	if (r->nidle) {
		if (child_spawn(&p->m, &p->idle, raw_idle_clients, cpu.idle,
				false, &p->idle_res) < 0 ||
		    child_ready(&p->idle, 'R', p->m.timeout_s,
				&p->idle_res) < 0 ||
		    child_ready(&p->server, 'A', p->m.timeout_s,
				&p->server_res) < 0)
			return -1;
	}
	if (!row->v->client)
		return 0;
	p->nclients = (int)r->nsenders;
	for (i = 0; i < p->nclients; i++) {
		r->nconns = total / 2 + (i == 0 ? total % 2 : 0);
		if (p->nclients == 1)
			r->nconns = total;
		if (child_spawn(&p->m, &p->clients[i], row->v->client,
				cpu.client, false, &p->client_res[i]) < 0 ||
		    child_ready(&p->clients[i], 'R', p->m.timeout_s,
				&p->client_res[i]) < 0)
			return -1;
	}
	if (row->v->routed)
		routed_env(&p->rt, rundir, false);
	measure_go(&p->m);
	return 0;
}

/* The stream's sink saw what the senders sent, all of it. */
static void check_counts(struct procs *p, struct result *out)
{
	uint64_t sent = 0;
	int i;

	for (i = 0; i < p->nclients; i++)
		sent += p->client_res[i].msgs;
	if (!out->err && p->server_res.msgs != sent)
		fail(out, -EPROTO, "the sink got %llu of %llu messages",
		     (unsigned long long)p->server_res.msgs,
		     (unsigned long long)sent);
}

/*
 * One run of @row.  @out gets the measuring side's result (the sink or
 * the service for streams and memory, else the client), @other the
 * other side's (the sender, for its memory).
 */
static int measure_once(const struct row *row, struct result *out,
			struct result *other)
{
	struct procs p = { 0 };
	bool sink = row->sc == SC_STREAM || row->sc == SC_FANIN ||
		    row->sc == SC_HANDOVER || row->rss;
	int ret;

	*out = (struct result){ 0 };
	*other = (struct result){ 0 };
	p.server.pid = p.relay.pid = p.idle.pid = -1;
	p.clients[0].pid = p.clients[1].pid = -1;
	run_init(&p.m.run, row);
	p.m.timeout_s = run_timeout(&p.m.run);
	ret = measure_open(&p.m);
	if (ret < 0)
		return fail(out, ret, "pipe: %s", strerror(-ret));
	procs_start(&p, row);
	procs_finish(&p, out);
	if (sink && row->v->client)
		check_counts(&p, out);
	if (out->err)
		return out->err;
	if (sink || !row->v->client) {
		*out = p.server_res;
		*other = p.client_res[0];
		/*
		 * A handover run is a few large messages: the sink's interval
		 * (first message in to the last) would leave out the first
		 * one's fill and transfer.  Timed instead from the sender's
		 * start to the sink's end (one clock for both processes).
		 */
		if (row->sc == SC_HANDOVER && row->v->client &&
		    out->end_ns > other->start_ns && other->start_ns)
			out->seconds = ns_to_s(out->end_ns - other->start_ns);
	} else {
		*out = p.client_res[0];
		*other = p.server_res;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Runs and medians                                                     */
/* ------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, unsigned int n)
{
	if (!n)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct runs {
	double rate[1000], p50[1000], p99[1000], heap[1000], slab[1000];
	double rxp[1000], rxg[1000], txp[1000], txg[1000];
	unsigned int n;
};

static void runs_add(struct runs *s, const struct row *row,
		     const struct result *res, const struct result *other)
{
	unsigned int i = s->n++;
	unsigned int conns = res->accepted ? res->accepted : 1;

	if ((row->v->client || row->sc == SC_HANDOVER) && !row->rss)
		s->rate[i] = res->seconds > 0 ?
			     (double)res->msgs / res->seconds : NAN;
	s->p50[i] = res->p50_us;
	s->p99[i] = res->p99_us;
	if (row->sc == SC_MEMORY && !row->rss) {
		conns = row->param ? row->param : conns;
		s->heap[i] = (double)res->heap_bytes / conns;
		s->slab[i] = (double)res->slab_bytes / conns;
	}
	if (row->rss) {
		s->rxp[i] = (double)res->rss_peak_kib;
		s->rxg[i] = (double)(res->rss_peak_kib - res->rss_start_kib);
		s->txp[i] = (double)other->rss_peak_kib;
		s->txg[i] = (double)(other->rss_peak_kib -
				     other->rss_start_kib);
	}
}

static void runs_reduce(struct runs *s, struct row *row)
{
	unsigned int n = s->n;

	row->runs = n;
	if ((row->v->client || row->sc == SC_HANDOVER) && !row->rss) {
		row->rate = median(s->rate, n);
		row->rate_min = s->rate[0];
		row->rate_max = s->rate[n - 1];
		if (s->p50[0] >= 0) {
			row->p50 = median(s->p50, n);
			row->p99 = median(s->p99, n);
		}
	}
	if (row->sc == SC_MEMORY && !row->rss) {
		row->heap_per_conn = median(s->heap, n);
		row->kernel_per_conn = median(s->slab, n);
	}
	if (row->rss) {
		row->rx_peak = (long)median(s->rxp, n);
		row->rx_growth = (long)median(s->rxg, n);
		row->tx_peak = (long)median(s->txp, n);
		row->tx_growth = (long)median(s->txg, n);
	}
}

/* ------------------------------------------------------------------ */
/* Progress                                                             */
/* ------------------------------------------------------------------ */

static bool progress_tty;

static void row_label(const struct row *row, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %zu B%s%.0u %s%s", sc_names[row->sc],
		 row->v->impl, row->size,
		 row->sc == SC_FANIN ? " clients " :
		 row->sc == SC_IDLE || row->sc == SC_MEMORY ? " idle " : "",
		 row->sc == SC_FANIN || row->sc == SC_IDLE ||
			 (row->sc == SC_MEMORY && !row->rss) ?
			 row->param : 0,
		 cpu_name(row->cpu), row->rss ? " (rss)" : "");
}

static void progress(size_t i, const struct row *row, unsigned int run)
{
	char label[128];

	row_label(row, label, sizeof(label));
	if (progress_tty)
		fprintf(stderr, "\r\033[Kipc-bench: [%zu/%zu] %s, run %u/%u",
			i + 1, nrows, label, run + 1, opt.runs);
	else if (run == 0)
		fprintf(stderr, "ipc-bench: [%zu/%zu] %s\n", i + 1, nrows,
			label);
}

static void progress_done(void)
{
	if (progress_tty)
		fprintf(stderr, "\r\033[K");
}

/* Clamps an idle client count to what RLIMIT_NOFILE's hard limit allows. */
static void clamp_idle(struct row *row)
{
	static unsigned int noted;
	struct rlimit rl;
	unsigned int want = row->param;

	if (row->sc != SC_IDLE && (row->sc != SC_MEMORY || row->rss))
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max >= want + 64)
		return;
	row->param = rl.rlim_max > 128 ? (unsigned int)rl.rlim_max - 128 : 0;
	snprintf(row->note, sizeof(row->note),
		 "only %u of %u idle: RLIMIT_NOFILE hard limit %lu",
		 row->param, want, (unsigned long)rl.rlim_max);
	if (want != noted)
		fprintf(stderr, "%sipc-bench: note: %u idle clients need %u "
			"fds, the RLIMIT_NOFILE hard limit is %lu: running %u "
			"instead\n", progress_tty ? "\n" : "", want, want + 64,
			(unsigned long)rl.rlim_max, row->param);
	noted = want;
}

/* Rows measured side by side: the implementations of one comparison. */
static bool same_group(const struct row *a, const struct row *b)
{
	return a->sc == b->sc && a->size == b->size && a->param == b->param &&
	       a->cpu == b->cpu && a->rss == b->rss;
}

static void row_failed(struct row *row, const struct result *res)
{
	char label[128];

	progress_done();
	row_label(row, label, sizeof(label));
	snprintf(row->error, sizeof(row->error), "%s", res->what);
	fprintf(stderr, "ipc-bench: FAILED %s: %s\n", label, res->what);
}

/*
 * Runs the rows [first, first + n): run 1 of each, then run 2 of each,
 * and so on, so that a burst of noise from elsewhere on the machine hits
 * every implementation of the comparison alike.  A row that fails is not
 * run again.  Returns the number of rows that failed.
 */
static int run_group(size_t first, size_t n)
{
	struct runs *s = calloc(n, sizeof(*s));
	struct result res, other;
	unsigned int run;
	int failed = 0;
	size_t i;

	if (!s) {
		fprintf(stderr, "ipc-bench: out of memory\n");
		exit(1);
	}
	for (i = 0; i < n; i++)
		clamp_idle(&rows[first + i]);
	for (run = 0; run < opt.runs; run++) {
		for (i = 0; i < n; i++) {
			if (rows[first + i].error[0])
				continue;
			progress(first + i, &rows[first + i], run);
			if (measure_once(&rows[first + i], &res, &other) < 0) {
				row_failed(&rows[first + i], &res);
				failed++;
				continue;
			}
			runs_add(&s[i], &rows[first + i], &res, &other);
		}
	}
	for (i = 0; i < n; i++)
		if (!rows[first + i].error[0])
			runs_reduce(&s[i], &rows[first + i]);
	free(s);
	return failed;
}

static int run_all(void)
{
	size_t first, n;
	int failed = 0;

	for (first = 0; first < nrows; first += n) {
		for (n = 1; first + n < nrows; n++)
			if (!same_group(&rows[first], &rows[first + n]))
				break;
		failed += run_group(first, n);
	}
	progress_done();
	return failed;
}

/* ------------------------------------------------------------------ */
/* Set-up                                                               */
/* ------------------------------------------------------------------ */

static void find_cpus(void)
{
	cpu_set_t set;
	int i, n = 0;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set))
			cpus[n++] = i;
	if (n < 2)
		fprintf(stderr, "ipc-bench: note: one CPU only: every "
			"measurement runs on CPU %d (same)\n", cpus[0]);
}

static void rundir_remove(void)
{
	char path[sizeof(rundir) + 300];
	struct dirent *d;
	DIR *dir;

	if (!rundir[0])
		return;
	dir = opendir(rundir);
	while (dir && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", rundir, d->d_name);
		unlink(path);
	}
	if (dir)
		closedir(dir);
	rmdir(rundir);
	rundir[0] = '\0';
}

static void on_signal(int sig)
{
	rundir_remove();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A private run directory, short enough for sun_path. */
static int rundir_make(void)
{
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp || strlen(tmp) > 40)
		tmp = "/tmp";
	snprintf(rundir, sizeof(rundir), "%s/ipc-bench.XXXXXX", tmp);
	if (!mkdtemp(rundir)) {
		fprintf(stderr, "ipc-bench: mkdtemp %s: %s\n", rundir,
			strerror(errno));
		rundir[0] = '\0';
		return -errno;
	}
	atexit(rundir_remove);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	return setenv("IPC_RUNDIR", rundir, 1) < 0 ? -errno : 0;
}

static void plan(void)
{
	int sc;

	for (sc = 0; sc < SC_COUNT; sc++)
		if (opt.scenarios & (1u << sc))
			plan_scenario((enum scenario)sc);
}

int main(int argc, char **argv)
{
	time_t now = time(NULL);
	struct tm tm;
	int failed;

	if (parse_options(argc, argv) < 0)
		return 2;
	signal(SIGPIPE, SIG_IGN);
	progress_tty = isatty(STDERR_FILENO);
	strftime(start_time, sizeof(start_time), "%Y-%m-%dT%H:%M:%SZ",
		 gmtime_r(&now, &tm));
	find_cpus();
	load_start = load_average();
	plan();
	if (!nrows) {
		fprintf(stderr, "ipc-bench: nothing to run (see --impl)\n");
		return 2;
	}
	if (rundir_make() < 0)
		return 1;
	failed = run_all();
	compute_ratios();
	print_table();
	print_targets();
	if (write_lines() < 0)
		failed = 1;
	free(rows);
	return failed ? 1 : 0;
}
