/*
 * Driving a test's own libev loop: see evloop.h.
 */
#include "evloop.h"

static void
evloop_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ONE);
}

int
evloop_until(struct ev_loop *loop, const int *count, int want,
    double seconds)
{
	ev_timer	 t;
	ev_tstamp	 end;

	ev_now_update(loop);
	end = ev_now(loop) + seconds;
	ev_timer_init(&t, evloop_tick_cb, 0.02, 0.02);
	ev_timer_start(loop, &t);
	while (*count < want && ev_now(loop) < end)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &t);
	return *count >= want;
}

void
evloop_for(struct ev_loop *loop, double seconds)
{
	static const int	 never;

	evloop_until(loop, &never, 1, seconds);
}
