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
 * One client's frames.  Memory: the message being reassembled grows with
 * the bytes received (never past @max), and ws_parser_idle() gives it
 * back between messages.
 */
struct ws_parser {
	size_t max;		/* largest reassembled message */
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
	char *msg;
	size_t len;
	size_t cap;
	/* a control frame's payload */
	uint8_t ctl_len;
	char ctl[WS_CONTROL_MAX];
};

/* A parser of messages of at most @max bytes. */
void ws_parser_init(struct ws_parser *p, size_t max);

/* Frees what the parser holds. */
void ws_parser_free(struct ws_parser *p);

/* Between messages: the reassembly buffer goes back to the system. */
void ws_parser_idle(struct ws_parser *p);

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
