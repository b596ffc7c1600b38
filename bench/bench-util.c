/*
 * ipc-bench - clock, placement, limits, payloads, framing and samples.
 *
 * SPDX-License-Identifier: ISC
 */

#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TAIL_MAGIC 0x5a5aa5a5c3c33c3cull

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double ns_to_s(uint64_t ns)
{
	return (double)ns / 1e9;
}

int pin_cpu(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	return 0;
}

/*
 * Raises the soft RLIMIT_NOFILE to @need, up to the hard limit, and says
 * so on stderr when the hard limit is lower.  Returns the soft limit.
 */
unsigned int raise_nofile(unsigned int need, const char *who)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur >= need)
		return rl.rlim_cur > UINT32_MAX ? UINT32_MAX :
						  (unsigned int)rl.rlim_cur;
	rl.rlim_cur = need <= rl.rlim_max ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < need)
		fprintf(stderr,
			"ipc-bench: note: %s needs %u fds but RLIMIT_NOFILE "
			"allows %lu (hard limit %lu); raise it with "
			"ulimit -Hn\n", who, need,
			(unsigned long)rl.rlim_cur,
			(unsigned long)rl.rlim_max);
	return (unsigned int)rl.rlim_cur;
}

int fail(struct result *res, int err, const char *fmt, ...)
{
	va_list ap;

	if (res->err)
		return res->err;
	res->err = err < 0 ? err : -EPROTO;
	va_start(ap, fmt);
	vsnprintf(res->what, sizeof(res->what), fmt, ap);
	va_end(ap);
	return res->err;
}

/* The message that ends a stream: a length no data message has. */
size_t marker_len(size_t size)
{
	return size ? 0 : 1;
}

static unsigned char fill_byte(uint64_t seq)
{
	return (unsigned char)(seq * 7 + 1);
}

/*
 * A payload carries its sequence number in its first 8 bytes and, past
 * 16 bytes, once more (scrambled) in its last 8: a lost, repeated or
 * misframed message shows.  With @verify every other byte is set too.
 */
void stamp(char *p, size_t size, uint64_t seq, bool verify)
{
	uint64_t tail = seq ^ TAIL_MAGIC;
	size_t head = size < 8 ? size : 8;
	size_t end = size >= 16 ? size - 8 : size;

	/* Fixed-size copies compile to plain stores: the loops stay cheap. */
	if (head == 8)
		memcpy(p, &seq, 8);
	else
		memcpy(p, &seq, head);
	if (size >= 16)
		memcpy(p + size - 8, &tail, 8);
	if (verify && end > head)
		memset(p + head, fill_byte(seq), end - head);
}

/*
 * Bytes [@off, @off + @n) of the payload that stamp() makes with
 * @verify: for a writer that makes it a piece at a time.
 */
void stamp_part(char *buf, size_t off, size_t n, size_t size, uint64_t seq)
{
	uint64_t tail = seq ^ TAIL_MAGIC;
	size_t head = size < 8 ? size : 8, i;

	memset(buf, fill_byte(seq), n);
	for (i = off; i < head && i < off + n; i++)
		buf[i - off] = ((const char *)&seq)[i];
	if (size < 16)
		return;
	for (i = off > size - 8 ? off : size - 8; i < off + n; i++)
		buf[i - off] = ((const char *)&tail)[i - (size - 8)];
}

/*
 * Are the @n bytes at @p all @b?  Every byte is read, a word at a time
 * and without a branch per byte, so the check runs at the speed of
 * memory as a real consumer's linear read would (a loop that tests
 * each byte runs at a fraction of it and hides what the transports
 * cost behind its own).
 */
static int bytes_all(const char *p, size_t n, unsigned char b)
{
	uint64_t want = 0x0101010101010101ull * b, diff, w[8];
	size_t i, j, k;

	for (i = 0; i + sizeof(w) <= n; i += 4096) {
		diff = 0;
		for (j = i; j < i + 4096 && j + sizeof(w) <= n;
		     j += sizeof(w)) {
			memcpy(w, p + j, sizeof(w));
			for (k = 0; k < 8; k++)
				diff |= w[k] ^ want;
		}
		if (diff)
			return -EBADMSG;
	}
	for (i = n - n % sizeof(w); i < n; i++)
		if ((unsigned char)p[i] != b)
			return -EBADMSG;
	return 0;
}

