/*
 * be32.h - the frame header of the wire format: the payload length,
 * 32-bit big-endian.  Written once, for the library, the daemons'
 * handshake I/O (tools/handshake.c) and the benchmark (bench/).
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_BE32_H
#define IPC_BE32_H

#include <stdint.h>

static inline uint32_t ipc__be32_get(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 |
	       (uint32_t)u[2] << 8 | (uint32_t)u[3];
}

static inline void ipc__be32_put(char *p, uint32_t v)
{
	unsigned char *u = (unsigned char *)p;

	u[0] = (unsigned char)(v >> 24);
	u[1] = (unsigned char)(v >> 16);
	u[2] = (unsigned char)(v >> 8);
	u[3] = (unsigned char)v;
}

#endif /* IPC_BE32_H */
