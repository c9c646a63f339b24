/*
 * negotiator wire protocol: the one definition shared by both daemons and
 * both CLIs.  Bump PROTO_VERSION whenever anything in this file changes.
 *
 * A frame is a fixed 24-byte header followed by a msgpack payload:
 *
 *	magic u32 | type u16 | flags u16 | tag u32 | length u32 |
 *	check u32 | hcheck u32
 *
 * all big-endian; flags are 0.  hcheck is the low 32 bits of XXH3-64,
 * seeded with the magic, of the 20 header bytes before it (checksum.h);
 * check covers the first 16 header bytes and the payload.  So a
 * reader that lost sync can scan for the magic and tell a real frame from
 * garbage, and a frame cut short by a writer that died (or by
 * virtio-serial dropping what was sent while the other end was closed) is
 * never taken whole with the next frame's bytes as its tail.
 *
 * What decoding costs, whatever the peer sends (proto_parse): O(input).
 *  - Between frames, the magic is found with memchr(3) and a short loop:
 *    each byte is looked at once.
 *  - A magic with flags other than 0 is rejected at once; one with flags
 *    0 costs a hash of 20 bytes (a few ns) if hcheck then fails.  Either
 *    way the search goes on 4 bytes later (the magic cannot overlap
 *    itself), and a magic with flags 0 has no other magic within 8 bytes:
 *    at most 2.5 header bytes hashed per input byte, for the 8 bytes
 *    "NEGO\0\1\0\0" repeated, and a whole run of garbage is skipped in
 *    one call.  Measured: 10 MB of that pattern cost the pure decoder
 *    15 ms, 10 MB of valid DATA frames 1 ms; through a daemon on emulated
 *    channels, 15 ms against 7 ms (tests/hostile.sh).
 *  - A header that passes hcheck is trusted: its length is checked against
 *    PROTO_MAX_PAYLOAD before a byte of payload is awaited, nothing more is
 *    checked until the whole frame is there, and a frame that then fails
 *    its check is skipped whole.  No byte inside a frame is ever searched
 *    for another frame, so no byte is checked twice: nested fake headers
 *    cost nothing.
 *  - An incomplete frame costs O(header) per look, however long it waits.
 *  - A frame larger than PROTO_MAX_PAYLOAD is never buffered: a request's
 *    first PROTO_ID_PEEK payload bytes are read for its id (so that it can
 *    be answered), and the rest is garbage to the search above.
 * A reader's resynchronisation after a writer died mid-frame (channel.h)
 * looks at one offset per gap in the input, each at most once.
 *
 * The check (checksum_frame) is CRC-32 (zlib's) over the first 16
 * header bytes and the payload, except for DATA, where it covers the 16
 * header bytes and the payload's first PROTO_DATA_HEAD bytes only.
 *
 * DATA is where the bytes are, and its payload is not msgpack:
 *
 *	id u32 | stream u32 | bytes | trailer u32
 *
 * (big-endian), where trailer is the frame's own hcheck, inverted.  The
 * channels are in-order byte streams with no bit errors of their own (a
 * UNIX socket, a virtqueue), so what a check has to catch is framing gone
 * wrong: a frame cut short by a writer that died, then completed by the
 * next writer's bytes; garbage; splices.  The header check catches
 * garbage; the trailer catches the cut frame, since the bytes that end up
 * where a cut frame's trailer should be are another writer's, and match
 * the frame's own check with odds of 2^-32.  No byte of a command's output
 * is looked at on its way, so a sender can hand it from a pipe to a
 * socket without reading it (splice(2): channel_send_data_from), and
 * every hop's reader passes it on at the cost of a memcpy.  Measured, in a
 * TCG guest, 32 MiB out: the guest daemon's CPU 0.39 s with an XXH64 of
 * the payload and two copies (protocol 5); see docs/benchmarks.md.
 * (Protocols 4 and 5 checked DATA payloads with CRC-32 and then XXH64;
 * before 8, hcheck was XXH64's low 32 bits.)
 * A peer of another version (before 5, headers had 20 bytes and no hcheck;
 * 5 packed DATA in msgpack) reads none of our DATA, or none of our frames:
 * both sides log skipped input, and the HELLO's version keeps sessions of
 * different versions apart.
 *
 * The tag is the receiver's session nonce (0 in HELLO and
 * HELLO_ACK): a frame whose tag is not the receiver's current nonce belongs
 * to an earlier session and is dropped, so a stale reply never reaches a new
 * caller.  On a byte stream that began with the session (a new connection
 * to a control socket, never a virtio port), tag 0 also means the
 * receiver's session: a caller may send its request right behind its
 * HELLO, before it knows the receiver's nonce (channel.h, CONN_EARLY).
 *
 * Requests (OPEN, PING, LIST, GUESTS) carry an id chosen by the requester;
 * every later message about that request carries the same id.  Ids of the
 * two directions are separate namespaces: the message type (and for DATA
 * and CREDIT the stream) says whose id it is.
 *
 * Flow control: each stream of a request starts with PROTO_WINDOW bytes of
 * credit for its sender; the receiver returns credit with CREDIT as it
 * consumes data.  Sending beyond the credit is a protocol violation.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * 9: terminals: OPEN_TTY, and TTY, which such an OPEN waits for.
 * 8: hcheck (and so a DATA frame's trailer) is XXH3's, from libxxhash, no
 * longer XXH64's (checksum.c says why).  7: OPEN carries the caller's
 * environment (op_envv).
 * A peer of another version is told ours in a HELLO_ACK, and its requests
 * fail with a message that names both versions (conn.c, relay.c): a
 * version 8 CLI or daemon is refused, never left waiting.
 */
