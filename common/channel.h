/*
 * Channels and sessions: the transport under every peer, control client and
 * CLI.  channel.c owns an fd, its framing and its send queue; conn.c runs
 * the session on top (handshake, nonce tags, request tables, credits,
 * keepalive).
 *
 * Back-pressure: the rule every queue follows.
 *
 *  1. A channel is always read, at its share of the loop (rule 5), never
 *     held back because of its send queue.  Its fd is duplex: an end that
 *     stopped reading because its own send queue was full would wait on
 *     the other end, which may be waiting on it.  Reading costs at most a
 *     read batch (256 KiB, channel.c) and one frame of input buffer; what
 *     a frame then makes us hold is bounded by rules 2-4.
 *  2. Back-pressure goes to the producers: the sources we read at our own
 *     pace and whose bytes end up in a send queue (a job's stdout and
 *     stderr pipes, a CLI's stdin, and a relay's grant of credit to one side
 *     for what it forwards to the other).  A producer asks
 *     channel_congested() before each chunk; from CHANNEL_HIGHWATER bytes
 *     queued until the queue drains below CHANNEL_LOWWATER it adds nothing,
 *     and on_drain says when to start again.  A producer overshoots the mark
 *     by at most the one chunk it was adding.
 *  3. Credit only permits.  Credit the peer grants lets us send; it never
 *     makes us queue past rule 2, whatever its size.  Credit we grant is
 *     what we can take without a queue of ours passing its own bound
 *     (PROTO_WINDOW per stream of a request; a host CLI's output and a
 *     relay passing it on, PROTO_WIDE_WINDOW): it is returned as what was
 *     received moves on, never on the peer's say-so.
 *  4. Answers are not producers: replies, credit and HELLO_ACK are queued
 *     past the mark, since the peer asked for them and each is small.  But
 *     they count against the peer's bound like everything else: from
 *     c_max_queue queued bytes on (CHANNEL_MAX_QUEUE, or for a caller on
 *     a control socket its share of its uid's: control.c), a peer that
 *     keeps asking and never reads the answers gets nothing new (conn.c).  Its new requests are
 *     dropped unanswered, its HELLOs too, and the credit we owe it is held
 *     back, merged into one grant per stream of a request, until the queue
 *     drains (the peer cannot send beyond its credit meanwhile: rule 3).
 *     What is still queued past the mark is at most one final answer per
 *     request in flight (CONN_MAX_SERVED).  A DATA frame on a stream that
 *     is not open (no stdin asked for, stdin ended) ends its request with
 *     one EXIT_FAILED; later frames for it are dropped unanswered.  The
 *     channel is still read, so the data and credit of its other requests,
 *     and everything flowing the other way, keep moving.
 *  5. Work has a share per peer.  A channel given a budget
 *     (channel_set_budget: every guest of the host daemon, its two
 *     channels together, and every caller of either daemon's control
 *     socket) is served in turns: a turn decodes and acts on at most
 *     CHANNEL_TURN_FRAMES frames, and ends after the frame that takes it
 *     past CHANNEL_TURN_TIME; the rest waits in the input buffer for the
 *     next turn of the loop, after every other ready fd has had its own,
 *     and the fd is not read while whole frames wait.  Over time, the
 *     time the loop spends on the peer's input (reading it, decoding it,
 *     acting on it: its requests answered, commands started, its data
 *     passed on; CLOCK_MONOTONIC inside those callbacks, which bounds
 *     their CPU time too) is counted against CHANNEL_SHARE of every
 *     CHANNEL_SHARE_WINDOW: a peer over it is neither read nor decoded
 *     until the windows that followed have paid for what it overspent.
 *     A flooding peer (LIST, refused OPENs, PINGs, garbage) thus gets at
 *     most a quarter of the loop and of a core, and any other peer waits
 *     at most one of its turns.  Work for the peer done elsewhere
 *     (writing its answers, reading a command's output) is bounded by
 *     rules 2-4, not counted.  The guest daemon's ports have no budget:
 *     the host is the guest's trusted side, and throughput into a TCG
 *     guest costs its CPU.
 */
#ifndef CHANNEL_H
#define CHANNEL_H

#include <sys/queue.h>

#include <ev.h>

#include "proto.h"
#include "util.h"

