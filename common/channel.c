/*
 * A channel owns one fd: it reads and decodes frames, and queues encoded
 * frames for writing.  channel_update_events() alone decides which watchers
 * run, from the state of the fd and the send queue; every path that changes
 * either calls it.  The fd is read whenever it is attached and not paused
 * (channel.h, rule 1), and within its share (rule 5).
 *
 * What is queued is written before the loop next polls (a prepare
 * watcher), all the frames of a turn of the loop in one write, and the
 * write watcher waits only for an fd that took less than it was given:
 * a small answer costs one write, not a change of the fd's interest, a
 * poll and another change back (3 system calls a frame, which a TCG
 * guest pays dearly for).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"

#define CHANNEL_READ_SIZE	(PROTO_HDR_LEN + PROTO_MAX_PAYLOAD)
/*
 * Read on a non-blocking fd before decoding: a whole DATA frame.  From a
 * virtio port (4 KiB a read) a TCG guest's daemon took 64 MiB into a
 * command 1.17x faster than with 256 KiB (142.7 against 121.6 MB/s, 10
 * interleaved runs; 32 KiB: 128.6): the command gets each frame as it is
 * whole, not in bursts that overfill its pipe (docs/benchmarks.md).
 */
#define CHANNEL_READ_BATCH	PROTO_MAX_DATA
#define CHANNEL_WRITE_BATCH	(256 * 1024)	/* written in one turn, ditto */
/* A port's splice asks for more than a relay can hold (ch_splice). */
#define CHANNEL_RELAY_ASK	(16 * 1024 * 1024)

static void	channel_read_cb(struct ev_loop *, ev_io *, int);
static void	channel_write_cb(struct ev_loop *, ev_io *, int);
static void	channel_flush_cb(struct ev_loop *, ev_prepare *, int);
static void	channel_resume_cb(struct ev_loop *, ev_timer *, int);

int	channel_splice_ports;

static void
channel_relay_close(struct channel *ch)
{
	if (ch->ch_relay[0] != -1) {
		close(ch->ch_relay[0]);
		close(ch->ch_relay[1]);
	}
	ch->ch_relay[0] = ch->ch_relay[1] = -1;
}

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
	ev_prepare_init(&ch->ch_flush, channel_flush_cb);
	ch->ch_relay[0] = ch->ch_relay[1] = -1;
	ev_init(&ch->ch_resume, channel_resume_cb);
	ch->ch_read.data = ch->ch_write.data = ch->ch_resume.data = ch;
	ch->ch_flush.data = ch;
}

void
channel_attach(struct channel *ch, int fd)
{
	struct stat	 st;

	channel_detach(ch);
	ch->ch_fd = fd;
	ch->ch_nonblock = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
	ch->ch_splice = CH_SPLICE_NONE;
	if (fstat(fd, &st) == 0) {
		ch->ch_socket = S_ISSOCK(st.st_mode);
		if (ch->ch_nonblock && ch->ch_socket)
			ch->ch_splice = CH_SPLICE_DIRECT;
		else if (ch->ch_nonblock && S_ISCHR(st.st_mode) &&
		    channel_splice_ports)
			ch->ch_splice = CH_SPLICE_RELAY;
	}
	ch->ch_last_input = ev_now(ch->ch_loop);
	ev_io_set(&ch->ch_read, fd, EV_READ);
	ev_io_set(&ch->ch_write, fd, EV_WRITE);
	channel_update_events(ch);
}

void
channel_detach(struct channel *ch)
{
	if (ch->ch_fd != -1)
		close(ch->ch_fd);
	ch->ch_fd = -1;
	channel_relay_close(ch);
	ch->ch_congested = 0;
	ch->ch_socket = 0;
	ch->ch_write_blocked = 0;
	channel_discard_input(ch);
	buf_free(&ch->ch_in);
	buf_free(&ch->ch_out);
	channel_update_events(ch);
}

void
channel_pause(struct channel *ch, int paused)
{
	ch->ch_paused = paused;
	channel_update_events(ch);
}

void
channel_set_budget(struct channel *ch, struct channel_budget *b)
{
	ch->ch_budget = b;
	channel_update_events(ch);
}

