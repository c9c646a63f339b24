/*
 * Stand-ins, in the negotiator-host CLI, for what only negotiator-hostd
 * has: each runs negotiator-hostd in this process's place.
 *
 * The negotiator-host CLI links neither libvirt nor the daemon: loading
 * libvirt (gnutls, libxml2 and some 50 other shared libraries) cost every
 * CLI call about 10 ms.  What needs them, the daemon and guest discovery in
 * libvirt's own channel directory, is the full program, negotiator-hostd,
 * which takes the same options, and so is --attach and --detach: the
 * functions here replace this process with it, same pid, same argv, same
 * fds, nothing read or written yet.  Discovery in any other directory
 * (--channel-dir) is done here: discover_all asks libvirt_scan only for
 * libvirt's own directory.
 *
 * negotiator-hostd is looked for next to this executable first (a build
 * tree), then in LIBEXEC_DIR, where make install puts it.
 */
#include <stddef.h>

#include "host.h"
#include "sibling.h"

#define FULL_NAME	"negotiator-hostd"

static void __attribute__((noreturn))
full_exec(void)
{
	sibling_exec(FULL_NAME, LIBEXEC_DIR);
}

size_t
libvirt_scan(struct found_guest **out, int *answered)
{
	(void)out;
	(void)answered;
	full_exec();
}

int
hostd_main(const struct host_config *hc)
{
	(void)hc;
	full_exec();
}

int
attach_main(const struct host_config *hc, const char *guest, int detach)
{
	(void)hc;
	(void)guest;
	(void)detach;
	full_exec();
}
