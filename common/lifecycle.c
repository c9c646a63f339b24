/*
 * A daemon's life: the loop, and a clean end on SIGTERM or SIGINT that
 * leaves no command running and no control socket behind.
 */
#include <signal.h>
#include <unistd.h>

#include "agent.h"
#include "lifecycle.h"
#include "log.h"

static int	 stopping;

static void
lifecycle_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("signal %d: shutting down", w->signum);
	stopping = 1;
	ev_break(loop, EVBREAK_ALL);
}

static void
lifecycle_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	if (job_count() == 0)
		ev_break(loop, EVBREAK_ALL);
}

static void
lifecycle_limit_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

int
lifecycle_run(struct ev_loop *loop, struct control *co,
    void (*stop)(void *), void *arg)
{
	ev_signal	 sigterm, sigint;
	ev_timer	 poll, limit;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	ev_signal_init(&sigterm, lifecycle_signal_cb, SIGTERM);
	ev_signal_init(&sigint, lifecycle_signal_cb, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	ev_run(loop, 0);
	if (!stopping)
		return 125;

	control_close(co);
	stop(arg);
	job_kill_all();
	/* Wait for the commands to die; KILL follows TERM after the grace. */
	ev_timer_init(&poll, lifecycle_poll_cb, 0., 0.05);
	ev_timer_init(&limit, lifecycle_limit_cb, RUNNER_KILL_GRACE + 1., 0.);
	ev_timer_start(loop, &poll);
	ev_timer_start(loop, &limit);
	ev_run(loop, 0);
	if (job_count() > 0)
		log_warnx("%d commands still running at exit", job_count());
	log_info("stopped");
	return 0;
}
