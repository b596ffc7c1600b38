/*
 * bench-wsd - ipc-wsd against a direct libipc connection, same run.
 *
 * Usage: bench-wsd PONGD IPC_WSD [ROUND_TRIPS]
 *
 * Starts PONGD and IPC_WSD (--allow pong on a free loopback port) in a
 * private run directory, then measures echo round trips of 64 bytes and
 * of 1 MiB, each five times, alternating: a libipc client connected to
 * pongd directly (ipc_write() then ipc_wait_event() until the reply), and
 * a WebSocket client of ipc-wsd (one masked binary frame written, the
 * reply frame read as it comes, in one read when it came whole; the frame
 * is masked once beforehand, so that what is measured is the gateway,
 * not this client), all pinned to one CPU.
 * It prints the medians and
 * the ratios that doc/performance.md states as targets: the 64 B round
 * trip through ipc-wsd at most 2.5 times the direct one, the 1 MiB
 * throughput at least half the direct one.
 *
 * A third row is a reference for any gateway on the same path: the same
 * WebSocket client through a bare relay of this program (a child
 * process, blocking I/O, one connection at a time, one buffer): it reads
 * each frame whole into its buffer, unmasks it in place, writes it to
 * pongd with its libipc header, reads the reply and writes it back as a
 * frame; no event loop, no library, no check.  Not run by make check.
 *
 * SPDX-License-Identifier: ISC
 */

#include <config.h>

#include <arpa/inet.h>
#include <sched.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libipc.h>

#define RUNS 5
#define BIG (1024 * 1024)
#define BIG_ROUND_TRIPS 200

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench-wsd: %s: %s\n", what, strerror(errno));
	exit(1);
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static unsigned int free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned int port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		die("free port");
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int tcp_connect(unsigned int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	if (fd < 0)
		die("socket");
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w <= 0)
			die("write");
		p = (const char *)p + w;
		n -= (size_t)w;
	}
}

static void read_all(int fd, void *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);

		if (r <= 0)
			die("read");
		p = (char *)p + r;
		n -= (size_t)r;
	}
}

static void writev_all(int fd, struct iovec *iov)
{
	int cnt = 2;

	while (cnt) {
		ssize_t w = writev(fd, iov, cnt);

		if (w <= 0)
			die("writev");
		while (cnt && (size_t)w >= iov[0].iov_len) {
			w -= (ssize_t)iov[0].iov_len;
			iov++;
			cnt--;
		}
		if (cnt) {
			iov[0].iov_base = (char *)iov[0].iov_base + w;
			iov[0].iov_len -= (size_t)w;
		}
	}
}

/* --- WebSocket client ------------------------------------------------- */

static int ws_open(unsigned int port)
{
	static const char head[] =
		"GET /pong HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		"Upgrade: websocket\r\nConnection: Upgrade\r\n"
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
		"Sec-WebSocket-Version: 13\r\n\r\n";
	char reply[512];
	size_t got = 0;
	int fd, i;

	for (i = 0; i < 500 && (fd = tcp_connect(port)) < 0; i++)
		poll(NULL, 0, 10);
	if (fd < 0)
		die("connect to ipc-wsd");
	write_all(fd, head, sizeof(head) - 1);
	/* The 101 head, byte by byte up to its blank line. */
	while (got < 4 || memcmp(reply + got - 4, "\r\n\r\n", 4) != 0) {
		if (got == sizeof(reply) - 1)
			die("handshake");
		read_all(fd, reply + got++, 1);
	}
	if (strncmp(reply, "HTTP/1.1 101", 12) != 0) {
		errno = EPROTO;
		die("handshake refused");
	}
	return fd;
}

