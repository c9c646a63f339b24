/*
 * The stand-in, in the negotiator-guest CLI, for the daemon, which only
 * negotiator-guestd has: -d runs negotiator-guestd in this process's
 * place, same pid, same argv, same fds (sibling.h), so that a service
 * manager's `negotiator-guest -d` keeps working.
 *
 * The two are built from the same sources but linked differently
 * (Makefile): the CLI, run once per call, as a static program at a fixed
 * address, which a TCG guest translates once for all its runs; the
 * daemon, run once and fed by the host and the control socket as root,
 * static-pie, so that ASLR holds for it.
 *
 * negotiator-guestd is looked for next to this executable first (a build
 * tree), then in LIBEXEC_DIR, where make install puts it.
 */
#include "guest.h"
#include "sibling.h"

int
guestd_main(const struct guest_config *gc)
{
	(void)gc;
	sibling_exec("negotiator-guestd", LIBEXEC_DIR);
}
