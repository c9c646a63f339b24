/*
 * jobqueue.c: in order within a peer, round-robin across peers, and its
 * bounds, with a room function standing in for the job caps.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "jobqueue.h"

#define CALLS	16

static struct call {
	struct jobqueue_entry	 c_entry;
	char			 c_name[8];
} calls[CALLS];
static char	 started[256];	/* names in the order they started */
static int	 slots;		/* starts room() still allows */

static void
call_start(struct jobqueue_entry *e)
{
	struct call	*c = e->jq_arg;

	strlcat(started, c->c_name, sizeof(started));
	strlcat(started, " ", sizeof(started));
	slots--;
}

static int
room(const char *key)
{
	(void)key;
	return slots > 0;
}

static int
add(int i, const char *peer, size_t max_peer, size_t max_total)
{
	struct call	*c = &calls[i];

	memset(c, 0, sizeof(*c));
	snprintf(c->c_name, sizeof(c->c_name), "%s%d", peer, i);
	c->c_entry.jq_start = call_start;
	c->c_entry.jq_arg = c;
	return jobqueue_add(&c->c_entry, peer, max_peer, max_total);
}

Test(jobqueue, round_robin_across_peers_in_order_within_one)
{
	int	 i;

	started[0] = '\0';
	for (i = 0; i < 5; i++)
		cr_assert_eq(add(i, "a", 10, 100), 0);
	cr_assert_eq(add(5, "b", 10, 100), 0);
	cr_assert_eq(add(6, "b", 10, 100), 0);
	cr_assert_eq(add(7, "c", 10, 100), 0);
	cr_assert_eq(jobqueue_count("a"), 5);
	cr_assert_eq(jobqueue_total(), 8);
	/* One slot frees: the first peer's first call; then the others'. */
	slots = 1;
	jobqueue_run(room);
	cr_assert_str_eq(started, "a0 ");
	slots = 3;
	jobqueue_run(room);
	cr_assert_str_eq(started, "a0 b5 c7 a1 ");
	slots = 100;
	jobqueue_run(room);
	cr_assert_str_eq(started, "a0 b5 c7 a1 b6 a2 a3 a4 ");
	cr_assert_eq(jobqueue_total(), 0);
	cr_assert_eq(jobqueue_count("a"), 0);
}

Test(jobqueue, bounds_per_peer_and_in_all)
{
	int	 i;

	started[0] = '\0';
	for (i = 0; i < 4; i++)
		cr_assert_eq(add(i, "a", 4, 6), 0);
	cr_assert_eq(add(4, "a", 4, 6), -1, "past the peer's bound");
	cr_assert_not(jobqueue_queued(&calls[4].c_entry));
	cr_assert_eq(add(5, "b", 4, 6), 0);
	cr_assert_eq(add(6, "b", 4, 6), 0);
	cr_assert_eq(add(7, "c", 4, 6), -1, "past the bound in all");
	/* A call taken out frees its place; its peer's order stays. */
	jobqueue_remove(&calls[1].c_entry);
	cr_assert_not(jobqueue_queued(&calls[1].c_entry));
	jobqueue_remove(&calls[1].c_entry);	/* twice: nothing */
	cr_assert_eq(add(7, "c", 4, 6), 0);
	slots = 100;
	jobqueue_run(room);
	cr_assert_str_eq(started, "a0 b5 c7 a2 b6 a3 ");
	cr_assert_eq(jobqueue_total(), 0);
}

/* No room for one peer: the others still start, and it keeps its turn. */
static int
room_not_a(const char *key)
{
	return slots > 0 && strcmp(key, "a") != 0;
}

Test(jobqueue, a_full_peer_does_not_block_the_others)
{
	started[0] = '\0';
	cr_assert_eq(add(0, "a", 4, 8), 0);
	cr_assert_eq(add(1, "b", 4, 8), 0);
	cr_assert_eq(add(2, "b", 4, 8), 0);
	slots = 100;
	jobqueue_run(room_not_a);
	cr_assert_str_eq(started, "b1 b2 ");
	cr_assert_eq(jobqueue_count("a"), 1);
	jobqueue_run(room);
	cr_assert_str_eq(started, "b1 b2 a0 ");
}