/* --- the share of work (channel.h, rule 5) -------------------------- */

/*
 * The clock a peer's share is counted by: the loop's time spent on it,
 * not only its CPU time, since the others wait as long while a request
 * waits in the kernel or for a processor (on a loaded machine, a LIST
 * took 6 ms of wall clock for 0.1 ms of CPU).  A vDSO call, cheap enough
 * to read after every frame.
 */
static double
channel_clock(void)
{
	struct timespec	 ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		return 0;
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
channel_over_budget(struct channel *ch)
{
	struct channel_budget	*b = ch->ch_budget;
	ev_tstamp		 now = ev_now(ch->ch_loop);
	double			 allowed = CHANNEL_SHARE * CHANNEL_SHARE_WINDOW;
	double			 windows;

	if (b == NULL)
		return 0;
	if (now - b->cb_window >= CHANNEL_SHARE_WINDOW) {
		/* Each window that went by pays for its share of the debt. */
		windows = (double)(int64_t)((now - b->cb_window) /
		    CHANNEL_SHARE_WINDOW);
		b->cb_spent -= windows * allowed;
		if (b->cb_spent < 0)
			b->cb_spent = 0;
		b->cb_window = windows > 1000 ? now :
		    b->cb_window + windows * CHANNEL_SHARE_WINDOW;
	}
	return b->cb_spent >= allowed;
}

/* A turn of work on the peer's input begins. */
static void
channel_turn_begin(struct channel *ch)
{
	if (ch->ch_budget != NULL)
		ch->ch_turn_start = channel_clock();
}

/* ... and ends: the time it took is counted against the budget. */
static void
channel_turn_end(struct channel *ch)
{
	double	 spent;

	if (ch->ch_budget == NULL)
		return;
	spent = channel_clock() - ch->ch_turn_start;
	if (spent > 0)
		ch->ch_budget->cb_spent += spent;
}

/* 1 if this turn has had its share: the rest waits for the next. */
static int
channel_turn_over(struct channel *ch, int frames)
{
	if (ch->ch_budget == NULL)
		return 0;
	if (frames >= CHANNEL_TURN_FRAMES)
		return 1;
	return frames > 0 &&
	    channel_clock() - ch->ch_turn_start >= CHANNEL_TURN_TIME;
}

void
channel_discard_input(struct channel *ch)
{
	ch->ch_backlog = 0;
	buf_clear(&ch->ch_in);
	ch->ch_stalled_at = 0;
	ch->ch_consumed = 0;
	ch->ch_resumed = 0;
}

int
channel_congested(const struct channel *ch)
{
	return ch->ch_congested;
}

const char *
channel_eof_reason(int error)
{
	return error != 0 ? strerror(error) : "end of file";
}

/*
 * 1 if a write to the fd cannot block: an O_NONBLOCK fd, or a socket
 * (written with MSG_DONTWAIT).  A blocking fd of another kind is written
 * once per write event.
 */
static int
channel_writes_at_once(const struct channel *ch)
{
	return ch->ch_nonblock || ch->ch_socket;
}

/*
 * Read while open, within the share, and with no whole frame waiting for
 * its turn (rule 5); a timer runs the next turn, at once or when the
 * budget's window turns.
 */
void
channel_update_events(struct channel *ch)
{
	int	 open = ch->ch_fd != -1 && !ch->ch_paused;
	int	 held = open && channel_over_budget(ch);
	int	 want_read = open && !held && !ch->ch_backlog;
	int	 want_resume = open && (held || ch->ch_backlog);
	int	 pending = open && buf_pending(&ch->ch_out) > 0;
	/* The write watcher only for what an fd did not take (above). */
	int	 want_flush = pending && !ch->ch_write_blocked &&
	    !ch->ch_congested && channel_writes_at_once(ch);
	int	 want_write = pending && !want_flush;

	if (want_read && !ev_is_active(&ch->ch_read))
		ev_io_start(ch->ch_loop, &ch->ch_read);
	else if (!want_read && ev_is_active(&ch->ch_read))
		ev_io_stop(ch->ch_loop, &ch->ch_read);
	if (want_resume && !ev_is_active(&ch->ch_resume)) {
		ev_timer_set(&ch->ch_resume, held ? ch->ch_budget->cb_window +
		    CHANNEL_SHARE_WINDOW - ev_now(ch->ch_loop) : 0., 0.);
		ev_timer_start(ch->ch_loop, &ch->ch_resume);
	} else if (!want_resume && ev_is_active(&ch->ch_resume))
		ev_timer_stop(ch->ch_loop, &ch->ch_resume);
	if (want_write && !ev_is_active(&ch->ch_write))
		ev_io_start(ch->ch_loop, &ch->ch_write);
	else if (!want_write && ev_is_active(&ch->ch_write))
		ev_io_stop(ch->ch_loop, &ch->ch_write);
	if (want_flush && !ev_is_active(&ch->ch_flush))
		ev_prepare_start(ch->ch_loop, &ch->ch_flush);
	else if (!want_flush && ev_is_active(&ch->ch_flush))
		ev_prepare_stop(ch->ch_loop, &ch->ch_flush);
}

/* Bytes were queued: producers may have to wait (rule 2), and the fd. */
static void
channel_queued(struct channel *ch)
{
	if (buf_pending(&ch->ch_out) >= CHANNEL_HIGHWATER)
		ch->ch_congested = 1;
	channel_update_events(ch);
}

void
channel_send(struct channel *ch, const struct proto_msg *msg)
{
	if (ch->ch_fd == -1)
		return;
	proto_pack(&ch->ch_out, msg);
	channel_queued(ch);
}

static void
channel_consume(struct channel *ch, size_t n)
{
	buf_consume(&ch->ch_in, n);
	ch->ch_consumed += n;
	ch->ch_stalled_at = 0;
}

/*
 * Called with an incomplete frame at the head: 1 (having skipped it) if it
 * has waited CHANNEL_STALL for its end and a whole HELLO or HELLO_ACK
 * starts exactly where input resumed after a gap (channel.h): a writer that
 * started over says one of them first.  Nothing inside the frame but that
 * one offset is ever looked at, and that offset only until it is known
 * not to hold a HELLO: a frame stuck for good costs O(header) per read.
 */
static int
channel_stalled(struct channel *ch)
{
	struct proto_msg	 msg;
	const char		*why;
	const uint8_t		*p;
	ev_tstamp		 now = ev_now(ch->ch_loop);
	size_t			 off, used, left;
	uint8_t			 magic[4] = { PROTO_MAGIC >> 24,
				    (PROTO_MAGIC >> 16) & 0xff,
				    (PROTO_MAGIC >> 8) & 0xff, PROTO_MAGIC & 0xff };
	int			 rv;

	if (ch->ch_stalled_at == 0) {
		ch->ch_stalled_at = now;
		return 0;
	}
	if (now - ch->ch_stalled_at < CHANNEL_STALL ||
	    ch->ch_resumed <= ch->ch_consumed)
		return 0;
	off = (size_t)(ch->ch_resumed - ch->ch_consumed);
	if (off >= buf_pending(&ch->ch_in))
		return 0;
	p = buf_head(&ch->ch_in) + off;
	left = buf_pending(&ch->ch_in) - off;
	if (memcmp(p, magic, left < 4 ? left : 4) != 0) {
		ch->ch_resumed = 0;	/* not a frame there: never again */
		return 0;
	}
	rv = proto_parse(p, left, &msg, &used, &why);
	if (rv == PARSE_INCOMPLETE)
		return 0;
	if (rv != PARSE_OK) {
		ch->ch_resumed = 0;
		return 0;
	}
	rv = msg.m_type == MSG_HELLO || msg.m_type == MSG_HELLO_ACK;
	proto_msg_free(&msg);
	if (!rv) {
		ch->ch_resumed = 0;
		return 0;
	}
	channel_consume(ch, off);
	ch->ch_ops->on_bad(ch, "gave up on a frame cut short");
	return 1;
}

/*
 * Skipped input is reported once per batch of reads, not once per bad
 * frame: garbage made of candidate headers would otherwise cost a report
 * every few bytes.
 */
static void
channel_report(struct channel *ch, const char *why, uint64_t n, int frames)
{
	char	 what[160];

	if (frames == 0)
		return;
	if (frames == 1)
		snprintf(what, sizeof(what), "%s (%llu bytes)", why,
		    (unsigned long long)n);
	else
		snprintf(what, sizeof(what), "%s and %d more (%llu bytes)",
		    why, frames - 1, (unsigned long long)n);
	ch->ch_ops->on_bad(ch, what);
}

/*
 * Decodes and delivers every whole frame in the input buffer, or with a
 * budget this turn's share of them (rule 5): ch_backlog says that more
 * may wait.
 */
static void
channel_parse(struct channel *ch)
{
	struct proto_msg	 msg;
	const char		*why, *first = NULL;
	size_t			 used;
	uint64_t		 skipped = 0;
	int			 fd = ch->ch_fd, bad = 0, rv, frames = 0;

	ch->ch_backlog = 0;
	while (ch->ch_fd == fd && buf_pending(&ch->ch_in) > 0) {
		if (channel_turn_over(ch, frames++)) {
			ch->ch_backlog = 1;
			break;
		}
		switch ((rv = proto_parse(buf_head(&ch->ch_in),
		    buf_pending(&ch->ch_in), &msg, &used, &why))) {
		case PARSE_INCOMPLETE:
			if (channel_stalled(ch))
				break;
			channel_report(ch, first, skipped, bad);
			return;
		case PARSE_REFUSED:
		case PARSE_BAD:
			/*
			 * A writer that started over inside the frame cut it
			 * short: the skip ends where its input resumed.
			 */
			if (ch->ch_resumed > ch->ch_consumed &&
			    ch->ch_resumed - ch->ch_consumed < used)
				used = (size_t)(ch->ch_resumed -
				    ch->ch_consumed);
			channel_consume(ch, used);
			if (rv == PARSE_REFUSED &&
			    ch->ch_ops->on_refused != NULL) {
				ch->ch_ops->on_refused(ch, &msg, why);
				break;
			}
			if (bad++ == 0)
				first = why;
			skipped += used;
			break;
		case PARSE_OK:
			/* DATA points into ch_in: consume after delivery. */
			ch->ch_ops->on_msg(ch, &msg);
			proto_msg_free(&msg);
			if (ch->ch_fd == fd)
				channel_consume(ch, used);
			break;
		}
	}
	if (ch->ch_fd == fd)
		channel_report(ch, first, skipped, bad);
}

/* Bytes arrived at the tail of ch_in (already committed). */
static void
channel_arrived(struct channel *ch, size_t n)
{
	ev_tstamp	 now = ev_now(ch->ch_loop);
	size_t		 before = buf_pending(&ch->ch_in) - n;

	/* Where a writer may have started over (channel.h). */
	if (before > 0 && now - ch->ch_last_input >= CHANNEL_GAP)
		ch->ch_resumed = ch->ch_consumed + before;
	ch->ch_last_input = now;
	channel_parse(ch);
}

void
channel_input(struct channel *ch, const void *p, size_t n)
{
	buf_append(&ch->ch_in, p, n);
	channel_arrived(ch, n);
}

static void
channel_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct channel	*ch = w->data;
	ssize_t		 n;
	size_t		 got = 0;
	int		 batch;

	(void)loop;
	(void)revents;
	/*
	 * A virtio port gives at most one 4 KiB buffer a read: on a
	 * non-blocking fd, read on up to CHANNEL_READ_BATCH before decoding,
	 * rather than going back to the loop for each buffer.  A blocking fd
	 * (a CLI's) is read once: a second read could wait.  A socket that
	 * gave less than was asked for is empty: a read more would only say
	 * EAGAIN, and the loop says when there is more.
	 */
	batch = ch->ch_nonblock;
	channel_turn_begin(ch);
	do {
		n = read(ch->ch_fd, buf_reserve(&ch->ch_in, CHANNEL_READ_SIZE),
		    CHANNEL_READ_SIZE);
		if (n > 0) {
			buf_commit(&ch->ch_in, (size_t)n);
			got += (size_t)n;
		}
		if (n > 0 && ch->ch_socket && (size_t)n < CHANNEL_READ_SIZE)
			break;
	} while ((n > 0 && batch && got < CHANNEL_READ_BATCH) ||
	    (n == -1 && errno == EINTR));
	if (got > 0) {
		/* An end of file or error after data is met on the next read. */
		channel_arrived(ch, got);
		channel_turn_end(ch);
		channel_update_events(ch);
		return;
	}
	channel_turn_end(ch);
	if (n == -1 && errno == EAGAIN)
		return;
	ch->ch_ops->on_eof(ch, n == 0 ? 0 : errno);
}

