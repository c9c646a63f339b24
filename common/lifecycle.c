/*
 * A daemon's life: the loop, and a clean end on SIGTERM or SIGINT that
 * leaves no command running and no control socket behind.
 */
#include <signal.h>
#include <unistd.h>

#include "contain.h"
#include "control.h"
#include "lifecycle.h"
#include "log.h"
#include "runner.h"

static int	 stopping;

static void
lifecycle_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
	(void)revents;
	log_info("signal %d: shutting down", w->signum);
	stopping = 1;
	ev_break(loop, EVBREAK_ALL);
}

/*
 * Runs before the loop blocks, once every callback of the iteration ran:
 * a command reaped by one of them is counted by then.
 */
static void
lifecycle_drained_cb(struct ev_loop *loop, ev_prepare *w, int revents)
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
	ev_prepare	 drained;
	ev_timer	 limit;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	ev_signal_init(&sigterm, lifecycle_signal_cb, SIGTERM);
	ev_signal_init(&sigint, lifecycle_signal_cb, SIGINT);
	ev_signal_start(loop, &sigterm);
	ev_signal_start(loop, &sigint);
	contain_init(loop);
	ev_run(loop, 0);
	if (!stopping) {
		contain_fini();
		return 125;
	}

	control_close(co);
	stop(arg);
	job_kill_all();
	/*
	 * Wait for the commands to die, no longer than until KILL followed
	 * TERM after the grace.
	 */
	ev_prepare_init(&drained, lifecycle_drained_cb);
	ev_timer_init(&limit, lifecycle_limit_cb, RUNNER_KILL_GRACE + 1., 0.);
	ev_prepare_start(loop, &drained);
	ev_timer_start(loop, &limit);
	ev_run(loop, 0);
	ev_prepare_stop(loop, &drained);
	ev_timer_stop(loop, &limit);
	if (job_count() > 0)
		log_warnx("%d commands still running at exit", job_count());
	contain_fini();
	log_info("stopped");
	return 0;
}
