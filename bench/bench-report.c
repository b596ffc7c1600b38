/*
 * The report of ipc-bench: the ratios, the table on stdout, the JSON
 * lines or CSV rows, and how the figures compare with the targets of the
 * performance issue (informative: never a failure).
 *
 * SPDX-License-Identifier: ISC
 */

#include "bench.h"
#include "ipc-bench.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

/* ------------------------------------------------------------------ */
/* Output                                                               */
/* ------------------------------------------------------------------ */

static const struct row *find_row(enum scenario sc, const char *impl,
				  size_t size, unsigned int param, int cpu,
				  bool rss)
{
	size_t i;

	for (i = 0; i < nrows; i++)
		if (rows[i].sc == sc && !strcmp(rows[i].v->impl, impl) &&
		    rows[i].size == size && rows[i].param == param &&
		    rows[i].cpu == cpu && rows[i].rss == rss &&
		    !rows[i].error[0] && rows[i].runs)
			return &rows[i];
	return NULL;
}

void compute_ratios(void)
{
	const struct row *base, *zero;
	struct row *row;
	size_t i;

	for (i = 0; i < nrows; i++) {
		row = &rows[i];
		base = find_row(row->sc, row->baseline, row->size, row->param,
				row->cpu, row->rss);
		if (base && base->rate > 0)
			row->ratio = row->rate / base->rate;
		if (row->sc == SC_IDLE && row->param && !row->note[0]) {
			zero = find_row(SC_IDLE, row->v->impl, row->size, 0,
					row->cpu, false);
			if (zero && zero->rate > 0)
				snprintf(row->note, sizeof(row->note),
					 "%.2f x its rate with 0 idle",
					 row->rate / zero->rate);
		}
		if (((row->sc == SC_SWITCH && row->v->relay) ||
		     row->v->routed) && base && row->rate > 0)
			snprintf(row->note, sizeof(row->note),
				 "round trip %.2f x direct",
				 base->rate / row->rate);
		if (row->sc == SC_MEMORY && !row->rss && row->runs)
			snprintf(row->note + strlen(row->note),
				 sizeof(row->note) - strlen(row->note),
				 "%sheap %.0f B/conn, kernel %.0f B/conn",
				 row->note[0] ? "; " : "", row->heap_per_conn,
				 row->kernel_per_conn);
		if (row->rss && row->runs)
			snprintf(row->note, sizeof(row->note),
				 "rx peak %.1f MiB (+%.1f), tx peak %.1f MiB "
				 "(+%.1f)", row->rx_peak / 1024.0,
				 row->rx_growth / 1024.0, row->tx_peak / 1024.0,
				 row->tx_growth / 1024.0);
	}
}

static void print_number(double v, int width, int decimals)
{
	if (isnan(v))
		printf(" %*s", width, "-");
	else
		printf(" %*.*f", width, decimals, v);
}

static void print_header(void)
{
	printf("%-8s %-12s %8s %6s %-5s %12s %9s %8s %8s %6s  %s\n",
	       "scenario", "impl", "size", "conns", "cpu", "msgs/s", "MB/s",
	       "p50 us", "p99 us", "ratio", "note");
}

static void print_row(const struct row *row)
{
	double mbps = row->rate * (double)row->size / 1e6;
	bool has_param = row->sc == SC_FANIN || row->sc == SC_IDLE ||
			 (row->sc == SC_MEMORY && !row->rss);

	printf("%-8s %-12s %8zu ", sc_names[row->sc], row->v->impl,
	       row->size);
	if (has_param)
		printf("%6u", row->param);
	else
		printf("%6s", "-");
	printf(" %-5s", cpu_name(row->cpu));
	if (row->error[0]) {
		printf(" FAILED: %s\n", row->error);
		return;
	}
	print_number(row->rate, 12, 0);
	print_number(row->size ? mbps : NAN, 9, 1);
	print_number(row->p50, 8, 1);
	print_number(row->p99, 8, 1);
	print_number(row->ratio, 6, 2);
	printf("  %s\n", row->note);
}

