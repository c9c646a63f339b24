/*
 * The host side's defaults, limits and shared types, and the prototypes of
 * every file in host/, grouped by file.
 */
#ifndef HOST_H
#define HOST_H

#include <limits.h>

#include <ev.h>

#include "runner.h"

#define DEFAULT_CHANNEL_DIR	"/var/lib/libvirt/qemu/channel/target"
#define DEFAULT_HOST_CONTROL	"/run/negotiator/host.sock"
#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define DEFAULT_HOST_CONFIG	SYSCONFDIR "/negotiator/host.conf"
#define HOST_MAX_GUESTS		10000	/* guests one daemon follows */

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
/* 1 if a guest name we take: 1..PROTO_MAX_NAME bytes, no '/', space, control. */
int	 discover_valid_name(const char *name, size_t len);
/* 1 if path is a UNIX socket. */
int	 discover_is_socket(const char *path);
/*
 * The user QEMU runs as under libvirt (libvirt-qemu on Debian; the
 * Makefile's QEMU_USER sets it): besides root and our own user, the only
 * owner a channel socket found by scanning may have.
 */
#ifndef DISCOVER_QEMU_USER
#define DISCOVER_QEMU_USER	"libvirt-qemu"
#endif
/*
 * Daemons: calls changed() from loop soon after anything is created,
 * removed or renamed in dir or in its domain-* subdirectories (inotify),
 * and once dir appears if it does not exist yet.
 */
#define DISCOVER_SETTLE		0.05	/* seconds: events that come together */
void	 discover_watch(struct ev_loop *loop, const char *dir,
	    void (*changed)(void));

/*
 * libvirt.c.  libvirt_scan: running libvirt domains (qemu:///system,
 * read-only) that declare both channels, by full domain name, sorted;
 * free(*out) after.  *answered is 0 when libvirt could not be asked.  In
 * the CLI binary, full.c's runs negotiator-hostd in its place.
 */
size_t	 libvirt_scan(struct found_guest **out, int *answered);
/* Silences libvirt's printing of errors; libvirt's last error message. */
void	 libvirt_init(void);
const char *libvirt_error(void);
#define LIBVIRT_URI	"qemu:///system"
/*
 * Daemons: from now on a thread follows libvirt's domain events and
 * wakes loop through wake after each change; libvirt_latest() copies what
 * it last published (sorted; free(*out) after) and says how current it is.
 */
enum libvirt_state {
	LIBVIRT_NEVER,	/* not reached yet: nothing published */
	LIBVIRT_UP,	/* connected: the list follows its events */
	LIBVIRT_LOST,	/* the list as it was when the connection closed */
};
void	 libvirt_watch_start(struct ev_loop *loop, ev_async *wake);
enum libvirt_state libvirt_latest(struct found_guest **out, size_t *n);
/*
 * discover.c: discover_scan(dir), except when dir is libvirt's own
 * DEFAULT_CHANNEL_DIR: then libvirt_scan(), and discover_scan(dir) only if
 * libvirt could not be asked (its directory cuts names to 20 characters;
 * libvirt does not).  Sorted; free(*out) after.
 */
size_t	 discover_all(const char *dir, struct found_guest **out);
/* discover.c: 0 and *out if discover_all(dir) finds guest name, else -1. */
int	 discover_find(const char *dir, const char *name,
	    struct found_guest *out);

/*
 * attach.c: adds (or with detach, removes) both channels of domain guest,
 * live and in its persistent config, and says what it did on stdout.
 * Without libvirt (or with a --channel-dir of one's own), prints the QEMU
 * options instead.  Returns the exit status.  In the CLI binary, full.c
 * runs negotiator-hostd for it.
 */
int	 attach_main(const struct host_config *, const char *guest,
	    int detach);

/* fanout.c: --all, --guests, -g: see the usage in main.c. */
struct fanout {
	const struct host_config *fo_hc;
	const char		*fo_progname;
	int			 fo_all;	/* --all: every connected guest */
	const char		*fo_guests;	/* --guests a,b,c */
	int			 fo_json;
	int			 fo_verbose;
	int			 fo_quiet;
	uint16_t		 fo_type;	/* MSG_OPEN or MSG_PING */
	const char		*fo_cmdline;	/* -e */
	char * const		*fo_env;	/* --env, fo_envc of them */
	size_t			 fo_envc;
	uint32_t		 fo_timeout_ms;
};
int	 fanout_main(const struct fanout *);
/* table.c: -g, -g -v, -g --json: the daemon's guest table, page by page. */
int	 table_list(const struct fanout *);
/* Raises the soft RLIMIT_NOFILE to the hard one; the new soft limit. */
long	 host_raise_nofile(void);

/*
 * hostd.c; in the CLI binary, full.c instead, whose hostd_main() and
 * libvirt_scan() run negotiator-hostd in its place.
 */
int	 hostd_main(const struct host_config *);

#endif /* HOST_H */