/* The next turn of a channel whose frames wait, or whose window turned. */
static void
channel_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct channel	*ch = w->data;

	(void)loop;
	(void)revents;
	if (ch->ch_backlog && ch->ch_fd != -1 && !ch->ch_paused &&
	    !channel_over_budget(ch)) {
		channel_turn_begin(ch);
		channel_parse(ch);
		channel_turn_end(ch);
	}
	channel_update_events(ch);
}

/*
 * Writes what is queued until the fd would block, at most
 * CHANNEL_WRITE_BATCH bytes (a virtio port takes 32 KiB a write): 1 if
 * the queue is empty then, 0 if not (ch_write_blocked set), -1 and errno
 * on an error.  A blocking fd other than a socket gets one write.
 */
static int
channel_write_some(struct channel *ch)
{
	size_t	 done = 0;
	ssize_t	 n;

	while (buf_pending(&ch->ch_out) > 0) {
		if (done >= CHANNEL_WRITE_BATCH ||
		    (done > 0 && !channel_writes_at_once(ch))) {
			ch->ch_write_blocked = 1;
			return 0;
		}
		if (ch->ch_socket)
			n = send(ch->ch_fd, buf_head(&ch->ch_out),
			    buf_pending(&ch->ch_out), MSG_DONTWAIT |
			    MSG_NOSIGNAL);
		else
			n = write(ch->ch_fd, buf_head(&ch->ch_out),
			    buf_pending(&ch->ch_out));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			ch->ch_write_blocked = 1;
			return 0;
		}
		if (n == -1)
			return -1;
		buf_consume(&ch->ch_out, (size_t)n);
		ch->ch_last_output = ev_now(ch->ch_loop);
		done += (size_t)n;
	}
	ch->ch_write_blocked = 0;
	return 1;
}

