/*
 * fanout.c, report.c and table.c, the parts of fan-out: one guest asked,
 * as the engine keeps it and the report writes it, and the daemon's guest
 * table.  Private to them.
 */
#ifndef FANOUT_H
#define FANOUT_H

#include <ev.h>

#include "call.h"
#include "host.h"
#include "relay.h"
#include "request.h"
#include "util.h"

#define FANOUT_JSON_MAX		(1024 * 1024)	/* per stream and guest */
#define FANOUT_TABLE_WAIT	(CALL_HELLO_WAIT + RELAY_WAIT)

struct link;

/* One guest asked. */
struct target {
	char			 t_name[PROTO_MAX_NAME + 1];
	struct link		*t_link;
	struct req		 t_req;
	ev_timer		 t_deadline;
	double			 t_wait;	/* seconds; 0 = none */
	uint64_t		 t_start_ns;
	double			 t_ms;
	int			 t_done;
	int			 t_status;
	int			 t_signal;	/* killed by it; 0: not */
	char			 t_error[PROTO_MAX_MESSAGE + 64];
	struct buf		 t_out[STREAM_COUNT];
	int			 t_truncated;
};

/* One conn: to the daemon's control socket, or to one guest's channel. */
struct link {
	struct conn		 l_conn;
	struct target		**l_targets;
	size_t			 l_count;
};

/*
 * report.c.  report_flush writes the whole lines waiting for stream s of
 * t, all of it if final (text mode); report_target the result of t once
 * it is done; report_summary, at the end of text mode, the guests that
 * failed; report_flushed is 0 once stdout is written, else 125 (and why).
 */
void	 report_flush(struct target *t, int s, int final);
void	 report_target(const struct fanout *, struct target *t);
void	 report_summary(const struct fanout *, const struct target *targets,
	    size_t ntargets, size_t failed);
int	 report_flushed(void);
void	 report_found(const struct fanout *, const struct found_guest *,
	    size_t n);
void	 report_guests(const struct fanout *, const struct proto_names *);

/*
 * table.c.  table_fetch: the daemon's guest table, all pages, into *na
 * (free it with table_free); 0, -1 if no daemon listens, or exits on
 * failure.
 */
int	 table_fetch(const struct host_config *, struct proto_names *na);
void	 table_free(struct proto_names *na);

#endif /* FANOUT_H */