/* The 1-minute load average: how busy the shared machine was. */
double load_average(void)
{
	double load[1];

	return getloadavg(load, 1) == 1 ? load[0] : NAN;
}

double load_start;

/* Where and when: the figures mean little without it. */
static void print_context(void)
{
	struct utsname u;

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	printf("# ipc-bench %s, %s, %s %s %s, CPUs %d and %d, %u run%s "
	       "of %s each, load average %.2f at start and %.2f at end\n",
	       PACKAGE_VERSION, start_time, u.sysname, u.release, u.machine,
	       cpus[0], cpus[1], opt.runs, opt.runs == 1 ? "" : "s",
	       opt.quick || opt.count ? "a fixed count" : "a fixed time",
	       load_start, load_average());
}

void print_table(void)
{
	size_t i;

	print_context();
	print_header();
	for (i = 0; i < nrows; i++) {
		if (i && rows[i].sc != rows[i - 1].sc)
			printf("\n");
		print_row(&rows[i]);
	}
}

static void json_number(FILE *f, const char *key, double v)
{
	if (isnan(v))
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%.6g", key, v);
}

static void json_string(FILE *f, const char *key, const char *s)
{
	fprintf(f, ",\"%s\":\"", key);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if ((unsigned char)*s >= 0x20)
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_row(FILE *f, const struct row *row)
{
	fprintf(f, "{\"bench\":\"ipc-bench\",\"version\":\"%s\"",
		PACKAGE_VERSION);
	json_string(f, "start", start_time);
	json_string(f, "scenario", sc_names[row->sc]);
	json_string(f, "impl", row->v->impl);
	fprintf(f, ",\"size\":%zu", row->size);
	if (row->sc == SC_FANIN)
		fprintf(f, ",\"clients\":%u", row->param);
	if (row->sc == SC_IDLE || (row->sc == SC_MEMORY && !row->rss))
		fprintf(f, ",\"idle\":%u", row->param);
	json_string(f, "cpu", cpu_name(row->cpu));
	fprintf(f, ",\"runs\":%u", row->runs);
	json_number(f, "msgs_per_s", row->rate);
	json_number(f, "msgs_per_s_min", row->rate_min);
	json_number(f, "msgs_per_s_max", row->rate_max);
	json_number(f, "mb_per_s", row->rate * (double)row->size / 1e6);
	json_number(f, "p50_us", row->p50);
	json_number(f, "p99_us", row->p99);
	json_number(f, "ratio", row->ratio);
	json_string(f, "baseline", row->baseline);
	if (row->sc == SC_MEMORY && !row->rss) {
		json_number(f, "heap_bytes_per_conn", row->heap_per_conn);
		json_number(f, "kernel_bytes_per_conn", row->kernel_per_conn);
	}
	if (row->rss) {
		fprintf(f, ",\"rx_rss_peak_kib\":%ld,\"rx_rss_growth_kib\":%ld",
			row->rx_peak, row->rx_growth);
		fprintf(f, ",\"tx_rss_peak_kib\":%ld,\"tx_rss_growth_kib\":%ld",
			row->tx_peak, row->tx_growth);
	}
	json_string(f, "note", row->note);
	if (row->error[0])
		json_string(f, "error", row->error);
	fprintf(f, "}\n");
}

static void csv_number(FILE *f, double v)
{
	if (isnan(v))
		fprintf(f, ",");
	else
		fprintf(f, ",%.6g", v);
}

static void csv_row(FILE *f, const struct row *row)
{
	bool has_param = row->sc == SC_FANIN || row->sc == SC_IDLE ||
			 (row->sc == SC_MEMORY && !row->rss);

	fprintf(f, "%s,%s,%s,%zu,", start_time, sc_names[row->sc],
		row->v->impl, row->size);
	if (has_param)
		fprintf(f, "%u", row->param);
	fprintf(f, ",%s,%u", cpu_name(row->cpu), row->runs);
	csv_number(f, row->rate);
	csv_number(f, row->rate * (double)row->size / 1e6);
	csv_number(f, row->p50);
	csv_number(f, row->p99);
	csv_number(f, row->ratio);
	fprintf(f, ",%s", row->baseline);
	csv_number(f, row->heap_per_conn);
	csv_number(f, row->kernel_per_conn);
	csv_number(f, row->rx_peak < 0 ? NAN : (double)row->rx_peak);
	csv_number(f, row->rx_growth < 0 ? NAN : (double)row->rx_growth);
	csv_number(f, row->tx_peak < 0 ? NAN : (double)row->tx_peak);
	csv_number(f, row->tx_growth < 0 ? NAN : (double)row->tx_growth);
	fprintf(f, ",\"%s\"\n", row->error[0] ? row->error : row->note);
}

int write_lines(void)
{
	FILE *f = stdout;
	const char *path = opt.json_path ? opt.json_path : opt.csv_path;
	size_t i;

	if (path && strcmp(path, "-")) {
		f = fopen(path, "we");
		if (!f) {
			fprintf(stderr, "ipc-bench: %s: %s\n", path,
				strerror(errno));
			return -errno;
		}
	} else {
		printf("\n");
	}
	if (opt.csv_path)
		fprintf(f, "start,scenario,impl,size,conns,cpu,runs,msgs_per_s,"
			"mb_per_s,p50_us,p99_us,ratio,baseline,"
			"heap_bytes_per_conn,kernel_bytes_per_conn,"
			"rx_rss_peak_kib,rx_rss_growth_kib,tx_rss_peak_kib,"
			"tx_rss_growth_kib,note\n");
	for (i = 0; i < nrows; i++)
		(opt.csv_path ? csv_row : json_row)(f, &rows[i]);
	if (f != stdout && fclose(f) != 0) {
		fprintf(stderr, "ipc-bench: %s: %s\n", path, strerror(errno));
		return -EIO;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The targets, as ratios measured in this run                  */
/* ------------------------------------------------------------------ */

static void target(bool ok, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void target(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("  %-6s ", ok ? "met" : "MISSED");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static double rate_of(enum scenario sc, const char *impl, size_t size,
		      unsigned int param, int cpu)
{
	const struct row *r = find_row(sc, impl, size, param, cpu, false);

	return r ? r->rate : NAN;
}

static void targets_pingpong(void)
{
	int cpu;
	size_t i;
	unsigned int wins = 0, total = 0;
	double lib, raw, other;
	const char *peer;
	char lost[160] = "";
	size_t used = 0;

	for (cpu = CPU_SAME; cpu <= CPU_SPLIT; cpu++) {
		lib = rate_of(SC_PINGPONG, "libipc", 64, 0, cpu);
		raw = rate_of(SC_PINGPONG, "raw-epoll", 64, 0, cpu);
		if (!isnan(lib) && !isnan(raw))
			target(lib >= 0.9 * raw,
			       "ping-pong 64 B, %s CPU: libipc %.2f x raw-epoll "
			       "(>= 0.90)", cpu_name(cpu), lib / raw);
		other = rate_of(SC_PINGPONG, "libipc-embed", 64, 0, cpu);
		if (!isnan(lib) && !isnan(other))
			target(other >= 0.9 * lib,
			       "ping-pong 64 B, %s CPU: libipc-embed %.2f x "
			       "libipc (>= 0.90)", cpu_name(cpu), other / lib);
	}
	for (i = 0; i < nrows; i++) {
		if (rows[i].sc != SC_PINGPONG ||
		    strcmp(rows[i].v->impl, "libipc") || isnan(rows[i].rate))
			continue;
		for (peer = "zmq"; peer; peer = *peer == 'z' ? "nng" : NULL) {
			other = rate_of(SC_PINGPONG, peer, rows[i].size, 0,
					rows[i].cpu);
			if (isnan(other))
				continue;
			total++;
			if (rows[i].rate > other) {
				wins++;
			} else if (used < sizeof(lost)) {
				used += (size_t)snprintf(lost + used,
					sizeof(lost) - used, "%s %zu B %s %s",
					used ? "," : "; behind:", rows[i].size,
					cpu_name(rows[i].cpu), peer);
			}
		}
	}
	if (total)
		target(wins == total, "ping-pong: libipc ahead of ZeroMQ and "
		       "nng in %u of %u (size, placement, peer) pairs%s", wins,
		       total, lost);
}

static void targets_idle(void)
{
	unsigned int most = 0;
	size_t i;
	int cpu;
	double zero, full, kzero, kfull;

	for (i = 0; i < nrows; i++)
		if (rows[i].sc == SC_IDLE && rows[i].param > most)
			most = rows[i].param;
	for (cpu = CPU_SAME; most && cpu <= CPU_SPLIT; cpu++) {
		zero = rate_of(SC_IDLE, "libipc", 64, 0, cpu);
		full = rate_of(SC_IDLE, "libipc", 64, most, cpu);
		kzero = rate_of(SC_IDLE, "raw-epoll", 64, 0, cpu);
		kfull = rate_of(SC_IDLE, "raw-epoll", 64, most, cpu);
		if (!isnan(zero) && !isnan(full))
			target(full >= 0.9 * zero,
			       "idle, %s CPU: libipc with %u idle clients at "
			       "%.2f x its rate with none (>= 0.90; raw-epoll: "
			       "%.2f)", cpu_name(cpu), most, full / zero,
			       kfull / kzero);
	}
}

static void targets_stream(void)
{
	static const size_t large[] = { 65536, 1048576 };
	double lib, raw, packed, zmq, nng, best;
	size_t i;

	lib = rate_of(SC_STREAM, "libipc", 64, 0, CPU_SPLIT);
	raw = rate_of(SC_STREAM, "raw-writev", 64, 0, CPU_SPLIT);
	zmq = rate_of(SC_STREAM, "zmq", 64, 0, CPU_SPLIT);
	if (!isnan(lib))
		target(lib >= 10e6, "stream 64 B: libipc %.2fM msgs/s "
		       "(>= 10M)", lib / 1e6);
	if (!isnan(lib) && !isnan(raw))
		target(lib >= 12 * raw, "stream 64 B: libipc %.1f x raw-writev "
		       "(>= 12)", lib / raw);
	if (!isnan(lib) && !isnan(zmq))
		target(lib >= 2.5 * zmq, "stream 64 B: libipc %.1f x ZeroMQ "
		       "PUSH/PULL (>= 2.5)", lib / zmq);
	raw = rate_of(SC_STREAM, "libipc-embed", 64, 0, CPU_SPLIT);
	if (!isnan(lib) && !isnan(raw))
		target(raw >= 0.8 * lib, "stream 64 B: libipc-embed %.2f x "
		       "libipc (>= 0.80)", raw / lib);
	for (i = 0; i < 2; i++) {
		lib = rate_of(SC_STREAM, "libipc", large[i], 0, CPU_SPLIT);
		raw = rate_of(SC_STREAM, "raw-writev", large[i], 0, CPU_SPLIT);
		packed = rate_of(SC_STREAM, "raw-packed", large[i], 0,
				 CPU_SPLIT);
		zmq = rate_of(SC_STREAM, "zmq", large[i], 0, CPU_SPLIT);
		nng = rate_of(SC_STREAM, "nng", large[i], 0, CPU_SPLIT);
		best = isnan(packed) || raw > packed ? raw : packed;
		if (!isnan(lib) && !isnan(best))
			target(lib >= 0.75 * best, "stream %zu B: libipc %.2f x "
			       "the best raw MB/s (>= 0.75)", large[i],
			       lib / best);
		if (!isnan(lib) && (!isnan(zmq) || !isnan(nng)))
			target((isnan(zmq) || lib > zmq) &&
			       (isnan(nng) || lib > nng),
			       "stream %zu B: libipc %.2f x ZeroMQ, %.2f x nng "
			       "(> 1)", large[i], lib / zmq, lib / nng);
	}
}

/*
 * Handover: a sealed memfd against the same payload copied by libipc,
 * every byte written and read in both; and the size from which the memfd
 * wins (and keeps winning) in this run.
 */
static void targets_handover(void)
{
	size_t i, from = 0;
	double lib, memfd;
	bool any = false;

	for (i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		if (r->sc != SC_HANDOVER || strcmp(r->v->impl, "libipc-memfd"))
			continue;
		lib = rate_of(SC_HANDOVER, "libipc", r->size, 0, r->cpu);
		memfd = r->rate;
		if (isnan(lib) || isnan(memfd))
			continue;
		any = true;
		if (memfd <= lib)
			from = 0;
		else if (!from)
			from = r->size;
		if (r->size == 67108864)
			target(memfd >= 5 * lib, "handover 64 MiB: sealed memfd "
			       "%.2f x copied by libipc (>= 5)", memfd / lib);
	}
	if (!any)
		return;
	if (from)
		printf("  %-6s handover: the memfd wins from %zu B on in this "
		       "run\n", "info", from);
	else
		printf("  %-6s handover: the memfd never won in this run\n",
		       "info");
}

static void targets_other(void)
{
	const struct row *r;
	double lib, raw;
	size_t i;

	lib = rate_of(SC_CHURN, "libipc", 64, 0, CPU_SPLIT);
	raw = rate_of(SC_CHURN, "raw", 64, 0, CPU_SPLIT);
	if (!isnan(lib) && !isnan(raw))
		target(lib >= 0.75 * raw, "churn: libipc %.2f x raw (>= 0.75)",
		       lib / raw);
	for (i = 0; i < nrows; i++) {
		r = &rows[i];
		if (r->sc == SC_SWITCH && r->v->relay == raw_relay &&
		    !isnan(r->ratio))
			printf("  %-6s switch %zu B, %s CPU: raw-relay round "
			       "trip %.2f x direct: the kernel's cost of the "
			       "hop\n", "floor", r->size, cpu_name(r->cpu),
			       1 / r->ratio);
		else if (r->sc == SC_SWITCH && r->v->relay && !isnan(r->ratio))
			target(1 / r->ratio <= 2.2, "switch %zu B, %s CPU: "
			       "%s round trip %.2f x direct (<= 2.2)", r->size,
			       cpu_name(r->cpu), r->v->impl, 1 / r->ratio);
		if (r->sc == SC_MEMORY && !r->rss &&
		    !strcmp(r->v->impl, "libipc") && !isnan(r->heap_per_conn))
			target(r->heap_per_conn <= 256, "memory: libipc heap "
			       "%.0f B per idle connection at %u (<= 256)",
			       r->heap_per_conn, r->param);
		/* Two payloads, and the library's 64 KiB chunks beside. */
		if (r->rss && !strcmp(r->v->impl, "libipc") && r->runs)
			target(r->rx_growth <= 2 * 1024 + 256 &&
			       r->tx_growth <= 2 * 1024 + 256,
			       "memory: 1 MiB stream, RSS growth of the libipc "
			       "receiver %.2f MiB, sender %.2f MiB (<= 2 "
			       "payloads + 0.25 MiB)", r->rx_growth / 1024.0,
			       r->tx_growth / 1024.0);
	}
}

void print_targets(void)
{
	printf("\nTargets of the performance issue, from this run "
	       "(informative, never a failure):\n");
	targets_pingpong();
	targets_idle();
	targets_stream();
	targets_handover();
	targets_other();
}
