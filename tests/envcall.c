/*
 * A hand-made caller for tests/daemon.sh: sends one OPEN with the
 * environment given, straight through the protocol (no CLI, so none of its
 * checks), and prints the EXIT that answers it:
 *
 *	envcall SOCKET TARGET VAR CMD [ARG...]
 *
 * prints "exit KIND CODE MESSAGE" and exits 0 once answered, 1 if not
 * within PEER_WAIT_MS.
 */
#include <err.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"

int
main(int argc, char *argv[])
{
	struct proto_msg	 m;
	struct buf		 in = { 0 };
	char			*env[2];
	uint32_t		 peer;
	int			 fd;

	if (argc < 5)
		errx(2, "usage: envcall SOCKET TARGET VAR CMD [ARG...]");
	if ((fd = peer_dial(argv[1], 2000)) == -1)
		err(1, "%s", argv[1]);
	peer = peer_handshake(fd, &in, (uint32_t)getpid() | 1, "envcall");
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_OPEN;
	m.m_tag = peer;
	m.m.open.op_id = 1;
	m.m.open.op_timeout_ms = 10000;
	strlcpy(m.m.open.op_target, argv[2], sizeof(m.m.open.op_target));
	env[0] = argv[3];
	env[1] = NULL;
	m.m.open.op_envc = 1;
	m.m.open.op_envv = env;
	m.m.open.op_argc = (size_t)(argc - 4);
	m.m.open.op_argv = argv + 4;
	peer_send(fd, &m);
	for (;;) {
		if (peer_recv(fd, &in, &m, PEER_WAIT_MS) == -1)
			errx(1, "end of file before the answer");
		if (m.m_type == MSG_EXIT && m.m.exit.ex_id == 1) {
			printf("exit %u %d %s\n", m.m.exit.ex_kind,
			    m.m.exit.ex_code, m.m.exit.ex_message);
			proto_msg_free(&m);
			break;
		}
		proto_msg_free(&m);
	}
	buf_free(&in);
	close(fd);
	return 0;
}
