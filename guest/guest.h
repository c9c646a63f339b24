/*
 * The guest side's defaults and configuration, and the prototypes of
 * every file in guest/, grouped by file.
 */
#ifndef GUEST_H
#define GUEST_H

#include <limits.h>

#include "runner.h"

#define DEFAULT_GUEST_CONTROL	"/run/negotiator/guest.sock"
#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define DEFAULT_GUEST_CONFIG	SYSCONFDIR "/negotiator/guest.conf"

struct guest_config {
	const char		*gc_port_dir;	/* -c: ports by name, or NULL */
	const char		*gc_sysfs_root;
	const char		*gc_dev_dir;
	const char		*gc_control;
	struct runner_config	 gc_runner;
};

/* port.c */
/* The device (or test socket) path of the port of that name; -1 if none. */
int	 port_find(const struct guest_config *, const char *name,
	    char *path, size_t len);
/* Opens a port non-blocking; -1 with errno (EBUSY: someone holds it). */
int	 port_open(const char *path);
/* 1 if the port is a character device (else a test socket). */
int	 port_is_device(int fd);
/* For a device: 1 if a host client is connected to the other end. */
int	 port_host_connected(int fd);
/* For a device: raise SIGIO when the host connects or data arrives. */
void	 port_notify(int fd, int on);
/*
 * An fd that becomes readable when a port may have appeared since it was
 * opened (inotify on the -c directory, else the kernel's uevents); -1
 * with errno if there is none to be had.
 */
int	 port_watch_open(const struct guest_config *);
/* Reads what made the watch readable, so that it waits again. */
void	 port_watch_drain(int fd);

/*
 * guestd.c; in the CLI binary, full.c instead, whose guestd_main() runs
 * negotiator-guestd in its place.
 */
int	 guestd_main(const struct guest_config *);

#endif /* GUEST_H */