#define PROTO_VERSION		9
/*
 * The two virtio-serial ports (libvirt's <target name=...>), each a session
 * of its own: requests flow host to guest on PORT_H2G and guest to host on
 * PORT_G2H, and each carries its replies back.
 */
#define PORT_H2G		"negotiator-host-to-guest.0"
#define PORT_G2H		"negotiator-guest-to-host.0"
#define PROTO_MAGIC		0x4e45474fU	/* "NEGO" */
#define PROTO_HDR_LEN		24
#define PROTO_HDR_CHECKED	20	/* header bytes hcheck covers */
#define PROTO_ID_PEEK		10	/* payload bytes that hold a request id */
#define PROTO_MAX_DATA		(64 * 1024)	/* bytes in one DATA frame */
#define PROTO_DATA_HEAD		8	/* DATA payload before the bytes */
#define PROTO_DATA_TRAILER	4	/* ... and after them */
/* The largest payload: a whole DATA frame's, or any other's. */
#define PROTO_MAX_PAYLOAD	(PROTO_MAX_DATA + 64)
/* A whole DATA frame of PROTO_MAX_DATA bytes, header to trailer. */
#define PROTO_DATA_FRAME	(PROTO_HDR_LEN + PROTO_DATA_HEAD + \
				    PROTO_MAX_DATA + PROTO_DATA_TRAILER)
#define PROTO_WINDOW		(256 * 1024)	/* initial credit per stream */
/*
 * The most credit a receiver grants a stream in all: a host CLI's call to
 * one guest grants its output this much (PROTO_WINDOW, then a CREDIT for
 * the rest with its request; a fan-out's calls keep PROTO_WINDOW), and a
 * relay passes on up to this much.  Out of a TCG guest a
 * 256 KiB window left the port idle while credit went round (the guest
 * waits for QEMU's main loop, the host daemon and the CLI in turn): with
 * 1 MiB, 64 MiB came out 1.34x faster (docs/benchmarks.md).  Into a
 * guest more in flight is slower (every 4 KiB buffer the guest frees is
 * refilled at once, an interrupt each), so nothing widens that way.
 */
#define PROTO_WIDE_WINDOW	(1024 * 1024)
#define PROTO_MAX_CREDIT	(16 * 1024 * 1024)
#define PROTO_MAX_ARGS		256
#define PROTO_MAX_ENV		64	/* OPEN's variables */
#define PROTO_MAX_ENV_SIZE	4096	/* bytes of one "NAME=VALUE" */
#define PROTO_MAX_NAME		64	/* command, guest and host names */
#define PROTO_MAX_MESSAGE	256	/* EXIT message text */
#define PROTO_MAX_LIST		850	/* names in one reply: fits one frame */
#define PROTO_GUESTS_PAGE	600	/* guests in one GUESTS_REPLY: one frame */

/* Message types, numbered in blocks. */
enum proto_type {
	/* Session. */
	MSG_HELLO = 1,
	MSG_HELLO_ACK = 2,
	/* Health. */
	MSG_PING = 16,
	MSG_PONG = 17,
	/* Running a command. */
	MSG_OPEN = 32,
	MSG_DATA = 33,
	MSG_CREDIT = 34,
	MSG_CANCEL = 35,
	MSG_EXIT = 36,
	MSG_TTY = 37,
	/* Listing. */
	MSG_LIST = 48,
	MSG_LIST_REPLY = 49,
	MSG_GUESTS = 50,
	MSG_GUESTS_REPLY = 51,
};

