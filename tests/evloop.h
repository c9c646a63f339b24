/*
 * Driving a test's own libev loop for the unit tests that run conns in one
 * process (tests/test_conn.c, tests/test_relay.c): until something has
 * happened often enough, or for a while.  Both wake at least every 20 ms,
 * so a deadline is met whatever the loop waits for.
 */
#ifndef EVLOOP_H
#define EVLOOP_H

#include <ev.h>

/* Runs loop until *count >= want or seconds pass; 1 if it got there. */
int	 evloop_until(struct ev_loop *, const int *count, int want,
	    double seconds);
/* Runs loop for seconds. */
void	 evloop_for(struct ev_loop *, double seconds);

#endif /* EVLOOP_H */
