/*
 * WebSocket frames (RFC 6455, section 5) for ipc-wsd: a parser of the
 * frames a client sends, which reassembles fragmented messages, and the
 * header of the frames a server sends.
 *
 * SPDX-License-Identifier: ISC
 */

#ifndef IPC_WS_FRAME_H
#define IPC_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Opcodes. */
#define WS_OP_CONTINUATION 0x0
#define WS_OP_TEXT 0x1
#define WS_OP_BINARY 0x2
#define WS_OP_CLOSE 0x8
#define WS_OP_PING 0x9
#define WS_OP_PONG 0xa

/* Close status codes (RFC 6455, section 7.4.1). */
#define WS_CLOSE_NORMAL 1000
#define WS_CLOSE_GOING_AWAY 1001
#define WS_CLOSE_PROTOCOL 1002
#define WS_CLOSE_INVALID_DATA 1007
#define WS_CLOSE_TOO_BIG 1009
#define WS_CLOSE_INTERNAL 1011

/* A control frame's payload is at most 125 bytes. */
#define WS_CONTROL_MAX 125
/* The longest frame header: 2 bytes, 8 of length, 4 of mask. */
#define WS_HEADER_MAX 14

/* What ws_parse() found. */
enum ws_event_type {
	WS_NONE = 0,		/* all input used, nothing whole yet */
	WS_MESSAGE,		/* a whole text or binary message */
	WS_PING,
	WS_PONG,
	WS_CLOSE,
};

struct ws_event {
	enum ws_event_type type;
	uint8_t opcode;		/* WS_MESSAGE: WS_OP_TEXT or WS_OP_BINARY */
	const char *data;	/* the payload, valid until the next call */
	size_t len;
	uint16_t close_code;	/* WS_CLOSE: the peer's code, 0 for none */
};

/*
 * A buffer given back by a parser, kept for the next one that needs one:
 * one per process (ipc-wsd's), so that a stream of large messages does
 * not allocate (and fault in) a buffer for each, while an idle client
 * holds none.  At most WS_SPARE_MAX bytes are kept.
 */
struct ws_spare {
	char *buf;
	size_t cap;
};

#define WS_SPARE_MAX (4 * 1024 * 1024)

/* Frees the spare buffer. */
void ws_spare_free(struct ws_spare *s);

/*
 * One client's frames.  Memory: the message being reassembled goes into
 * the caller's buffer while one is attached (ws_parser_attach()), else
 * into the parser's own, which grows with the bytes received (never past
 * @max) and goes back to the spare between messages (ws_parser_idle()).
 */
struct ws_parser {
	size_t max;		/* largest reassembled message */
	struct ws_spare *spare;	/* where own buffers go back, or NULL */
	/* the frame being read */
	uint8_t hdr[WS_HEADER_MAX];
	uint8_t hdr_len;
	bool in_payload;
	bool fin;
	uint8_t opcode;
	uint8_t mask[4];
	uint8_t mask_pos;
	uint64_t left;		/* payload bytes still to come */
	/* the data message being reassembled (msg_op 0: none) */
	uint8_t msg_op;
	bool delivered;		/* the last event's payload is in msg */
	bool attached;		/* msg is the caller's buffer */
	char *msg;
	size_t len;
	size_t cap;
	/* a control frame's payload */
	uint8_t ctl_len;
	char ctl[WS_CONTROL_MAX];
};

/* A parser of messages of at most @max bytes; @spare may be NULL. */
void ws_parser_init(struct ws_parser *p, size_t max, struct ws_spare *spare);

/* Frees what the parser holds. */
void ws_parser_free(struct ws_parser *p);

/* Between messages: the reassembly buffer goes back to the spare. */
void ws_parser_idle(struct ws_parser *p);

/*
 * Messages that start from now on are reassembled in the @cap bytes at
 * @buf (at least the maximum; else nothing changes), so that one read
 * whole is not copied again; a message already begun stays where it is.
 * Until ws_parser_detach(), which must come before @buf is used for
 * anything else.
 */
void ws_parser_attach(struct ws_parser *p, char *buf, size_t cap);

/*
 * The caller's buffer is its own again: the part of a message it holds
 * moves into the parser's memory.  0, or -ENOMEM (the parser is then
 * unusable).
 */
int ws_parser_detach(struct ws_parser *p);

/*
 * For reading a data frame's payload straight into its place: when at
 * least @min bytes of it are still to come, *@room bytes at *@dst (at
 * most the rest of the frame) are ready for them; else *@room is 0.
 * 0, or -ENOMEM when the room cannot be made.  The bytes put there are
 * then given to ws_parser_direct_done().
 */
int ws_parser_direct(struct ws_parser *p, size_t min, char **dst,
		     size_t *room);

/*
 * @n bytes (at most what ws_parser_direct() gave) were put at its *dst:
 * they are unmasked in place.  Returns as ws_parse() does.
 */
int ws_parser_direct_done(struct ws_parser *p, size_t n, struct ws_event *ev);

/*
 * Reads frames from the @len bytes at @in and stops at the first event:
 * *@used bytes were consumed (all of them with WS_NONE) and @ev says what
 * was found.  Returns the event type (>= 0), or on a frame the client
 * must not send: -EPROTO (close with 1002), -EILSEQ (text or close
 * reason that is not UTF-8: 1007) or -EMSGSIZE (a message above the
 * maximum: 1009); the parser is then unusable.
 */
int ws_parse(struct ws_parser *p, const uint8_t *in, size_t len,
	     size_t *used, struct ws_event *ev);

/* The close status code for an error of ws_parse(). */
uint16_t ws_close_code(int err);

/*
 * The header of a server frame (FIN set, not masked) of @opcode with a
 * @len-byte payload, in @out; returns its length (2, 4 or 10).
 */
size_t ws_frame_header(uint8_t out[10], uint8_t opcode, uint64_t len);

/* Whether the @len bytes at @s are UTF-8 (RFC 3629). */
bool ws_utf8_valid(const char *s, size_t len);

#endif /* IPC_WS_FRAME_H */
