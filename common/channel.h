/*
 * Channels and sessions: the transport under every peer, control client and
 * CLI.  channel.c owns an fd, its framing and its send queue; conn.c runs
 * the session on top (handshake, nonce tags, request tables, credits).
 */
#ifndef CHANNEL_H
#define CHANNEL_H

#include <sys/queue.h>

#include <ev.h>

#include "proto.h"
#include "util.h"

/* Stop reading from a peer while this much is queued for it. */
#define CHANNEL_HIGHWATER	(1024 * 1024)
/*
 * A frame still incomplete after this long, with a whole valid frame inside
 * what it claims as payload, is taken for the remains of a writer that died
 * half-way and skipped, so the new writer's frames are not held back.
 */
#define CHANNEL_STALL_MS	2000

struct channel;

struct channel_ops {
	/* A decoded message; freed by the channel after the call returns. */
	void	(*on_msg)(struct channel *, struct proto_msg *);
	/* Bytes that were not a valid frame were skipped. */
	void	(*on_bad)(struct channel *, const char *why);
	/* End of file (error 0) or an I/O error; the fd is still attached. */
	void	(*on_eof)(struct channel *, int error);
};

struct channel {
	int			 ch_fd;
	int			 ch_paused;	/* no I/O at all while set */
	uint64_t		 ch_stalled_at;	/* incomplete frame at head since */
	struct buf		 ch_in;
	struct buf		 ch_out;
	ev_io			 ch_read;
	ev_io			 ch_write;
	struct ev_loop		*ch_loop;
	const struct channel_ops *ch_ops;
	void			*ch_arg;
};

/* channel.c */
void	 channel_init(struct channel *, struct ev_loop *,
	    const struct channel_ops *, void *arg);
void	 channel_attach(struct channel *, int fd);
/* Closes the fd, drops both buffers; safe inside a channel callback. */
void	 channel_detach(struct channel *);
void	 channel_send(struct channel *, const struct proto_msg *);
void	 channel_pause(struct channel *, int paused);
/* Forgets bytes read but not yet decoded (the other end started over). */
void	 channel_discard_input(struct channel *);
void	 channel_update_events(struct channel *);

/* conn.c */
enum conn_state {
	CONN_DOWN,		/* no transport, or the other end is away */
	CONN_HELLO,		/* our HELLO sent, no answer yet */
	CONN_READY,		/* both nonces known */
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
};

/* One request on one conn, embedded in whatever object serves or issues it. */
struct req {
	LIST_ENTRY(req)		 rq_entry;
	struct conn		*rq_conn;	/* NULL when not linked */
	uint32_t		 rq_id;
	uint16_t		 rq_type;
	uint32_t		 rq_can_send[STREAM_COUNT];
	uint32_t		 rq_can_recv[STREAM_COUNT];
	const struct req_ops	*rq_ops;
	void			*rq_arg;
};
LIST_HEAD(req_list, req);

struct conn_ops {
	/* A new OPEN, PING, LIST or GUESTS; take it with conn_accept(). */
	void	(*on_request)(struct conn *, struct proto_msg *);
	/* The session became ready. */
	void	(*on_ready)(struct conn *);
	/* The transport ended; the session is already reset. */
	void	(*on_eof)(struct conn *, int error);
};

#define CONN_MAX_SERVED	256	/* requests of the peer in flight at once */

#define CONN_SERVES	0x1	/* the peer may send us requests */
#define CONN_ISSUES	0x2	/* we send requests to the peer */
#define CONN_GREETS	0x4	/* we say HELLO first and repeat it */

struct conn {
	struct channel		 c_ch;
	enum conn_state		 c_state;
	int			 c_flags;
	uint32_t		 c_nonce;	/* ours, for this session */
	uint32_t		 c_peer_nonce;
	uint32_t		 c_next_id;
	char			 c_label[128];	/* who is on the other end */
	char			 c_peer_name[PROTO_MAX_NAME + 1];
	struct req_list		 c_served;
	struct req_list		 c_issued;
	ev_timer		 c_hello_timer;
	const struct conn_ops	*c_ops;
	void			*c_arg;
};

void	 conn_init(struct conn *, struct ev_loop *, int flags,
	    const char *label, const struct conn_ops *, void *arg);
/* Starts a session on fd (a new one replaces any old one). */
void	 conn_start(struct conn *, int fd);
/* Ends the session: every request gets on_lost(why).  Keeps the fd and
 * whatever is queued on it. */
void	 conn_reset(struct conn *, const char *why);
/* Ends the session and closes the fd. */
void	 conn_stop(struct conn *, const char *why);
/* Says HELLO again now (e.g. the other end came back). */
void	 conn_greet(struct conn *);
int	 conn_ready(const struct conn *);

/* Sends request msg (id assigned here) and links req; conn must be ready. */
void	 conn_request(struct conn *, struct req *, struct proto_msg *,
	    const struct req_ops *, void *arg);
/*
 * Links a served request with the id and type of msg.  -1 if the id is in
 * use or the peer has CONN_MAX_SERVED requests in flight (it is told so).
 */
int	 conn_accept(struct conn *, struct req *, const struct proto_msg *,
	    const struct req_ops *, void *arg);
/* Sends n <= rq_can_send[stream] bytes (n = 0: end of stream). */
void	 conn_send_data(struct req *, int stream, const void *, size_t n);
void	 conn_send_credit(struct req *, int stream, uint32_t n);
/* Issued: asks the peer to stop; its EXIT still comes back. */
void	 conn_cancel(struct req *);
/* Served: sends the final reply (id filled in) and unlinks the request. */
void	 conn_reply(struct req *, struct proto_msg *);
/* Served: final EXIT reply with a failure kind and a message. */
void	 conn_fail(struct req *, enum proto_exit_kind, int code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	 conn_unlink(struct req *);

#endif /* CHANNEL_H */
