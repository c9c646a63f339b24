/* fds 0, 1 and 2 are open: contract in stdfds.h. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "status.h"
#include "stdfds.h"

void
stdfds_ensure(void)
{
	int	 fd;

	/* open(2) returns the lowest free fd: the one found closed. */
	for (fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) == -1 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY) != fd)
			_exit(STATUS_FAILURE);
}
