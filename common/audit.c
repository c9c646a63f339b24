/*
 * The audit trail: who ran what, how it ended, how long it took, one line
 * per call, at info level and within the caller's share of the log.  A
 * call served here names its caller (the guest, or the host); a call
 * relayed names the local caller (uid and pid of the control socket's
 * peer) and where it went.  Every peer string is escaped, and each argument
 * is quoted, so that "a b" and "a" "b" read apart.  Under systemd the same
 * goes to the journal as fields (NEGOTIATOR_*), which journalctl -o json
 * shows; an entry the journal does not take goes to the log instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define LIBBSD_NETBSD_VIS

#include "audit.h"
#include "journal.h"
#include "log.h"
#include "proto.h"

#define AUDIT_ARGV_MAX	(16 * 1024)	/* escaped arguments in the journal */
#define AUDIT_LINE_MAX	600		/* ... in the line (log.c cuts at 1K) */

static const char	*audit_path;	/* the journal's socket, or NULL */

void
audit_journal(const char *path)
{
	audit_path = path;
}

char *
audit_argv(char *dst, size_t dstlen, char * const *argv, size_t argc)
{
	char	 enc[8], *end;
	size_t	 i, n = 0, k, start;

	if (dstlen < 4)
		fatalx("%s: no room", __func__);
	dst[0] = '\0';
	for (i = 0; i < argc; i++) {
		start = n;
		/* Room for the quotes, a space and a final "...". */
		if (n + 3 + 4 >= dstlen)
			goto cut;
		if (i > 0)
			dst[n++] = ' ';
		dst[n++] = '"';
		for (end = argv[i]; *end != '\0'; end++) {
			k = log_vis_byte(enc, (unsigned char)*end,
			    (unsigned char)end[1], 1);
			if (n + k + 1 + 4 >= dstlen) {
				n = start;
				goto cut;
			}
			memcpy(dst + n, enc, k);
			n += k;
		}
		dst[n++] = '"';
		dst[n] = '\0';
	}
	return dst;
cut:
	snprintf(dst + n, dstlen - n, "%s...", n > 0 ? " " : "");
	return dst;
}

/* How the call ended, in words: "exit 0", "signal 9", "timed out", ... */
static void
audit_end(char *dst, size_t len, int kind, int code)
{
	switch (kind) {
	case EXIT_EXITED:
		snprintf(dst, len, "exit %d", code);
		break;
	case EXIT_SIGNALED:
		snprintf(dst, len, "signal %d", code);
		break;
	case EXIT_TIMEOUT:
		snprintf(dst, len, "timed out");
		break;
	case EXIT_NOTEXEC:
		snprintf(dst, len, "not executable");
		break;
	case EXIT_NOTFOUND:
		snprintf(dst, len, "not found");
		break;
	default:
		snprintf(dst, len, "failed");
		break;
	}
}

void
audit_call(const char *caller, const char *target, char * const *argv,
    size_t argc, int kind, int code, uint64_t ms)
{
	static char		 args[AUDIT_ARGV_MAX];
	char			 who[LOG_VIS_SIZE(128)], where[LOG_VIS_SIZE(
				    PROTO_MAX_NAME) + 16], end[32];
	char			 largs[AUDIT_LINE_MAX], cmd[LOG_VIS_SIZE(
				    PROTO_MAX_NAME)];
	char			 line[sizeof(largs) + sizeof(who) + 512];
	char			 uid[16], pid[16], code_s[16], ms_s[24], key[160];
	char			 guest[LOG_VIS_SIZE(PROTO_MAX_NAME)];
	struct journal_entry	 je;
	int			 p, u;

	/*
	 * A share of the log of its own beside the caller's: the trail does
	 * not crowd out the caller's warnings, nor they the trail.
	 */
	snprintf(key, sizeof(key), "audit %s", caller);
	if (!log_may(LOG_LEVEL_INFO, key))
		return;
	/* Only "host (PORT)" needs shortening: the port is not the caller. */
	log_vis(who, sizeof(who), strncmp(caller, "host (", 6) == 0 ? "host" :
	    caller);
	if (target == NULL)
		where[0] = '\0';
	else if (target[0] == '\0')
		snprintf(where, sizeof(where), " on the host");
	else
		snprintf(where, sizeof(where), " in guest %s", log_vis(guest,
		    sizeof(guest), target));
	audit_end(end, sizeof(end), kind, code);
	audit_argv(largs, sizeof(largs), argv, argc);
	snprintf(line, sizeof(line), "audit: %s ran %s%s: %s (%llu ms)",
	    who, largs, where, end, (unsigned long long)ms);
	if (audit_path == NULL && !log_is_journal()) {
		log_info("%s", line);
		return;
	}

	memset(&je, 0, sizeof(je));
	journal_add(&je, "MESSAGE", line);
	journal_add(&je, "PRIORITY", "6");
	journal_add(&je, "SYSLOG_IDENTIFIER", program_invocation_short_name);
	journal_add(&je, "NEGOTIATOR_CALLER", who);
	if (sscanf(caller, "caller pid %d uid %d", &p, &u) == 2) {
		snprintf(pid, sizeof(pid), "%d", p);
		snprintf(uid, sizeof(uid), "%d", u);
		journal_add(&je, "NEGOTIATOR_CALLER_PID", pid);
		journal_add(&je, "NEGOTIATOR_CALLER_UID", uid);
	} else if (strncmp(caller, "guest ", 6) == 0)
		journal_add(&je, "NEGOTIATOR_GUEST", who + 6);
	if (target != NULL && target[0] != '\0')
		journal_add(&je, "NEGOTIATOR_GUEST", guest);
	journal_add(&je, "NEGOTIATOR_COMMAND", argc > 0 ? log_vis(cmd,
	    sizeof(cmd), argv[0]) : "");
	journal_add(&je, "NEGOTIATOR_ARGV", audit_argv(args, sizeof(args),
	    argv, argc));
	journal_add(&je, "NEGOTIATOR_END", end);
	if (kind == EXIT_EXITED || kind == EXIT_SIGNALED) {
		snprintf(code_s, sizeof(code_s), "%d", code);
		journal_add(&je, kind == EXIT_EXITED ? "NEGOTIATOR_EXIT" :
		    "NEGOTIATOR_SIGNAL", code_s);
	}
	snprintf(ms_s, sizeof(ms_s), "%llu", (unsigned long long)ms);
	journal_add(&je, "NEGOTIATOR_DURATION_MS", ms_s);
	if (journal_send(audit_path != NULL ? audit_path : JOURNAL_SOCKET,
	    &je) == -1)
		log_info("%s (journal: %s)", line, strerror(errno));
}