enum proto_stream {
	STREAM_STDIN = 0,
	STREAM_STDOUT = 1,
	STREAM_STDERR = 2,
	STREAM_COUNT = 3,
};

/* How a command ended; the CLI maps it to its exit status (status.c). */
enum proto_exit_kind {
	EXIT_EXITED = 0,	/* code = exit status */
	EXIT_SIGNALED = 1,	/* code = signal number */
	EXIT_TIMEOUT = 2,	/* killed after the timeout */
	EXIT_NOTEXEC = 3,	/* command found but not executable */
	EXIT_NOTFOUND = 4,	/* no such command, or invalid name */
	EXIT_FAILED = 5,	/* negotiator's own failure */
	EXIT_KIND_COUNT = 6,
};

/* MSG_HELLO, MSG_HELLO_ACK. */
struct proto_hello {
	uint32_t	 he_version;
	uint32_t	 he_nonce;	/* sender's session nonce, never 0 */
	uint32_t	 he_echo;	/* ACK: the nonce of the HELLO answered */
	char		 he_name[PROTO_MAX_NAME + 1];	/* sender's host name */
};

/* MSG_PING, MSG_LIST, MSG_GUESTS: a request with no body but its target. */
struct proto_query {
	uint32_t	 qu_id;
	char		 qu_target[PROTO_MAX_NAME + 1];	/* guest; "" = local */
	uint32_t	 qu_start;	/* GUESTS only: index of the first guest */
};

/* MSG_PONG, MSG_CANCEL. */
struct proto_ref {
	uint32_t	 re_id;
};

#define OPEN_STDIN	0x1	/* the caller sends stdin; else /dev/null */
/*
 * The command runs on a pseudo-terminal (its controlling terminal, in a
 * session of its own), with OPEN_STDIN: stdin is what the caller types,
 * stdout is all the terminal shows, and stderr is never sent.  It starts
 * once the caller's first TTY has given its size and $TERM (the caller
 * sends it right behind the OPEN); later TTYs change the size.
 */
#define OPEN_TTY	0x2
#define PROTO_MAX_TERM	64	/* bytes of a $TERM */

/* MSG_OPEN. */
struct proto_open {
	uint32_t	 op_id;
	char		 op_target[PROTO_MAX_NAME + 1];	/* guest; "" = peer */
	uint32_t	 op_timeout_ms;	/* 0 = none */
	uint32_t	 op_flags;
	size_t		 op_argc;	/* >= 1; argv[0] is the command name */
	char		**op_argv;	/* owned; NULL-terminated */
	/*
	 * "NAME=VALUE" each, for the command's environment; owned,
	 * NULL-terminated, or NULL when op_envc is 0.  The codec checks only
	 * the count and size; the receiver checks the names (callenv.h).
	 */
	size_t		 op_envc;
	char		**op_envv;
};

/* MSG_DATA.  An empty chunk is the end of that stream. */
struct proto_data {
	uint32_t	 da_id;
	uint32_t	 da_stream;
	size_t		 da_len;
	const uint8_t	*da_bytes;	/* points into the frame; not owned */
};

/* MSG_CREDIT. */
struct proto_credit {
	uint32_t	 cr_id;
	uint32_t	 cr_stream;
	uint32_t	 cr_bytes;
};

/* MSG_EXIT. */
struct proto_exit {
	uint32_t	 ex_id;
	uint32_t	 ex_kind;	/* enum proto_exit_kind */
	int32_t		 ex_code;
	char		 ex_message[PROTO_MAX_MESSAGE + 1];
};

/*
 * MSG_TTY: the caller's terminal, for a request opened with OPEN_TTY; from
 * the requester, like CANCEL.  ty_term is [A-Za-z0-9._+-]{0,64} (checked
 * by the codec); "" means not known.  Rows and columns are 0..65535.
 */
struct proto_tty {
	uint32_t	 ty_id;
	uint32_t	 ty_rows;
	uint32_t	 ty_cols;
	char		 ty_term[PROTO_MAX_TERM + 1];
};