int stamp_check(const char *p, size_t len, size_t size, uint64_t seq,
		bool verify)
{
	uint64_t tail = seq ^ TAIL_MAGIC;
	size_t head = size < 8 ? size : 8;
	size_t end = size >= 16 ? size - 8 : size;
	unsigned char b = fill_byte(seq);
	uint64_t got;

	if (len != size)
		return -EBADMSG;
	if (head == 8) {
		memcpy(&got, p, 8);
		if (got != seq)
			return -EBADMSG;
	} else if (memcmp(p, &seq, head) != 0) {
		return -EBADMSG;
	}
	if (size >= 16) {
		memcpy(&got, p + size - 8, 8);
		if (got != tail)
			return -EBADMSG;
	}
	if (!verify)
		return 0;
	return bytes_all(p + head, end > head ? end - head : 0, b);
}

bool run_done(const struct run *r, uint64_t done, uint64_t start_ns,
	      uint64_t now)
{
	if (r->count)
		return done >= r->count;
	return now - start_ns >= (uint64_t)(r->seconds * 1e9);
}

/*
 * Writes all of iov to a socket (writev, without SIGPIPE); waits for
 * room when the socket is non-blocking.
 */
int write_iov(int fd, struct iovec *iov, int iovcnt)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	struct msghdr msg = { 0 };
	ssize_t n;

	while (iovcnt) {
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)iovcnt;
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			poll(&p, 1, -1);
			continue;
		}
		if (n < 0)
			return -errno;
		while (iovcnt && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* One frame, header and payload in one writev. */
int write_frame(int fd, const char *payload, size_t len)
{
	char header[FRAME_HEADER];
	struct iovec iov[2] = {
		{ .iov_base = header, .iov_len = FRAME_HEADER },
		{ .iov_base = (char *)payload, .iov_len = len },
	};

	ipc__be32_put(header, (uint32_t)len);
	return write_iov(fd, iov, len ? 2 : 1);
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (!p) {
		fprintf(stderr, "ipc-bench: out of memory (%zu bytes)\n", size);
		_exit(1);
	}
	return p;
}

void samples_add(struct samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v) {
			fprintf(stderr, "ipc-bench: out of memory\n");
			_exit(1);
		}
	}
	s->v[s->n++] = ns;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Fills in p50 and p99 (microseconds) and frees the samples. */
void samples_report(struct samples *s, struct result *res)
{
	size_t i99;

	if (s->n) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
		i99 = (s->n * 99 + 99) / 100 - 1;
		res->p50_us = (double)s->v[s->n / 2] / 1e3;
		res->p99_us = (double)s->v[i99 < s->n ? i99 : s->n - 1] / 1e3;
	}
	free(s->v);
	*s = (struct samples){ 0 };
}

int ready_send(const struct run *r, char what)
{
	ssize_t n;

	do {
		n = write(r->ready_fd, &what, 1);
	} while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : -EPIPE;
}

int go_wait(const struct run *r)
{
	char byte;
	ssize_t n;

	do {
		n = read(r->go_fd, &byte, 1);
	} while (n < 0 && errno == EINTR);
	return n == 0 ? 0 : -EPIPE;
}

/* One byte for each sender process: the sink has everything. */
void done_send(const struct run *r)
{
	char bytes[64] = { 0 };
	unsigned int n = r->nsenders < sizeof(bytes) ? r->nsenders :
						     sizeof(bytes);

	if (r->done_w >= 0 && write(r->done_w, bytes, n) < 0)
		perror("ipc-bench: done pipe");
}

void done_wait(const struct run *r)
{
	char byte;

	while (read(r->done_r, &byte, 1) < 0 && errno == EINTR)
		;
}