void
channel_flush(struct channel *ch)
{
	int	 saved = errno;

	if (ch->ch_fd == -1 || ch->ch_paused || !channel_writes_at_once(ch) ||
	    ch->ch_congested)
		return;
	(void)channel_write_some(ch);	/* an error: the watcher's to find */
	channel_update_events(ch);
	errno = saved;
}

/* Producers may go on once the queue is below CHANNEL_LOWWATER. */
static void
channel_check_drain(struct channel *ch)
{
	if (ch->ch_congested && buf_pending(&ch->ch_out) < CHANNEL_LOWWATER) {
		ch->ch_congested = 0;
		if (ch->ch_ops->on_drain != NULL)
			ch->ch_ops->on_drain(ch);
	}
}

/* The queue is written: by the write watcher, or before the next poll. */
static void
channel_write_out(struct channel *ch)
{
	if (channel_write_some(ch) == -1) {
		ch->ch_ops->on_eof(ch, errno);
		return;
	}
	channel_update_events(ch);
	channel_check_drain(ch);
}

static void
channel_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	channel_write_out(w->data);
}

static void
channel_flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	channel_write_out(w->data);
}

/*
 * The splice path of channel_send_data_from: with nothing queued ahead,
 * the header goes out, then what the pipe holds (FIONREAD, up to max)
 * from the pipe to the fd in the kernel; what the fd did not take is read
 * into the queue.  Returns the bytes sent, or 0 if it did not start (the
 * pipe held nothing, or the queue did not drain): the caller reads.
 */