/* GUESTS_REPLY: how each guest's daemon answers the host's. */
enum proto_peer_state {
	PEER_DOWN = 0,		/* a channel is not connected or starting */
	PEER_READY = 1,		/* both sessions ready */
	PEER_SILENT = 2,	/* connected, but silent past the keepalive */
	PEER_STATE_COUNT = 3,
};
#define PROTO_QUIET_NEVER	UINT32_MAX	/* na_quiet: nothing heard */

/*
 * MSG_LIST_REPLY, MSG_GUESTS_REPLY.  GUESTS_REPLY answers one page: at
 * most PROTO_GUESTS_PAGE guests from index qu_start of the daemon's list,
 * in name order, and na_total, the length of the whole list; a caller asks
 * again from qu_start + na_count while that is below na_total.
 */
struct proto_names {
	uint32_t	 na_id;
	size_t		 na_count;
	char		**na_names;	/* owned */
	/* GUESTS_REPLY only: */
	uint32_t	 na_total;	/* guests in the daemon's whole list */
	/* GUESTS_REPLY only, na_count of each; owned: */
	uint8_t		*na_state;	/* enum proto_peer_state */
	uint32_t	*na_quiet;	/* seconds since its last frame */
	uint32_t	*na_version;	/* its protocol version; 0 = no session */
	uint32_t	*na_calls;	/* commands run for and by it */
};

struct proto_msg {
	uint16_t	 m_type;
	uint32_t	 m_tag;
	union {
		struct proto_hello	 hello;
		struct proto_query	 query;
		struct proto_ref	 ref;
		struct proto_open	 open;
		struct proto_data	 data;
		struct proto_credit	 credit;
		struct proto_exit	 exit;
		struct proto_names	 names;
		struct proto_tty	 tty;
	} m;
};

enum proto_parse {
	PARSE_OK,		/* a frame was decoded */
	PARSE_INCOMPLETE,	/* need more bytes; nothing consumed */
	PARSE_BAD,		/* skip *consumed bytes and parse again */
	PARSE_REFUSED,		/* an intact request we cannot take: see below */
};

struct buf;

/*
 * Decodes the first frame of (bytes, len).  On PARSE_OK, *msg holds the
 * message (free it with proto_msg_free; DATA points into bytes, which must
 * outlive it) and *consumed its length.  On PARSE_BAD, *consumed bytes are
 * garbage or one invalid frame, *why says which, and the caller skips them.
 * PARSE_REFUSED is PARSE_BAD for a request (OPEN, PING, LIST, GUESTS)
 * whose id could be read: msg holds only m_type, m_tag and the id
 * (op_id or qu_id), nothing to free, so that the caller can answer it with
 * *why.  Pure: no I/O, and no state but the counter of
 * proto_bytes_examined.  Cost: see the top of this file.
 */
enum proto_parse proto_parse(const uint8_t *bytes, size_t len,
	    struct proto_msg *msg, size_t *consumed, const char **why);

/* Decodes one payload of the given type; -1 (and *why) if malformed. */
int	 proto_unpack(uint16_t type, const uint8_t *payload, size_t len,
	    struct proto_msg *msg, const char **why);

/* Appends msg as one whole frame to out.  Fields must be within limits. */
void	 proto_pack(struct buf *out, const struct proto_msg *msg);
/*
 * A DATA frame whose bytes reach the buffer or the fd from elsewhere
 * (channel_send_data_from): writes the header and the PROTO_DATA_HEAD
 * bytes of a DATA frame of len bytes (<= PROTO_MAX_DATA) at p, which has
 * room for them, and returns the trailer, which must follow those len
 * bytes (proto_put_be32).
 */
uint32_t proto_data_head(uint8_t *p, uint32_t tag, uint32_t id,
	    uint32_t stream, size_t len);
void	 proto_put_be32(struct buf *out, uint32_t v);

void	 proto_msg_free(struct proto_msg *msg);
/*
 * The request id of any message that carries one, whatever its type (the
 * id of the request it answers, for replies); 0 for HELLO and HELLO_ACK.
 */
uint32_t proto_msg_id(const struct proto_msg *msg);
/* Sets that id; a message type without one is a fatal internal error. */
void	 proto_msg_set_id(struct proto_msg *msg, uint32_t id);
const char *proto_type_name(uint16_t type);
/*
 * Bytes proto_parse has looked at so far in this process: searched for a
 * magic, header bytes checked, payload bytes checked and decoded.  A
 * counter for tests and statistics; no decoding depends on it.
 */
uint64_t proto_bytes_examined(void);

#endif /* PROTO_H */