#define CHANNEL_HIGHWATER	(512 * 1024)	/* producers stop here */
#define CHANNEL_LOWWATER	(128 * 1024)	/* ... and start again here */
#define CHANNEL_MAX_QUEUE	(2 * 1024 * 1024) /* peer's requests dropped */
/*
 * Resynchronisation after a writer died half-way through a frame.  The
 * bytes of a frame under way are never searched for another frame: content
 * of a command's output may look like one.  Only where input resumed after
 * CHANNEL_GAP of silence can a new writer have started, so a HELLO or
 * HELLO_ACK that begins exactly there, once the frame at the head has
 * waited CHANNEL_STALL for its end, is taken for the next writer's first
 * frame, and the cut frame is skipped.
 * CHANNEL_GAP is shorter than the interval at which an unanswered HELLO is
 * repeated (conn.c), so a writer that started over soon after the cut is
 * found at its next HELLO.
 */
#define CHANNEL_GAP		0.5	/* seconds */
#define CHANNEL_STALL		2.0	/* seconds */
/* The share of work per peer (rule 5). */
#define CHANNEL_TURN_FRAMES	64	/* frames decoded per turn, at most */
#define CHANNEL_TURN_TIME	0.002	/* seconds per turn, about */
#define CHANNEL_SHARE_WINDOW	0.1	/* seconds */
#define CHANNEL_SHARE		0.25	/* of each window, at most */

/* The loop's time a peer's input takes, shared by the peer's channels. */
struct channel_budget {
	ev_tstamp	 cb_window;	/* when the current window began */
	double		 cb_spent;	/* seconds counted in it */
};

struct channel;

struct channel_ops {
	/* A decoded message; freed by the channel after the call returns. */
	void	(*on_msg)(struct channel *, struct proto_msg *);
	/* Bytes that were not a valid frame were skipped. */
	void	(*on_bad)(struct channel *, const char *why);
	/* End of file (error 0) or an I/O error; the fd is still attached. */
	void	(*on_eof)(struct channel *, int error);
	/* The send queue drained below CHANNEL_LOWWATER after congestion. */
	void	(*on_drain)(struct channel *);
	/*
	 * An intact request that cannot be taken (PARSE_REFUSED: msg holds
	 * its type, tag and id only); if NULL, on_bad is told instead.
	 */
	void	(*on_refused)(struct channel *, const struct proto_msg *,
		    const char *why);
};

struct channel {
	int			 ch_fd;
	int			 ch_paused;	/* no I/O at all while set */
	int			 ch_congested;	/* producers wait for on_drain */
	int			 ch_nonblock;	/* the fd is O_NONBLOCK */
	int			 ch_socket;	/* the fd is a socket */
	/*
	 * The fd took less than was queued (EAGAIN, or a turn's batch): the
	 * write watcher waits for it.  Clear, queued bytes are written
	 * before the loop next polls (ch_flush).
	 */
	int			 ch_write_blocked;
	/*
	 * The fd takes splice(2): a non-blocking socket straight from a
	 * command's pipe (CH_SPLICE_DIRECT).  Never a virtio port so: splices
	 * to one wedged the guest's whole virtio-serial device
	 * (QEMU 7.2 TCG, Linux 6.1), every port with it, in our VM tests,
	 * for a command writing its output in small pieces; in a bare test
	 * (docs/benchmarks.md) the port first delivered wrong bytes, then the
	 * guest kernel reported a soft lockup in the splicing process.
	 *
	 * Why (2026-12-02, Debian's 6.1.192 and 6.12.117; line numbers
	 * 6.1/6.12): port_fops_splice_write (drivers/char/virtio_console.c
	 * 909/907) sizes its scatterlist by the pipe's occupancy (943/941)
	 * and sg_init_table() puts the end mark on its last entry (955/953);
	 * __splice_from_pipe() (956/954) fills one entry per pipe buffer it
	 * takes, so a splice whose length ends before the pipe's last
	 * buffer leaves entries empty, and __send_to_port() gets their
	 * count (959/957).  But virtqueue_add_split()
	 * (drivers/virtio/virtio_ring.c) walks the list to its end mark,
	 * "for (sg = sgs[n]; sg; sg = sg_next(sg))" (587/611), not that
	 * count: it writes descriptors for the empty entries past the
	 * indirect table it allocated for the count (553/577), a heap
	 * overflow, or past the ring descriptors it reserved.
	 * tests/vm/splice.sh shows it (SPLICE_PHASES=cut): from the first
	 * such splice the host gets no byte more, and both kernels then
	 * report soft lockups in the splicing process.  A splice asking for
	 * at least what the pipe holds fills the list to its mark, and was
	 * byte-exact on both (one buffer at a time, up to 256, blocking or
	 * not: tests/vm/splice.sh's default phases, which the VM suite runs).
	 * A pipe with another writer cannot promise that, so to a port
	 * (CH_SPLICE_RELAY) the bytes go through a pipe of the channel's
	 * own, ch_relay, that only channel_splice_data() writes and reads:
	 * pipe to pipe (which moves buffers, no bytes), then the relay to
	 * the port asking for more than a pipe holds; the relay is empty
	 * between frames (checked: if not, splicing stops).  Only where
	 * channel_splice_ports is set: by the guest daemon on the kernels
	 * whose code above it was read and tested on.  The feared loss
	 * when virtqueue_add_outbuf() fails (its bytes, already out of the
	 * pipe, are freed: 620-628, 962 in 6.1) needs the GFP_ATOMIC
	 * indirect table to fail: never seen.
	 */
	enum { CH_SPLICE_NONE, CH_SPLICE_DIRECT, CH_SPLICE_RELAY } ch_splice;
	int			 ch_relay[2];	/* CH_SPLICE_RELAY: -1 until used */
	int			 ch_backlog;	/* whole frames wait for a turn */
	double			 ch_turn_start;	/* when the turn began */
	struct channel_budget	*ch_budget;	/* NULL: no share (rule 5) */
	ev_tstamp		 ch_last_input;	/* when bytes last arrived */
	ev_tstamp		 ch_last_output; /* when bytes last left */
	ev_tstamp		 ch_stalled_at;	/* incomplete frame at head since */
	uint64_t		 ch_consumed;	/* input bytes consumed so far */
	uint64_t		 ch_resumed;	/* input offset after a gap, or 0 */
	struct buf		 ch_in;
	struct buf		 ch_out;
	ev_io			 ch_read;
	ev_io			 ch_write;
	ev_prepare		 ch_flush;	/* writes before the next poll */
	ev_timer		 ch_resume;	/* the next turn, or window */
	struct ev_loop		*ch_loop;
	const struct channel_ops *ch_ops;
	void			*ch_arg;
};

