/*
 * jobqueue.c: calls that wait for a running-job slot (runner.h, --max-jobs
 * and --max-jobs-per-peer).  A bounded queue per peer, in order within one
 * peer, round-robin across peers when slots free up.
 */
#ifndef JOBQUEUE_H
#define JOBQUEUE_H

#include <sys/queue.h>

#include <stddef.h>

struct jobqueue_peer;

/* One waiting call, embedded in its job. */
struct jobqueue_entry {
	TAILQ_ENTRY(jobqueue_entry) jq_entry;
	struct jobqueue_peer	*jq_peer;	/* NULL when not queued */
	/* Called when the entry leaves the queue to start. */
	void			(*jq_start)(struct jobqueue_entry *);
	void			*jq_arg;
};

/* 1 if a call of the peer known as key may start now. */
typedef int jobqueue_room_fn(const char *key);

/*
 * Queues e for the peer known as key, behind its other calls: 0, or -1
 * (e not queued) when that peer has max_peer calls waiting already or all
 * peers together max_total.
 */
int	 jobqueue_add(struct jobqueue_entry *e, const char *key,
	    size_t max_peer, size_t max_total);
/* Takes e out of the queue, if it is in it. */
void	 jobqueue_remove(struct jobqueue_entry *e);
int	 jobqueue_queued(const struct jobqueue_entry *e);
/* Calls waiting for the peer known as key, and for all peers. */
size_t	 jobqueue_count(const char *key);
size_t	 jobqueue_total(void);
/*
 * Starts waiting calls while room says one may start: the first call of
 * each peer in turn, from the peer after the last one served (round
 * robin).  Each leaves the queue before its jq_start runs, which may free
 * it or queue more.
 */
void	 jobqueue_run(jobqueue_room_fn *room);

#endif /* JOBQUEUE_H */
