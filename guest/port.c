/*
 * Finding and opening the guest's virtio-serial ports.  A port is found by
 * name: in the -c directory (like udev's /dev/virtio-ports), else through
 * /sys/class/virtio-ports/<dev>/name with the node at /dev/<dev>.  A path
 * that is a UNIX socket stands in for a device in tests.  A port that is
 * not there yet is waited for on an event (port_watch_open), not polled.
 */
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <linux/netlink.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"
#include "unix.h"

static int
read_line(const char *path, char *line, size_t len)
{
	FILE	*f;
	int	 rv = -1;

	if ((f = fopen(path, "re")) == NULL)
		return -1;
	if (fgets(line, (int)len, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		rv = 0;
	}
	fclose(f);
	return rv;
}

/* scandir(3) filter: the entries of /sys/class/virtio-ports, not . or .. */
static int
port_entry(const struct dirent *de)
{
	return de->d_name[0] != '.';
}

int
port_find(const struct guest_config *gc, const char *name, char *path,
    size_t len)
{
	struct dirent	**ents;
	struct stat	 st;
	char		 dir[PATH_MAX], file[PATH_MAX + NAME_MAX + 8], line[256];
	int		 i, n, rv = -1;

	if (gc->gc_port_dir != NULL) {
		snprintf(path, len, "%s/%s", gc->gc_port_dir, name);
		return stat(path, &st);
	}
	snprintf(dir, sizeof(dir), "%s/class/virtio-ports", gc->gc_sysfs_root);
	if ((n = scandir(dir, &ents, port_entry, alphasort)) == -1)
		return -1;
	for (i = 0; i < n && rv == -1; i++) {
		snprintf(file, sizeof(file), "%s/%s/name", dir,
		    ents[i]->d_name);
		/* The name may appear after the node: found on a later try. */
		if (read_line(file, line, sizeof(line)) == -1 ||
		    strcmp(line, name) != 0)
			continue;
		snprintf(path, len, "%s/%s", gc->gc_dev_dir, ents[i]->d_name);
		if (stat(path, &st) == 0)
			rv = 0;
	}
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return rv;
}

int
port_open(const char *path)
{
	struct stat	 st;

	if (stat(path, &st) == -1)
		return -1;
	if (!S_ISSOCK(st.st_mode))
		return open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	return unix_connect(path, SOCK_NONBLOCK);
}

int
port_is_device(int fd)
{
	struct stat	 st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode);
}

int
port_host_connected(int fd)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };

	/* With no host client, virtio_console reports POLLHUP at once. */
	if (poll(&pfd, 1, 0) == -1)
		return 0;
	return !(pfd.revents & POLLHUP);
}

void
port_notify(int fd, int on)
{
	int	 flags = fcntl(fd, F_GETFL);

	if (flags == -1)
		return;
	if (on) {
		fcntl(fd, F_SETOWN, getpid());
		flags |= O_ASYNC;
	} else
		flags &= ~O_ASYNC;
	fcntl(fd, F_SETFL, flags);
}

/*
 * The kernel announces a new port twice: its node appears (uevent "add")
 * and, once the host has named it, its sysfs name is set (uevent
 * "change"); sysfs has no inotify, so without -c the watch is the
 * kernel's uevent socket, and any message on it means "look again" (its
 * content is not read: only the kernel may send to that group).  With -c,
 * the watch is inotify on the directory, where udev (or a test) creates
 * the port's name.
 */
int
port_watch_open(const struct guest_config *gc)
{
	struct sockaddr_nl	 snl;
	int			 fd;

	if (gc->gc_port_dir != NULL) {
		if ((fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) == -1)
			return -1;
		if (inotify_add_watch(fd, gc->gc_port_dir, IN_CREATE |
		    IN_MOVED_TO | IN_ATTRIB) == -1) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if ((fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    NETLINK_KOBJECT_UEVENT)) == -1)
		return -1;
	memset(&snl, 0, sizeof(snl));
	snl.nl_family = AF_NETLINK;
	snl.nl_groups = 1;	/* the kernel's uevents */
	if (bind(fd, (struct sockaddr *)&snl, sizeof(snl)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

void
port_watch_drain(int fd)
{
	char	 buf[4096];
	ssize_t	 n;
	int	 i;

	/*
	 * ENOBUFS: uevents were lost, which "look again" covers too.  At
	 * most 64 reads a turn: a flood of events waits for the next one.
	 */
	for (i = 0; i < 64; i++)
		if ((n = read(fd, buf, sizeof(buf))) <= 0 &&
		    !(n == -1 && errno == ENOBUFS))
			break;
}
