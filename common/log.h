/* Logging in the manner of OpenBSD's log.c: stderr, or syslog when asked. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

#define LOG_LEVEL_QUIET		0	/* warnings only */
#define LOG_LEVEL_INFO		1
#define LOG_LEVEL_DEBUG		2

void	 log_init(const char *progname, int level, int use_syslog);
int	 log_level(void);
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Like log_warnx, but at most a few lines per second for the given key. */
void	 log_limited(const char *key, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* LOG_H */
