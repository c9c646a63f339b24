/*
 * A channel owns one fd: it reads and decodes frames, and queues encoded
 * frames for writing.  channel_update_events() alone decides which watchers
 * run, from the state of the buffers; every path that changes a buffer or
 * the fd calls it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"

#define CHANNEL_READ_SIZE	(PROTO_HDR_LEN + PROTO_MAX_PAYLOAD)

static void	channel_read_cb(struct ev_loop *, ev_io *, int);
static void	channel_write_cb(struct ev_loop *, ev_io *, int);

void
channel_init(struct channel *ch, struct ev_loop *loop,
    const struct channel_ops *ops, void *arg)
{
	memset(ch, 0, sizeof(*ch));
	ch->ch_fd = -1;
	ch->ch_loop = loop;
	ch->ch_ops = ops;
	ch->ch_arg = arg;
	ev_init(&ch->ch_read, channel_read_cb);
	ev_init(&ch->ch_write, channel_write_cb);
	ch->ch_read.data = ch->ch_write.data = ch;
}

void
channel_attach(struct channel *ch, int fd)
{
	channel_detach(ch);
	ch->ch_fd = fd;
	ev_io_set(&ch->ch_read, fd, EV_READ);
	ev_io_set(&ch->ch_write, fd, EV_WRITE);
	channel_update_events(ch);
}

void
channel_detach(struct channel *ch)
{
	if (ch->ch_fd == -1)
		return;
	close(ch->ch_fd);
	ch->ch_fd = -1;
	ch->ch_stalled_at = 0;
	buf_clear(&ch->ch_in);
	buf_clear(&ch->ch_out);
	channel_update_events(ch);
}

void
channel_pause(struct channel *ch, int paused)
{
	ch->ch_paused = paused;
	channel_update_events(ch);
}

void
channel_discard_input(struct channel *ch)
{
	buf_clear(&ch->ch_in);
	ch->ch_stalled_at = 0;
}

void
channel_update_events(struct channel *ch)
{
	int	 open = ch->ch_fd != -1 && !ch->ch_paused;
	int	 want_read = open && buf_pending(&ch->ch_out) < CHANNEL_HIGHWATER;
	int	 want_write = open && buf_pending(&ch->ch_out) > 0;

	if (want_read && !ev_is_active(&ch->ch_read))
		ev_io_start(ch->ch_loop, &ch->ch_read);
	else if (!want_read && ev_is_active(&ch->ch_read))
		ev_io_stop(ch->ch_loop, &ch->ch_read);
	if (want_write && !ev_is_active(&ch->ch_write))
		ev_io_start(ch->ch_loop, &ch->ch_write);
	else if (!want_write && ev_is_active(&ch->ch_write))
		ev_io_stop(ch->ch_loop, &ch->ch_write);
}

void
channel_send(struct channel *ch, const struct proto_msg *msg)
{
	if (ch->ch_fd == -1)
		return;
	proto_pack(&ch->ch_out, msg);
	channel_update_events(ch);
}

/*
 * Called with an incomplete frame at the head: 1 (having skipped it) if it
 * has been stuck for CHANNEL_STALL_MS and a whole frame follows inside it.
 */
static int
channel_stalled(struct channel *ch)
{
	ssize_t	 off;

	if (ch->ch_stalled_at == 0) {
		ch->ch_stalled_at = now_ms();
		return 0;
	}
	if (now_ms() - ch->ch_stalled_at < CHANNEL_STALL_MS ||
	    (off = proto_find_frame(buf_head(&ch->ch_in),
	    buf_pending(&ch->ch_in))) == -1)
		return 0;
	buf_consume(&ch->ch_in, (size_t)off);
	ch->ch_stalled_at = 0;
	ch->ch_ops->on_bad(ch, "gave up on a frame cut short");
	return 1;
}

/* Decodes and delivers every whole frame in the input buffer. */
static void
channel_parse(struct channel *ch)
{
	struct proto_msg	 msg;
	const char		*why;
	size_t			 used;
	int			 fd = ch->ch_fd;

	while (ch->ch_fd == fd && buf_pending(&ch->ch_in) > 0) {
		switch (proto_parse(buf_head(&ch->ch_in),
		    buf_pending(&ch->ch_in), &msg, &used, &why)) {
		case PARSE_INCOMPLETE:
			if (channel_stalled(ch))
				break;
			return;
		case PARSE_BAD:
			ch->ch_stalled_at = 0;
			buf_consume(&ch->ch_in, used);
			ch->ch_ops->on_bad(ch, why);
			break;
		case PARSE_OK:
			ch->ch_stalled_at = 0;
			/* DATA points into ch_in: consume after delivery. */
			ch->ch_ops->on_msg(ch, &msg);
			proto_msg_free(&msg);
			if (ch->ch_fd == fd)
				buf_consume(&ch->ch_in, used);
			break;
		}
	}
}

static void
channel_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct channel	*ch = w->data;
	ssize_t		 n;

	(void)loop;
	(void)revents;
	n = read(ch->ch_fd, buf_reserve(&ch->ch_in, CHANNEL_READ_SIZE),
	    CHANNEL_READ_SIZE);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		ch->ch_ops->on_eof(ch, n == 0 ? 0 : errno);
		return;
	}
	buf_commit(&ch->ch_in, (size_t)n);
	channel_parse(ch);
	channel_update_events(ch);
}

static void
channel_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct channel	*ch = w->data;
	ssize_t		 n;

	(void)loop;
	(void)revents;
	n = write(ch->ch_fd, buf_head(&ch->ch_out), buf_pending(&ch->ch_out));
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n == -1) {
		ch->ch_ops->on_eof(ch, errno);
		return;
	}
	buf_consume(&ch->ch_out, (size_t)n);
	channel_update_events(ch);
}
