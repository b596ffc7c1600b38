/*
 * Handover: the ways a sender can make a sealed memfd holding a payload,
 * compared in one run, and the floor under all of them (the payload
 * written and read in one process, with no IPC at all).
 *
 * Copyright (C) libipc developers.  See COPYING.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The pieces a pwrite(2) writer makes: small enough to stay in cache. */
#define PIECE (256 * 1024)

static const unsigned int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

/* Fills @len bytes through a shared mapping made as @way says. */
static int fill_mapped(int fd, size_t len, uint64_t seq, enum memfd_way way)
{
	int flags = MAP_SHARED;
	char *p;
	int ret = 0;

	if (way == MEMFD_FALLOC)
		ret = fallocate(fd, 0, 0, (off_t)len);
	else
		ret = ftruncate(fd, (off_t)len);
	if (ret < 0)
		return -errno;
	if (way == MEMFD_MAP || way == MEMFD_FALLOC)
		flags |= MAP_POPULATE;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Huge pages, where the system lets shmem have them, then every
	 * page at once as MAP_POPULATE would. */
	if (way == MEMFD_HUGE &&
	    (madvise(p, len, MADV_HUGEPAGE) < 0 ||
	     madvise(p, len, MADV_POPULATE_WRITE) < 0))
		ret = -errno;
	if (!ret)
		stamp(p, len, seq, true);
	munmap(p, len);
	return ret;
}

/* Makes each piece in a warm buffer and writes it with pwrite(2). */
static int fill_written(int fd, size_t len, uint64_t seq)
{
	static char *piece;
	size_t off, n;
	ssize_t w;

	if (!piece)
		piece = xmalloc(PIECE);
	/* The size first: with shmem_enabled=within_size, the pages written
	 * below can then be huge. */
	if (ftruncate(fd, (off_t)len) < 0)
		return -errno;
	for (off = 0; off < len; off += (size_t)w) {
		n = len - off < PIECE ? len - off : PIECE;
		stamp_part(piece, off, n, len, seq);
		w = pwrite(fd, piece, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			w = 0;
		else if (w <= 0)
			return w < 0 ? -errno : -EIO;
	}
	return 0;
}

int memfd_make(size_t len, uint64_t seq, enum memfd_way way)
{
	int fd, ret;

	fd = memfd_create("ipc-bench", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (way == MEMFD_PWRITE)
		ret = fill_written(fd, len, seq);
	else
		ret = fill_mapped(fd, len, seq, way);
	if (!ret && fcntl(fd, F_ADD_SEALS, seals) < 0)
		ret = -errno;
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * The floor: each payload written (stamp()) into one warm buffer and
 * read back whole (stamp_check()), in one process.  No transport can
 * carry a payload for less than this.  Runs before it says it is ready:
 * nothing else runs beside it.
 */
int local_fill_read(const struct run *r, struct result *res)
{
	char *p = xmalloc(r->size);
	uint64_t i, start;

	stamp(p, r->size, 0, true);
	start = now_ns();
	for (i = 0; i < r->count && !res->err; i++) {
		stamp(p, r->size, i, true);
		if (stamp_check(p, r->size, r->size, i, true) < 0)
			fail(res, -EBADMSG, "payload %llu changed",
			     (unsigned long long)i);
	}
	res->seconds = ns_to_s(now_ns() - start);
	res->msgs = i;
	res->bytes = i * r->size;
	free(p);
	ready_send(r, 'R');
	return res->err;
}
