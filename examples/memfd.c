/*
 * memfd - hand a large payload over as a sealed memfd instead of copying
 * it through the socket.
 *
 * SPDX-License-Identifier: ISC
 *
 * The sender writes the payload into a memfd, seals it against writes and
 * size changes, and sends it with ipc_schedule_fds(); the message itself
 * says what the payload is.  The receiver takes the fd with
 * ipc_message_fds(), lets ipc_memfd_check() tell it that the sender can
 * no longer change the file, and only then maps it: an unsealed buffer
 * could shrink under the mapping (SIGBUS) or change after the checks.
 *
 * Here both ends are in one program, a service and its client, so that
 * it runs alone: ./memfd [SIZE_IN_MIB] (default 16).
 */

#define _GNU_SOURCE
#include <fcntl.h>
#include <libipc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;

/* The payload is made a piece at a time, in a buffer that stays in cache. */
#define PIECE (256 * 1024)

static void payload_piece(unsigned char *piece, size_t off, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		piece[i] = (unsigned char)((off + i) % 251);
}

/*
 * The sender: a sealed memfd holding @size bytes of the payload.
 *
 * The fast way on a default system (doc/performance.md, "Large
 * payloads"): set the size, then write(2) the payload in.  A write of
 * whole pages fills pages the kernel has not zeroed, where filling a
 * fresh mapping zeroes each page first and then writes it again.
 */
static int payload_memfd(size_t size)
{
	int fd = memfd_create("payload", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	unsigned char *piece = NULL;
	size_t off, n;

	if (fd < 0)
		return -1;
	piece = malloc(PIECE);
	if (!piece || ftruncate(fd, (off_t)size) < 0)
		goto fail;
	for (off = 0; off < size; off += n) {
		n = size - off < PIECE ? size - off : PIECE;
		payload_piece(piece, off, n);
		if (pwrite(fd, piece, n, (off_t)off) != (ssize_t)n)
			goto fail;
	}
	/* Sealed, its size and bytes are final: the receiver may map it. */
	if (fcntl(fd, F_ADD_SEALS, seals) < 0)
		goto fail;
	free(piece);
	return fd;
fail:
	free(piece);
	close(fd);
	return -1;
}

/* The receiver: checks, maps read-only, reads every byte. */
static int payload_read(int fd)
{
	const unsigned char *p;
	size_t size, i;

	if (ipc_memfd_check(fd, &size) < 0) {
		fprintf(stderr, "memfd: not sealed, not mapped\n");
		return -1;
	}
	if (size == 0)
		return 0;
	/* Every page mapped at once: one call instead of a fault per
	 * 64 KiB as the read goes. */
	p = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	for (i = 0; i < size && p[i] == (unsigned char)(i % 251); i++)
		;
	munmap((void *)p, size);
	if (i != size)
		return -1;
	printf("received %zu bytes without copying them\n", size);
	return 0;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 16;
	size_t index, len, nfds;
	int service, client, origin, newfd, fd, got;
	char type, buf[64];
	void *ctx;
	int ret = 1;

	if (ipc_context_init(&ctx) < 0)
		return 1;
	if (ipc_service_init(ctx, &service, "memfd-example", 13) < 0 ||
	    ipc_connect_service(ctx, &client, "memfd-example", 13) < 0)
		goto out;
	fd = payload_memfd(mib << 20);
	if (fd < 0)
		goto out;
	if (ipc_schedule_fds(ctx, client, "payload", 7, &fd, 1) < 0)
		goto out;
	close(fd);	/* the library sends its own duplicate */
	for (;;) {
		len = sizeof(buf);
		if (ipc_wait_event(ctx, &type, &index, &origin, &newfd, buf,
				   &len) < 0)
			goto out;
		if (type != MESSAGE_RX)
			continue;
		nfds = 1;
		if (ipc_message_fds(ctx, &got, &nfds) < 0 || nfds != 1)
			goto out;
		ret = payload_read(got) < 0;
		close(got);
		break;
	}
out:
	ipc_context_deinit(&ctx);
	return ret;
}
