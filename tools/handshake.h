/*
 * Handshake I/O of ipcd and ipc-tcpd: one frame at a time on a raw,
 * non-blocking fd, before the fd is handed over (to a client, or to the
 * switch).
 *
 * SPDX-License-Identifier: ISC
 *
 * The reader takes exactly the bytes of one frame (doc/network.md): the
 * 4-byte big-endian length, then that many payload bytes, and never a
 * byte more, so that whatever follows stays in the socket for whoever
 * gets the fd next.  It keeps its state between calls: a peer that sends
 * a byte at a time costs one call per readiness, never a blocked daemon.
 */

#ifndef IPC_HANDSHAKE_H
#define IPC_HANDSHAKE_H

#include <stddef.h>
#include <stdint.h>

/* Largest payload handshake_send() accepts. */
#define HANDSHAKE_SEND_MAX (64 * 1024)

/*
 * One frame being read.  @buf (the caller's, @max bytes) receives the
 * payload; @len is its length once handshake_read() returned 1.
 */
struct handshake_reader {
	char *buf;
	size_t max;
	size_t len;
	size_t got;		/* bytes read: header, then payload */
	int result;		/* 1 or a negative errno once finished */
	unsigned char header[4];
	int passfd;		/* handshake_read_fd(): the fd sent, or -1 */
};

/* Prepares @r to read one frame of at most @max payload bytes into @buf. */
void handshake_reader_init(struct handshake_reader *r, char *buf, size_t max);

/*
 * Reads what has arrived of the frame from @fd (non-blocking; a socket
 * or a pipe).  Returns 1 when the frame is whole (payload in r->buf,
 * r->len bytes), 0 when more must arrive (wait for readability, call
 * again), or a negative errno: -ECONNRESET when the peer closed before
 * the end of the frame, -EMSGSIZE when the header announces more than
 * r->max bytes, or the error of read(2).  After 1 or an error, further
 * calls return the same without reading.
 */
int handshake_read(int fd, struct handshake_reader *r);

/*
 * handshake_read() on a Unix socket, also taking the fd that may come
 * with the frame (an SCM_RIGHTS control message of one fd): kept in
 * r->passfd (close-on-exec, the caller's to close, also after an error).
 * More than one fd, or a truncated or other control message, ends the
 * frame with -EPROTO (every fd received is closed).
 */
int handshake_read_fd(int fd, struct handshake_reader *r);

/*
 * Sends one frame (header and @len payload bytes) on the socket @fd with
 * one sendmsg(2) and MSG_NOSIGNAL, with @passfd in an SCM_RIGHTS control
 * message when it is not -1.  For small frames on a connection with
 * nothing else queued, which the socket buffer takes whole.  Returns 0
 * when the frame left whole, -EMSGSIZE when @len exceeds
 * HANDSHAKE_SEND_MAX, -EAGAIN when the socket took none or only part of
 * it (the connection must then be dropped), or the error of sendmsg(2).
 */
int handshake_send(int fd, const char *payload, size_t len, int passfd);

#endif /* IPC_HANDSHAKE_H */
