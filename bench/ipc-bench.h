/*
 * ipc-bench.h - what the driver of ipc-bench (ipc-bench.c) and its report
 * (bench-report.c) share: the scenarios, the options, the rows of the
 * table.
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_BENCH_DRIVER_H
#define IPC_BENCH_DRIVER_H

#include "bench.h"

#define MAX_LIST 16

enum scenario {
	SC_PINGPONG,
	SC_STREAM,
	SC_FANIN,
	SC_IDLE,
	SC_CHURN,
	SC_SWITCH,
	SC_MEMORY,
	SC_HANDOVER,		/* large payloads: sealed memfds vs copies */
	SC_ROUTED,		/* only with --routed: needs the daemons */
	SC_COUNT
};

enum placement { CPU_DEFAULT, CPU_SAME, CPU_SPLIT, CPU_BOTH };

struct options {
	unsigned int scenarios;		/* bit per enum scenario */
	size_t sizes[MAX_LIST];
	int nsizes;
	const char *impls;
	unsigned int runs;
	uint64_t count;
	double seconds;
	enum placement cpu;
	unsigned int clients[MAX_LIST];
	int nclients;
	unsigned int idle[MAX_LIST];
	int nidle;
	const char *json_path;
	const char *csv_path;
	const char *routed;		/* where ipcd and ipc-tcpd are */
	bool quick;
	bool verify;
};

extern struct options opt;
extern const char *const sc_names[SC_COUNT];

struct variant {
	const char *impl;
	role_fn server;
	role_fn client;
	bool callbacks;		/* switch relay through callbacks */
	role_fn relay;		/* switch: the process in the middle */
	bool routed;		/* through ipcd and two ipc-tcpd */
};

struct row {
	enum scenario sc;
	const struct variant *v;
	const char *baseline;
	size_t size;
	unsigned int param;	/* clients (fanin) or idle clients */
	int cpu;		/* CPU_SAME, CPU_SPLIT */
	bool rss;		/* memory: the 1 MiB stream part */
	/* filled in by the runs */
	unsigned int runs;
	double rate, rate_min, rate_max, p50, p99, ratio;
	double heap_per_conn, kernel_per_conn;
	long rx_peak, rx_growth, tx_peak, tx_growth;
	char note[96];
	char error[200];
};

/* The table, filled by the driver. */
extern struct row *rows;
extern size_t nrows;
extern int cpus[2];
extern char start_time[32];

const char *cpu_name(int cpu);

/* bench-report.c: the table, the JSON or CSV lines, the targets. */
extern double load_start;
double load_average(void);
void compute_ratios(void);
void print_table(void);
int write_lines(void);
void print_targets(void);

#endif /* IPC_BENCH_DRIVER_H */