static ssize_t
channel_splice_data(struct channel *ch, uint32_t tag, uint32_t id,
    uint32_t stream, int pipe, size_t max)
{
	size_t		 n, got = 0;
	ssize_t		 k;
	uint32_t	 trailer;
	int		 held = 0, from = pipe;

	if (channel_write_some(ch) != 1 ||
	    ioctl(pipe, FIONREAD, &held) == -1 || held <= 0)
		return 0;
	n = (size_t)held < max ? (size_t)held : max;
	if (ch->ch_splice == CH_SPLICE_RELAY) {
		/*
		 * The relay is empty here; pipe to pipe moves buffers, not
		 * bytes, and the port's splice below then empties it.
		 */
		if (ch->ch_relay[0] == -1 &&
		    pipe2(ch->ch_relay, O_NONBLOCK | O_CLOEXEC) == -1) {
			ch->ch_relay[0] = ch->ch_relay[1] = -1;
			return 0;
		}
		k = splice(pipe, NULL, ch->ch_relay[1], NULL, n,
		    SPLICE_F_NONBLOCK);
		if (k <= 0)
			return 0;
		n = (size_t)k;
		from = ch->ch_relay[0];
	}
	trailer = proto_data_head(buf_reserve(&ch->ch_out, PROTO_DATA_FRAME),
	    tag, id, stream, n);
	buf_commit(&ch->ch_out, PROTO_HDR_LEN + PROTO_DATA_HEAD);
	if (channel_write_some(ch) == 1) {
		/* To a port, always more than the relay holds (ch_splice). */
		k = splice(from, NULL, ch->ch_fd, NULL,
		    ch->ch_splice == CH_SPLICE_RELAY ? CHANNEL_RELAY_ASK : n,
		    SPLICE_F_NONBLOCK);
		if (k > 0) {
			got = (size_t)k;
			ch->ch_last_output = ev_now(ch->ch_loop);
		} else if (k == -1 && errno == EINVAL)
			ch->ch_splice = CH_SPLICE_NONE;	/* not this fd: never again */
	}
	/* The header is (being) sent: the frame must be completed. */
	while (got < n) {
		k = read(from, buf_reserve(&ch->ch_out, n - got), n - got);
		if (k == -1 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		buf_commit(&ch->ch_out, (size_t)k);
		got += (size_t)k;
	}
	if (got < n) {
		/* Cannot happen to a pipe read by us alone; ends the frame. */
		memset(buf_reserve(&ch->ch_out, n - got), 0, n - got);
		buf_commit(&ch->ch_out, n - got);
		if (from != pipe) {
			/* A relay not emptied is never spliced again. */
			log_warnx("channel: splice relay left unempty: "
			    "splicing stops");
			channel_relay_close(ch);
			ch->ch_splice = CH_SPLICE_NONE;
		}
	}
	proto_put_be32(&ch->ch_out, trailer);
	return (ssize_t)n;
}

ssize_t
channel_send_data_from(struct channel *ch, uint32_t tag, uint32_t id,
    uint32_t stream, int pipe, size_t max)
{
	uint8_t		*p;
	ssize_t		 n = 0;
	uint32_t	 trailer;

	if (ch->ch_fd != -1 && ch->ch_splice && !ch->ch_paused &&
	    !ch->ch_congested)
		n = channel_splice_data(ch, tag, id, stream, pipe, max);
	if (n == 0) {
		/* Read straight into the queue, behind room for the header. */
		p = buf_reserve(&ch->ch_out, PROTO_DATA_FRAME);
		do
			n = read(pipe, p + PROTO_HDR_LEN + PROTO_DATA_HEAD, max);
		while (n == -1 && errno == EINTR);
		if (n <= 0)
			return n;
		trailer = proto_data_head(p, tag, id, stream, (size_t)n);
		buf_commit(&ch->ch_out, PROTO_HDR_LEN + PROTO_DATA_HEAD +
		    (size_t)n);
		proto_put_be32(&ch->ch_out, trailer);
	}
	if (ch->ch_fd == -1)
		buf_clear(&ch->ch_out);	/* as channel_send: nowhere to go */
	else
		channel_queued(ch);
	return n;
}
