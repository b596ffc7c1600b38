/*
 * fuzz-passfd - libFuzzer target for the receive path of lib/read.c with
 * file descriptors attached (SCM_RIGHTS).
 *
 * SPDX-License-Identifier: ISC
 *
 * The input describes frames, the fds each carries and how a sender cuts
 * the stream into sendmsg(2) calls; the harness sends them into one end of
 * a socketpair and reads the other end the way the library does
 * (ipc__fill(): recvmsg with room for the fds the bound leaves), taking
 * frames out with ipc__frame_peek(), their fds with ipc__rx_fds_take() at
 * the frame's stream offset, and ipc__frame_consume().  Frame i's fds are
 * copies of one memfd holding i, so a frame given another's fds shows.
 *
 * Checks: a stream sent by the rules (a frame with fds alone in its
 * sendmsg, from its header) to a connection whose bound holds all its fds
 * is delivered whole, every frame with exactly its fds, in order; a read
 * may fail (-EPROTO, the peer is dropped) only when the input broke a
 * rule (fds in the middle of a frame) or the bound was too small; and
 * after every run, received or not, taken or not, the process holds the
 * fds it held before (/proc/self/fd).
 *
 * Input: byte 0: the bound (0, 1, 3, 16, 253, 1024 by its low 3 bits);
 * then one record per frame, up to FRAMES_MAX:
 *   byte a: payload length (0..255)
 *   byte b: bits 0-1 fds carried (0..3); bit 2: the bytes queued so far
 *           leave in a sendmsg before this frame (a cut); bit 3: hostile,
 *           its fds come with byte (c mod (length + 4)) of the frame
 *           instead of its first; bits 4-7 ignored
 *   byte c: the hostile offset
 */

#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"

#define FRAMES_MAX 24

static const size_t bounds[8] = { 0, 1, 3, 16, 253, 1024, 1024, 1024 };

struct frame {
	uint32_t len;
	uint32_t nfds;
	bool cut;
	bool hostile;
	uint32_t at;		/* hostile: the byte that carries the fds */
};

static struct frame frames[FRAMES_MAX];
static size_t nframes;

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	CHECK(d != NULL, "opendir /proc/self/fd");
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;
}

static void send_bytes(int fd, const char *p, size_t len, const int *fds,
		       uint32_t nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 3)];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = (void *)p, .iov_len = len };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;
	ssize_t n;

	if (!len)
		return;
	if (nfds) {
		memset(&control, 0, sizeof(control));
		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	CHECK(n == (ssize_t)len, "sendmsg of %zu bytes: %zd", len, n);
}

/* The frames, sent by the input's cuts; returns whether a rule broke. */
static bool send_all(int fd)
{
	static char pending[FRAMES_MAX * (IPC_HEADER + 255)];
	char frame[IPC_HEADER + 255];
	size_t held = 0, flen, i, k;
	bool broken = false;
	int mfd, fds[3];

	for (i = 0; i < nframes; i++) {
		const struct frame *f = &frames[i];

		flen = IPC_HEADER + f->len;
		ipc__be32_put(frame, f->len);
		memset(frame + IPC_HEADER, (int)i, f->len);
		if (f->cut || f->nfds) {
			send_bytes(fd, pending, held, NULL, 0);
			held = 0;
		}
		if (!f->nfds) {
			memcpy(pending + held, frame, flen);
			held += flen;
			continue;
		}
		mfd = memfd_create("fuzz", MFD_CLOEXEC);
		CHECK(mfd >= 0, "memfd_create");
		CHECK(pwrite(mfd, &i, sizeof(i), 0) == sizeof(i), "pwrite");
		for (k = 0; k < f->nfds; k++)
			fds[k] = mfd;
		if (f->hostile && f->at) {
			broken = true;
			send_bytes(fd, frame, f->at, NULL, 0);
			send_bytes(fd, frame + f->at, flen - f->at, fds,
				   f->nfds);
		} else {
			send_bytes(fd, frame, flen, fds, f->nfds);
		}
		close(mfd);
	}
	send_bytes(fd, pending, held, NULL, 0);
	return broken;
}

