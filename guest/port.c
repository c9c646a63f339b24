/*
 * Finding and opening the guest's virtio-serial ports.  A port is found by
 * name: in the -c directory (like udev's /dev/virtio-ports), else through
 * /sys/class/virtio-ports/<dev>/name with the node at /dev/<dev>.  A path
 * that is a UNIX socket stands in for a device in tests.
 */
#include <sys/socket.h>
#include <sys/stat.h>

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