/* channel.c */
/*
 * 1: a channel attached to a non-blocking character device (a virtio
 * port) sends DATA by splice through a relay pipe (ch_splice).  Set
 * before attaching; 0 by default.
 */
extern int channel_splice_ports;
void	 channel_init(struct channel *, struct ev_loop *,
	    const struct channel_ops *, void *arg);
void	 channel_attach(struct channel *, int fd);
/*
 * Closes the fd and frees both buffers; safe inside a channel callback.
 * The channel can be attached again.
 */
void	 channel_detach(struct channel *);
/* Queues msg whatever the queue holds (see rule 2 for who may). */
void	 channel_send(struct channel *, const struct proto_msg *);
/*
 * Writes what is queued now, as far as the fd takes it without blocking,
 * where it would otherwise go out before the loop next polls, after the
 * rest of this turn's work: for a reply, which should not wait behind the
 * work that follows it (a call's log and audit lines, 0.5 ms each to a
 * serial console under TCG).  Calls nothing back, so it is safe anywhere:
 * an error, or what the fd did not take, is left to the write watcher.
 * Does nothing while the channel is paused or congested (the watcher is
 * writing then), or on a blocking fd that is not a socket.
 */
void	 channel_flush(struct channel *);
/*
 * Sends a DATA frame (tag, id, stream) of what pipe gives, at most max
 * bytes (1..PROTO_MAX_DATA): a non-blocking pipe that nobody else reads.
 * The bytes are read straight into the send queue; to a socket with
 * nothing queued ahead of the frame, they go from the pipe by splice(2)
 * instead, without a copy through us (proto.h, DATA; ch_splice).  Returns
 * the bytes sent, 0 at the pipe's end of file, or -1 and errno (EAGAIN:
 * the pipe was empty); nothing was sent then.  A producer: rule 2
 * applies.
 */
ssize_t	 channel_send_data_from(struct channel *, uint32_t tag, uint32_t id,
	    uint32_t stream, int pipe, size_t max);
/* 1 while producers must wait for on_drain (rule 2). */
int	 channel_congested(const struct channel *);
/*
 * The words for the error of on_eof (channel_ops and conn_ops), for a log
 * line or a caller: strerror(error), or "end of file" for 0.  Like
 * strerror(), the text lasts until the next call.
 */
const char *channel_eof_reason(int error);
void	 channel_pause(struct channel *, int paused);
/*
 * Holds the channel's input to budget b (rule 5), shared with any other
 * channel of the same peer; NULL: no share, every whole frame is decoded
 * as soon as it is read.  b must outlive the channel's fd.
 */