/* Frame i's fds: @n of them, each a memfd holding i; then closed. */
static void check_fds(struct ipc_fdmsg *m, size_t i)
{
	size_t got = 0, k;

	CHECK((m ? m->n : 0) == frames[i].nfds, "frame %zu: %u fds, sent %u",
	      i, m ? m->n : 0, frames[i].nfds);
	for (k = 0; m && k < m->n; k++) {
		CHECK(pread(m->fds[k], &got, sizeof(got), 0) == sizeof(got),
		      "frame %zu: fd %zu unreadable", i, k);
		CHECK(got == i, "frame %zu: fd %zu is frame %zu's", i, k, got);
		CHECK(fcntl(m->fds[k], F_GETFD) == FD_CLOEXEC,
		      "frame %zu: fd %zu without close-on-exec", i, k);
	}
	ipc__fdmsg_free(m);
}

static void parse(const uint8_t *p, size_t left)
{
	nframes = 0;
	while (left >= 3 && nframes < FRAMES_MAX) {
		struct frame *f = &frames[nframes++];

		f->len = p[0];
		f->nfds = p[1] & 3;
		f->cut = p[1] & 4;
		f->hostile = f->nfds && (p[1] & 8);
		f->at = f->hostile ? p[2] % (IPC_HEADER + f->len) : 0;
		p += 3;
		left -= 3;
	}
}

static struct ipc_ctx *context(size_t bound)
{
	static void *handle;
	int ret;

	if (!handle) {
		ret = ipc_context_init(&handle);
		CHECK(ret == 0, "ipc_context_init: %d", ret);
	}
	ret = ipc_context_fd_limit(handle, bound);
	CHECK(ret == 0, "ipc_context_fd_limit: %d", ret);
	return handle;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_conn conn = { .peer = IPC_NONE,
				 .flags = IPC_F_SOCKET | IPC_F_UNIX };
	size_t bound, total = 0, done = 0, i;
	int sv[2], before, ret = 0;
	struct ipc_ctx *ctx;
	const char *payload;
	bool broken;
	ssize_t n;
	size_t len;

	if (!size)
		return 0;
	bound = bounds[data[0] & 7];
	parse(data + 1, size - 1);
	for (i = 0; i < nframes; i++)
		total += frames[i].nfds;
	ctx = context(bound);
	before = count_fds();
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
	      "socketpair");
	broken = send_all(sv[0]);
	close(sv[0]);
	conn.fd = sv[1];
	for (;;) {
		n = ipc__fill(ctx, &conn);
		if (n <= 0)
			break;
		while ((ret = ipc__frame_peek(ctx, &conn, &payload, &len)) > 0) {
			CHECK(done < nframes, "more frames than sent");
			CHECK(len == frames[done].len, "frame %zu: %zu bytes, "
			      "sent %u", done, len, frames[done].len);
			CHECK(!len || (unsigned char)payload[0] == (done & 255),
			      "frame %zu: another frame's payload", done);
			check_fds(ipc__rx_fds_take(&conn, ipc__frame_at(&conn)),
				  done);
			ipc__frame_consume(ctx, &conn, len);
			done++;
		}
		CHECK(ret == 0, "peek: %d", ret);
	}
	if (n < 0)
		CHECK(n == -EPROTO && (broken || bound < total),
		      "read failed (%zd) on a stream sent by the rules, bound "
		      "%zu, %zu fds", n, bound, total);
	else
		CHECK(done == nframes, "%zu frames of %zu", done, nframes);
	ipc__fdq_clear(&conn.rxq);
	ipc__buf_drop(ctx, &conn.in);
	close(sv[1]);
	CHECK(count_fds() == before, "%d fds open, %d before",
	      count_fds(), before);
	return 0;
}
