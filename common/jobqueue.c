/*
 * The queue of calls waiting for a running-job slot.  A peer (its conn's
 * label, as runner.c counts jobs) has a FIFO of its own; the peers that
 * have calls waiting form a ring, and when slots free up each peer in turn
 * starts its first call, so a peer with a thousand calls waiting delays
 * another's next call by at most one call per peer.  The bounds are the
 * caller's (runner.c), so that what the queue may hold is stated where the
 * caps are.
 */
#include <stdlib.h>
#include <string.h>

#include "jobqueue.h"
#include "log.h"
#include "util.h"

struct jobqueue_peer {
	TAILQ_ENTRY(jobqueue_peer) jp_entry;
	TAILQ_HEAD(, jobqueue_entry) jp_calls;
	size_t			 jp_count;
	char			 jp_key[128];
};

/* Peers with calls waiting; the head is the next to be served. */
static TAILQ_HEAD(, jobqueue_peer) jobqueue_ring =
    TAILQ_HEAD_INITIALIZER(jobqueue_ring);
static size_t	 jobqueue_waiting;

static struct jobqueue_peer *
jobqueue_find(const char *key)
{
	struct jobqueue_peer	*jp;

	TAILQ_FOREACH(jp, &jobqueue_ring, jp_entry)
		if (strncmp(jp->jp_key, key, sizeof(jp->jp_key) - 1) == 0)
			return jp;
	return NULL;
}

size_t
jobqueue_count(const char *key)
{
	struct jobqueue_peer	*jp = jobqueue_find(key);

	return jp == NULL ? 0 : jp->jp_count;
}

size_t
jobqueue_total(void)
{
	return jobqueue_waiting;
}

int
jobqueue_queued(const struct jobqueue_entry *e)
{
	return e->jq_peer != NULL;
}

int
jobqueue_add(struct jobqueue_entry *e, const char *key, size_t max_peer,
    size_t max_total)
{
	struct jobqueue_peer	*jp = jobqueue_find(key);

	if (e->jq_peer != NULL)
		fatalx("%s: queued twice", __func__);
	if (jobqueue_waiting >= max_total ||
	    (jp != NULL && jp->jp_count >= max_peer) || max_peer == 0)
		return -1;
	if (jp == NULL) {
		/* A peer new to the ring waits for its turn behind the rest. */
		jp = xcalloc(1, sizeof(*jp));
		TAILQ_INIT(&jp->jp_calls);
		strlcpy(jp->jp_key, key, sizeof(jp->jp_key));
		TAILQ_INSERT_TAIL(&jobqueue_ring, jp, jp_entry);
	}
	TAILQ_INSERT_TAIL(&jp->jp_calls, e, jq_entry);
	e->jq_peer = jp;
	jp->jp_count++;
	jobqueue_waiting++;
	return 0;
}

void
jobqueue_remove(struct jobqueue_entry *e)
{
	struct jobqueue_peer	*jp = e->jq_peer;

	if (jp == NULL)
		return;
	TAILQ_REMOVE(&jp->jp_calls, e, jq_entry);
	e->jq_peer = NULL;
	jp->jp_count--;
	jobqueue_waiting--;
	if (jp->jp_count == 0) {
		TAILQ_REMOVE(&jobqueue_ring, jp, jp_entry);
		free(jp);
	}
}

void
jobqueue_run(jobqueue_room_fn *room)
{
	struct jobqueue_peer	*jp;
	struct jobqueue_entry	*e;

again:
	TAILQ_FOREACH(jp, &jobqueue_ring, jp_entry) {
		if (!room(jp->jp_key))
			continue;
		e = TAILQ_FIRST(&jp->jp_calls);
		/* Served: this peer goes to the back of the ring. */
		TAILQ_REMOVE(&jobqueue_ring, jp, jp_entry);
		TAILQ_INSERT_TAIL(&jobqueue_ring, jp, jp_entry);
		jobqueue_remove(e);
		e->jq_start(e);
		/* jq_start may have changed the ring: look again from its head. */
		goto again;
	}
}
