/*
 * enable.c: --enable and --disable, the management commands (put, get,
 * sh) turned on and off in a commands directory.
 */
#ifndef ENABLE_H
#define ENABLE_H

#include "runner.h"

#define ENABLE_NAMES	"put, get, sh, shell"

/*
 * For each of the n names (each one of ENABLE_NAMES): a symbolic link
 * rc->rc_user_dir/NAME -> available/NAME made (enable 1) or removed (0),
 * and nothing else touched: an entry there that is not our link is left
 * alone, with a message.  An enabled command is then looked up as the
 * daemon would (policy_lookup()) and the link removed again if the policy
 * refuses it.  With on_host, enabling any of them needs giving_root (they
 * give every guest root on the host).  0, or 1 if any name failed (said).
 */
int	 enable_main(const char *prog, const struct runner_config *rc,
	    const char *available, char **names, int n, int enable,
	    int on_host, int giving_root);

#endif /* ENABLE_H */