void	 channel_set_budget(struct channel *, struct channel_budget *b);
/* 1 while the budget is spent for the current window (rule 5). */
int	 channel_over_budget(struct channel *);
/* Forgets bytes read but not yet decoded (the other end started over). */
void	 channel_discard_input(struct channel *);
/*
 * Takes bytes as if read from the fd: decodes and delivers what is whole
 * (with a budget, one turn of it now, the rest in later turns).
 */
void	 channel_input(struct channel *, const void *, size_t);
void	 channel_update_events(struct channel *);

/* conn.c */
enum conn_state {
	CONN_DOWN,		/* no transport, or the other end is away */
	CONN_HELLO,		/* our HELLO sent, no answer yet */
	CONN_READY,		/* both nonces known */
	CONN_SILENT,		/* the peer said nothing for c_peer_timeout */
};

struct conn;
struct req;

struct req_ops {
	/* Peer data for this request, already checked against our credit. */
	void	(*on_data)(struct req *, int stream, const uint8_t *, size_t);
	/* The peer returned n bytes of credit for a stream we send. */
	void	(*on_credit)(struct req *, int stream, uint32_t n);
	/* Served requests: the requester cancelled. */
	void	(*on_cancel)(struct req *);
	/* Issued requests: the final reply; the request is already unlinked. */
	void	(*on_reply)(struct req *, struct proto_msg *);
	/* The session ended or the peer broke the rules; already unlinked. */
	void	(*on_lost)(struct req *, const char *why);
	/*
	 * The conn's send queue has room again (rule 2); may be NULL.  It may
	 * unlink or free its own request, never another one.
	 */
	void	(*on_drain)(struct req *);
	/* Served OPEN_TTY requests: the caller's terminal; may be NULL. */
	void	(*on_tty)(struct req *, const struct proto_tty *);
};

/* One request on one conn, embedded in whatever object serves or issues it. */
struct req {
	LIST_ENTRY(req)		 rq_entry;
	struct conn		*rq_conn;	/* NULL when not linked */
	uint32_t		 rq_id;
	uint16_t		 rq_type;
	uint32_t		 rq_can_send[STREAM_COUNT];
	uint32_t		 rq_can_recv[STREAM_COUNT];
	/* Credit granted but held back while answers wait (rule 4). */
	uint32_t		 rq_credit_held[STREAM_COUNT];
	/*
	 * The streams the peer may still send DATA on (bit 1 << stream): a
	 * served OPEN's stdin if it asked for one, an issued OPEN's stdout
	 * and stderr; a stream's bit is cleared by its end (an empty DATA).
	 */
	unsigned		 rq_open;
	const struct req_ops	*rq_ops;
	void			*rq_arg;
};
LIST_HEAD(req_list, req);

struct conn_ops {
	/*
	 * A new OPEN, PING, LIST or GUESTS; take it with conn_accept().  NULL
	 * without CONN_SERVES: conn.c refuses requests before they get here.
	 */
	void	(*on_request)(struct conn *, struct proto_msg *);
	/* The session became ready; may be NULL. */
	void	(*on_ready)(struct conn *);
	/* The transport ended; the session is already reset. */
	void	(*on_eof)(struct conn *, int error);
};

#define CONN_MAX_SERVED	256	/* requests of the peer in flight at once */

#define CONN_SERVES	0x1	/* the peer may send us requests */
#define CONN_ISSUES	0x2	/* we send requests to the peer */
#define CONN_GREETS	0x4	/* we say HELLO first and repeat it */
#define CONN_KEEPALIVE	0x8	/* a silent peer is probed, then marked down */
/*
 * The byte stream began with this session (a connection to a control
 * socket): frames tagged 0 are taken for this session's (proto.h), and a
 * request may be issued before the session is ready, right after our
 * HELLO, tagged 0 until the peer's nonce is known.  Never on a virtio
 * port, whose stream outlives sessions.
 */
#define CONN_EARLY	0x10
/*
 * The peer's input is held to a share of the loop (channel.h, rule 5),
 * with a budget of the conn's own (c_budget); channel_set_budget() may
 * give it one shared with the peer's other conns instead.
 */
#define CONN_BUDGET	0x20

/*
 * Keepalive: a peer we have heard nothing from (no valid frame of any
 * kind) for a third of the timeout is sent a HELLO of the running session,
 * which it answers with HELLO_ACK and nothing else; after the whole timeout
 * it is marked silent (CONN_SILENT): its requests fail, new ones fail at
 * once, and HELLO is repeated until it speaks again, which starts a new
 * session by itself.
 */
