/* unix.c: UNIX stream sockets by path. */
#ifndef UNIX_H
#define UNIX_H

#include <sys/socket.h>
#include <sys/un.h>

/* Fills sun for path; -1 with ENAMETOOLONG if path does not fit. */
int	 unix_address(const char *path, struct sockaddr_un *sun);
/*
 * Connects to the socket at path (flags: 0 or SOCK_NONBLOCK; the fd is
 * close-on-exec); -1 with errno (ENOENT, ECONNREFUSED: nobody listens).
 */
int	 unix_connect(const char *path, int flags);

#endif /* UNIX_H */
