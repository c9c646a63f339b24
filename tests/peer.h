/*
 * A blocking protocol peer for the test programs (tests/loadgen.c,
 * tests/hostile.c): dialling a daemon's socket, sending and receiving
 * whole frames through common/proto.c, and the HELLO handshake.  Errors
 * that end a test end the program (err(3)).
 */
#ifndef PEER_H
#define PEER_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "util.h"

#define PEER_WAIT_MS	5000	/* the longest a handshake may take */

/* Connects to path, retrying every 20 ms for patience_ms; -1 (errno). */
int		 peer_dial(const char *path, int patience_ms);
void		 peer_send_raw(int fd, const void *, size_t);
void		 peer_send(int fd, const struct proto_msg *);
/*
 * Reads until a whole valid frame other than DATA (which would point into
 * in) is in `in` and decodes it into m; 0, or -1 on end of file.  Exits if
 * nothing comes within ms.
 */
int		 peer_recv(int fd, struct buf *in, struct proto_msg *, int ms);
void		 peer_hello(int fd, uint16_t type, uint32_t nonce,
		    uint32_t echo, const char *name);
/*
 * Says HELLO as name, again every 0.2 s (what is sent before the other end
 * is there is lost); the peer's nonce once it answers, 0 on end of file.
 * Exits if no answer comes within PEER_WAIT_MS.
 */
uint32_t	 peer_handshake(int fd, struct buf *in, uint32_t nonce,
		    const char *name);

#endif /* PEER_H */