/* A masked binary frame of @len bytes, built once. */
static char *ws_frame(const char *payload, size_t len, size_t *flen)
{
	static const uint8_t key[4] = { 0x12, 0x34, 0x56, 0x78 };
	char *f = malloc(len + 14);
	size_t h = 0, i;

	if (!f)
		die("malloc");
	f[h++] = (char)0x82;
	if (len < 126) {
		f[h++] = (char)(0x80 | len);
	} else if (len <= 0xffff) {
		f[h++] = (char)(0x80 | 126);
		f[h++] = (char)(len >> 8);
		f[h++] = (char)len;
	} else {
		f[h++] = (char)(0x80 | 127);
		for (i = 0; i < 8; i++)
			f[h++] = (char)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(f + h, key, 4);
	h += 4;
	for (i = 0; i < len; i++)
		f[h + i] = (char)(payload[i] ^ key[i & 3]);
	*flen = h + len;
	return f;
}

/*
 * Bytes of extended length after a frame's first two bytes @h (0, 2 or
 * 8), and the payload length once they are there too.
 */
static size_t frame_ext(const uint8_t *h)
{
	uint8_t n = h[1] & 0x7f;

	return n == 126 ? 2 : n == 127 ? 8 : 0;
}

static uint64_t frame_length(const uint8_t *h)
{
	size_t i, ext = frame_ext(h);
	uint64_t n = ext ? 0 : h[1] & 0x7f;

	for (i = 0; i < ext; i++)
		n = n << 8 | h[2 + i];
	return n;
}

/*
 * Reads the reply, one binary frame, into @buf (@cap bytes, room for the
 * frame): its payload's length, the payload after the header.  As a
 * WebSocket client reads: what the socket has, in one read when the
 * frame came whole, not its header and its payload apart.
 */
static size_t ws_read(int fd, char *buf, size_t cap)
{
	const uint8_t *h = (const uint8_t *)buf;
	size_t have = 0;

	for (;;) {
		ssize_t r = read(fd, buf + have, cap - have);
		size_t hlen;
		uint64_t n;

		if (r <= 0)
			die("read");
		have += (size_t)r;
		if (have < 2 || have < 2 + frame_ext(h))
			continue;
		hlen = 2 + frame_ext(h);
		n = frame_length(h);
		if (h[0] != 0x82 || n > cap - hlen) {
			errno = EPROTO;
			die("ws reply");
		}
		if (have < hlen + n)
			continue;
		if (have > hlen + n) {
			errno = EPROTO;
			die("ws reply: more than one frame");
		}
		return (size_t)n;
	}
}

static double ws_run(unsigned int port, const char *payload, size_t len,
		     unsigned long count, char *buf)
{
	size_t flen;
	char *frame = ws_frame(payload, len, &flen);
	int fd = ws_open(port);
	unsigned long i;
	double t;

	t = now_s();
	for (i = 0; i < count; i++) {
		write_all(fd, frame, flen);
		if (ws_read(fd, buf, len + 10) != len) {
			errno = EPROTO;
			die("ws echo");
		}
	}
	t = now_s() - t;
	close(fd);
	free(frame);
	return t;
}

/* --- the bare relay: a reference ------------------------------------- */

static void unmask_words(char *p, size_t n, const uint8_t key[4])
{
	uint8_t k8[8];
	uint64_t k, w;
	size_t i = 0;

	memcpy(k8, key, 4);
	memcpy(k8 + 4, key, 4);
	memcpy(&k, k8, 8);
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		w ^= k;
		memcpy(p + i, &w, 8);
	}
	for (; i < n; i++)
		p[i] = (char)(p[i] ^ key[i & 3]);
}

/* Relays one client's frames to pongd and back until it hangs up. */
static void relay_client(int fd, const char *svcpath, char *buf)
{
	static const char ok[] =
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Accept: "
		"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char head[1024];
	size_t got = 0;
	int svc;

	while (got < 4 || memcmp(head + got - 4, "\r\n\r\n", 4) != 0) {
		if (got == sizeof(head) || read(fd, head + got++, 1) != 1)
			return;
	}
	write_all(fd, ok, sizeof(ok) - 1);
	svc = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (strlen(svcpath) >= sizeof(sun.sun_path))
		die("relay: run directory path too long");
	memcpy(sun.sun_path, svcpath, strlen(svcpath) + 1);
	if (svc < 0 || connect(svc, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		die("relay: connect to pongd");
	for (;;) {
		uint8_t h[14], key[4];
		uint64_t n;
		struct iovec iov[2];
		uint32_t be;
		ssize_t r;
		int i;

		r = read(fd, h, 2);
		if (r <= 0)
			break;
		if (r == 1)
			read_all(fd, h + 1, 1);
		read_all(fd, h + 2, frame_ext(h));
		n = frame_length(h);
		if (n > BIG)
			die("relay: frame too large");
		read_all(fd, key, 4);
		read_all(fd, buf, (size_t)n);
		unmask_words(buf, (size_t)n, key);
		be = htonl((uint32_t)n);
		iov[0] = (struct iovec){ &be, 4 };
		iov[1] = (struct iovec){ buf, (size_t)n };
		writev_all(svc, iov);
		read_all(svc, &be, 4);
		n = ntohl(be);
		if (n > BIG)
			die("relay: reply too large");
		read_all(svc, buf, (size_t)n);
		h[0] = 0x82;
		if (n < 126) {
			h[1] = (uint8_t)n;
			iov[0].iov_len = 2;
		} else if (n <= 0xffff) {
			h[1] = 126;
			h[2] = (uint8_t)(n >> 8);
			h[3] = (uint8_t)n;
			iov[0].iov_len = 4;
		} else {
			h[1] = 127;
			for (i = 0; i < 8; i++)
				h[2 + i] = (uint8_t)(n >> (56 - 8 * i));
			iov[0].iov_len = 10;
		}
		iov[0].iov_base = h;
		iov[1] = (struct iovec){ buf, (size_t)n };
		writev_all(fd, iov);
	}
	close(svc);
}

/* The relay's process: listens on @port, serves clients one by one. */
static pid_t relay_start(unsigned int port, const char *rundir)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char svcpath[128];
	int lfd, one = 1;
	pid_t pid;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 8) < 0)
		die("relay: listen");
	snprintf(svcpath, sizeof(svcpath), "%s/pong", rundir);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char *buf = malloc(BIG);

		if (!buf)
			die("malloc");
		for (;;) {
			int fd = accept(lfd, NULL, NULL);

			if (fd < 0)
				continue;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			relay_client(fd, svcpath, buf);
			close(fd);
		}
	}
	close(lfd);
	return pid;
}