#define CONN_PEER_TIMEOUT	5.0	/* default, seconds (--peer-timeout) */
#define CONN_HELLO_INTERVAL	1.0	/* seconds between unanswered HELLOs */
/*
 * Every conn's timer falls due on a grid common to all conns, of this step
 * (or a tenth of the peer timeout, if less): a daemon with a thousand idle
 * peers wakes a few times a second for all of them, not once per peer.
 */
#define CONN_TIMER_GRID		0.25	/* seconds */

struct conn {
	struct channel		 c_ch;
	enum conn_state		 c_state;
	int			 c_flags;
	uint32_t		 c_nonce;	/* ours, for this session */
	uint32_t		 c_peer_nonce;
	uint32_t		 c_next_id;
	char			 c_label[128];	/* who is on the other end */
	char			 c_peer_name[PROTO_MAX_NAME + 1];
	/* The version of the peer's last HELLO if not ours, else 0. */
	uint32_t		 c_peer_version;
	struct req_list		 c_served;
	struct req_list		 c_issued;
	ev_tstamp		 c_peer_timeout;
	ev_tstamp		 c_heard;	/* last valid frame; 0: none yet */
	ev_tstamp		 c_quiet_since;	/* silence is counted from here */
	ev_tstamp		 c_hello_sent;	/* our last HELLO */
	ev_timer		 c_timer;	/* HELLO repeats and keepalive */
	struct channel_budget	 c_budget;	/* CONN_BUDGET */
	size_t			 c_max_queue;	/* rule 4's bound for this peer */
	/* Who it is in the audit trail (audit.c), if not c_label: a caller
	 * on a control socket is "caller pid N uid U", its label by uid only. */
	char			 c_who[64];
	const struct conn_ops	*c_ops;
	void			*c_arg;
};

/* The keepalive timeout of conns initialised from now on (seconds > 0). */
void	 conn_set_peer_timeout(double);
void	 conn_init(struct conn *, struct ev_loop *, int flags,
	    const char *label, const struct conn_ops *, void *arg);
/* Starts a session on fd (a new one replaces any old one). */
void	 conn_start(struct conn *, int fd);
/* Ends the session: every request gets on_lost(why).  Keeps the fd and
 * whatever is queued on it. */
void	 conn_reset(struct conn *, const char *why);
/* Ends the session, closes the fd and frees the buffers. */
void	 conn_stop(struct conn *, const char *why);
/* Says HELLO again now (e.g. the other end came back). */
void	 conn_greet(struct conn *);
int	 conn_ready(const struct conn *);
/* Seconds since the last valid frame from the peer; -1 if none yet. */
double	 conn_silence(const struct conn *);

/*
 * Sends request msg (id assigned here) and links req; conn must be ready,
 * or started with CONN_EARLY.
 */
void	 conn_request(struct conn *, struct req *, struct proto_msg *,
	    const struct req_ops *, void *arg);
/*
 * Links a served request with the id and type of msg.  -1 if the id is in
 * use or the peer has CONN_MAX_SERVED requests in flight (it is told so).
 * (A request that arrives while CHANNEL_MAX_QUEUE bytes of answers wait
 * for the peer never gets this far: rule 4.)
 */
int	 conn_accept(struct conn *, struct req *, const struct proto_msg *,
	    const struct req_ops *, void *arg);
/* Sends n <= rq_can_send[stream] bytes (n = 0: end of stream). */
void	 conn_send_data(struct req *, int stream, const void *, size_t n);
/*
 * conn_send_data of what a pipe gives, at most max bytes (1..credit):
 * channel_send_data_from, whose result it returns; -1 and EPIPE if there
 * is no session.  Credit is spent for what was sent.
 */
ssize_t	 conn_send_data_from(struct req *, int stream, int pipe, size_t max);
void	 conn_send_credit(struct req *, int stream, uint32_t n);
/* 1 while a producer for this request must wait (rule 2). */
int	 conn_congested(const struct req *);
/* Issued OPEN_TTY: sends our terminal's size (and $TERM) to the peer. */
void	 conn_send_tty(struct req *, const struct proto_tty *);
/* Issued: asks the peer to stop; its EXIT still comes back. */
void	 conn_cancel(struct req *);
/* Served: sends the final reply (id filled in) and unlinks the request. */
void	 conn_reply(struct req *, struct proto_msg *);
/* Served: final EXIT reply with a failure kind and a message. */
void	 conn_fail(struct req *, enum proto_exit_kind, int code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	 conn_unlink(struct req *);

#endif /* CHANNEL_H */
