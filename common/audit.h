/*
 * audit.c: one line per call a daemon serves or relays, and the same as a
 * journal entry with fields when the journal is ours.
 */
#ifndef AUDIT_H
#define AUDIT_H

#include <stddef.h>
#include <stdint.h>

/*
 * Where entries go: the journal's socket at path (--journal[=PATH]) instead
 * of the log; NULL: the journal only when our stderr is the journal
 * (JOURNAL_STREAM, log.c), else the log.
 */
void	 audit_journal(const char *path);
/*
 * A call ended.  caller is the label of the conn it came on ("caller pid N
 * uid U", "guest NAME", "host (PORT)"); target the guest it was relayed
 * to, "" for the host, or NULL if it was served here; argv the command and
 * its arguments, as asked (peer strings: escaped here); kind and code as
 * in EXIT; ms its duration from when it was asked.  At info level, within
 * a share of the log of the caller's (log_limited) kept for its audit
 * lines.
 */
void	 audit_call(const char *caller, const char *target,
	    char * const *argv, size_t argc, int kind, int code, uint64_t ms);
/*
 * The arguments escaped so that their boundaries survive: each in double
 * quotes, encoded with vis(3) (C-style escapes, octal, '"' and '\'
 * escaped), separated by a space; cut at dstlen with "..." after the last
 * whole one.  Returns dst.
 */
char	*audit_argv(char *dst, size_t dstlen, char * const *argv,
	    size_t argc);

#endif /* AUDIT_H */