/* --- direct libipc client --------------------------------------------- */

static double ipc_run(const char *payload, size_t len, unsigned long count,
		      char *buf)
{
	void *ctx = NULL;
	unsigned long i;
	int fd, i2;
	double t;

	if (ipc_context_init(&ctx) < 0)
		die("context");
	for (i2 = 0; i2 < 500 && ipc_connect_service(ctx, &fd, "pong", 4) < 0;
	     i2++)
		poll(NULL, 0, 10);
	t = now_s();
	for (i = 0; i < count; i++) {
		char type = 0;

		if (ipc_write(ctx, fd, payload, len) < 0)
			die("ipc_write");
		while (type != MESSAGE_RX) {
			size_t index, blen = BIG;
			int ofd, nfd;

			if (ipc_wait_event(ctx, &type, &index, &ofd, &nfd, buf,
					   &blen) < 0 || type == DISCONNECTION)
				die("ipc_wait_event");
		}
	}
	t = now_s() - t;
	ipc_context_deinit(&ctx);
	return t;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp);
	return v[RUNS / 2];
}

int main(int argc, char **argv)
{
	unsigned long small = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
	char rundir[] = "/tmp/bench-wsd.XXXXXX", listen[32], path[64];
	char opt_listen[] = "--listen", opt_allow[] = "--allow",
	     service[] = "pong";
	double d64[RUNS], w64[RUNS], dbig[RUNS], wbig[RUNS], r64[RUNS],
	       rbig[RUNS];
	char *payload, *buf;
	unsigned int port, rport;
	pid_t pongd, wsd, relay;
	int i;

	if (argc < 3) {
		fprintf(stderr, "usage: bench-wsd PONGD IPC_WSD [ROUND_TRIPS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Every process on one CPU, as ipc-bench's "same" placement: a relay
	 * is then measured by its work, not by cross-CPU wake-ups, which a
	 * busy machine makes erratic.
	 */
	{
		cpu_set_t set;
		int cpu = sched_getcpu();

		CPU_ZERO(&set);
		CPU_SET(cpu < 0 ? 0 : cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	if (!mkdtemp(rundir))
		die("mkdtemp");
	setenv("IPC_RUNDIR", rundir, 1);
	unsetenv("IPC_NETWORK");
	port = free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	{
		char *pargv[] = { argv[1], NULL };
		char *wargv[] = { argv[2], opt_listen, listen, opt_allow,
				  service, NULL };

		pongd = spawn(pargv);
		wsd = spawn(wargv);
	}
	rport = free_port();
	relay = relay_start(rport, rundir);
	payload = malloc(BIG);
	buf = malloc(BIG + 10);	/* a frame's header and payload */
	if (!payload || !buf)
		die("malloc");
	for (i = 0; i < BIG; i++)
		payload[i] = (char)(i * 7);
	for (i = 0; i < RUNS; i++) {
		d64[i] = ipc_run(payload, 64, small, buf) / (double)small;
		w64[i] = ws_run(port, payload, 64, small, buf) / (double)small;
		dbig[i] = 2.0 * BIG * BIG_ROUND_TRIPS /
			  ipc_run(payload, BIG, BIG_ROUND_TRIPS, buf);
		wbig[i] = 2.0 * BIG * BIG_ROUND_TRIPS /
			  ws_run(port, payload, BIG, BIG_ROUND_TRIPS, buf);
		r64[i] = ws_run(rport, payload, 64, small, buf) /
			 (double)small;
		rbig[i] = 2.0 * BIG * BIG_ROUND_TRIPS /
			  ws_run(rport, payload, BIG, BIG_ROUND_TRIPS, buf);
	}
	printf("| path | 64 B round trip (us) | 1 MiB echo (MB/s, both ways) |\n");
	printf("|---|---:|---:|\n");
	printf("| direct libipc | %.1f | %.0f |\n", median(d64) * 1e6,
	       median(dbig) / 1e6);
	printf("| through ipc-wsd | %.1f | %.0f |\n", median(w64) * 1e6,
	       median(wbig) / 1e6);
	printf("| ratio (target) | %.2fx (<= 2.5x) | %.2fx (>= 0.5x) |\n",
	       median(w64) / median(d64), median(wbig) / median(dbig));
	printf("| bare relay (reference) | %.1f | %.0f |\n",
	       median(r64) * 1e6, median(rbig) / 1e6);
	printf("| bare relay ratio | %.2fx | %.2fx |\n",
	       median(r64) / median(d64), median(rbig) / median(dbig));
	kill(relay, SIGTERM);
	kill(wsd, SIGTERM);
	kill(pongd, SIGTERM);
	waitpid(relay, NULL, 0);
	waitpid(wsd, NULL, 0);
	waitpid(pongd, NULL, 0);
	snprintf(path, sizeof(path), "%s", rundir);
	rmdir(path);
	return 0;
}
