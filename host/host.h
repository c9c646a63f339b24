/* negotiator-host: the host daemon and CLI. */
#ifndef HOST_H
#define HOST_H

#include <limits.h>

#include "agent.h"

#define DEFAULT_CHANNEL_DIR	"/var/lib/libvirt/qemu/channel/target"
#define DEFAULT_HOST_CONTROL	"/run/negotiator/host.sock"
#define PORT_H2G		"negotiator-host-to-guest.0"
#define PORT_G2H		"negotiator-guest-to-host.0"
#define SCAN_INTERVAL		1.0	/* seconds between channel-dir scans */

struct host_config {
	const char		*hc_channel_dir;
	const char		*hc_control;
	struct runner_config	 hc_runner;	/* rc_guest unset */
};

/* discover.c: a guest with both channel sockets present. */
struct found_guest {
	char	 fg_name[PROTO_MAX_NAME + 1];
	char	 fg_h2g[PATH_MAX];
	char	 fg_g2h[PATH_MAX];
};
/* All guests in dir, sorted by name; free(*out) after. */
size_t	 discover_scan(const char *dir, struct found_guest **out);
/* Sorts guests by name. */
void	 discover_sort(struct found_guest *, size_t);

/*
 * libvirt.c: running libvirt domains (qemu:///system, read-only) that
 * declare both channels, by full domain name, sorted; free(*out) after.
 * 0 guests, quietly, when libvirt cannot be reached.
 */
size_t	 libvirt_scan(struct found_guest **out);
/*
 * Daemons: from now on libvirt is asked by a thread of its own, and
 * discover_all() answers from its latest result without waiting.
 */
void	 libvirt_watch_start(void);
/*
 * discover_scan(dir), except when dir is libvirt's own DEFAULT_CHANNEL_DIR:
 * then libvirt_scan(), and discover_scan(dir) only if libvirt could not be
 * asked (its directory cuts names to 20 characters; libvirt does not).
 * Sorted; free(*out) after.  In libvirt.c; the CLI binary's (full.c) runs
 * negotiator-hostd instead for DEFAULT_CHANNEL_DIR.
 */
size_t	 discover_all(const char *dir, struct found_guest **out);
/* discover.c: 0 and *out if discover_all(dir) finds guest name, else -1. */
int	 discover_find(const char *dir, const char *name,
	    struct found_guest *out);

/* main.c: the command line as given, before getopt reorders it. */
extern char	**host_argv;

/*
 * hostd.c; in the CLI binary, full.c instead, whose hostd_main() and
 * discover_all(DEFAULT_CHANNEL_DIR) run negotiator-hostd in its place.
 */
int	 hostd_main(const struct host_config *);

#endif /* HOST_H */