/* Has the driver closed the stop pipe? */
bool stop_requested(const struct run *r)
{
	struct pollfd p = { .fd = r->stop_fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/* Waits until the driver closes the stop pipe. */
void stop_wait(const struct run *r)
{
	char byte;

	while (read(r->stop_fd, &byte, 1) < 0 && errno == EINTR)
		;
}

/* Bytes malloc has handed out, mmapped blocks included. */
int64_t heap_used(void)
{
#ifdef HAVE_MALLINFO2
	struct mallinfo2 mi = mallinfo2();
#else
	struct mallinfo mi = mallinfo();
#endif

	return (int64_t)mi.uordblks + (int64_t)mi.hblkhd;
}

/* The kernel's slab memory, system-wide, from /proc/meminfo. */
int64_t slab_bytes(void)
{
	char line[128];
	long long kib = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Slab: %lld kB", &kib) == 1)
			break;
	fclose(f);
	return kib < 0 ? -1 : kib * 1024;
}

long rss_peak_kib(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return -1;
	return ru.ru_maxrss;
}

static int unix_socket(const char *path, struct sockaddr_un *sa)
{
	int fd;

	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	strcpy(sa->sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd < 0 ? -errno : fd;
}

int unix_listen(const char *path)
{
	struct sockaddr_un sa;
	int fd = unix_socket(path, &sa);

	if (fd < 0)
		return fd;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int unix_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = unix_socket(path, &sa);
	int ret;

	if (fd < 0)
		return fd;
	do {
		ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * Makes room for the next read: at least a chunk, and the whole of the
 * frame in progress (the buffer grows to the largest frame and stays so).
 * Returns how much to read: a chunk, or exactly the rest of a large
 * frame, so that the next frame starts the buffer again and nothing
 * large is ever moved.
 */
static ssize_t reader_prepare(struct reader *rd)
{
	size_t live = rd->len - rd->off, need = 0, want;
	char *p;

	if (live >= FRAME_HEADER) {
		need = FRAME_HEADER + (size_t)ipc__be32_get(rd->buf + rd->off);
		if (need - FRAME_HEADER > MAX_PAYLOAD)
			return -EPROTO;
	}
	want = need > CHUNK ? need : CHUNK;
	if (rd->off && rd->cap - rd->off < want) {
		memmove(rd->buf, rd->buf + rd->off, live);
		rd->off = 0;
		rd->len = live;
	}
	if (rd->cap - rd->off < want) {
		p = realloc(rd->buf, rd->off + want);
		if (!p)
			return -ENOMEM;
		rd->buf = p;
		rd->cap = rd->off + want;
	}
	if (need > CHUNK)
		return (ssize_t)(need - live);
	return (ssize_t)(rd->cap - rd->len);
}

/* Hands out every whole frame in the buffer. */
static int reader_parse(struct reader *rd, frame_fn fn, void *arg)
{
	size_t live, need;
	int ret;

	while ((live = rd->len - rd->off) >= FRAME_HEADER) {
		need = FRAME_HEADER + (size_t)ipc__be32_get(rd->buf + rd->off);
		if (live < need)
			break;
		ret = fn(arg, rd->buf + rd->off, need);
		if (ret < 0)
			return ret;
		rd->off += need;
	}
	if (rd->off == rd->len)
		rd->off = rd->len = 0;
	return 0;
}

/*
 * One read of up to a chunk (or of the rest of a large frame, straight
 * into place); @fn gets each whole frame, header included, and may keep
 * pointing at it until the next call.  Returns the byte count, 0 at end
 * of stream, -errno, or what @fn returned when negative.
 */
ssize_t reader_fill(struct reader *rd, int fd, frame_fn fn, void *arg)
{
	ssize_t room = reader_prepare(rd), n;
	int ret;

	if (room < 0)
		return room;
	do {
		n = read(fd, rd->buf + rd->len, (size_t)room);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n < 0 ? -errno : 0;
	rd->len += (size_t)n;
	ret = reader_parse(rd, fn, arg);
	return ret < 0 ? ret : n;
}

void reader_free(struct reader *rd)
{
	free(rd->buf);
	*rd = (struct reader){ 0 };
}
