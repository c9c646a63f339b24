/* Logging in the manner of OpenBSD's log.c: stderr, or syslog when asked. */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>
#include <stddef.h>

#define LOG_LEVEL_QUIET		0	/* warnings only */
#define LOG_LEVEL_INFO		1
#define LOG_LEVEL_DEBUG		2

void	 log_init(const char *progname, int level, int use_syslog);
int	 log_level(void);
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* log_debug(), with ": " and strerror(errno) appended as by log_warn. */
void	 log_debug_warn(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
/* Lines per second that log_limited() lets through per key by default. */
#define LOG_RATE_DEFAULT	20

/*
 * Like log_warnx, but at most the key's share of lines: a token bucket per
 * key (the peer a line is about: "guest vm1", "caller uid 1000", never
 * something the peer can vary, such as a pid), a burst of 2 seconds'
 * worth, then the rate; all keys together at most 5 times that.  A key's
 * bucket lasts until it is full again, whoever else logs meanwhile.  One
 * line later says how many were dropped.
 */
void	 log_limited(const char *key, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* log_limited(), with ": " and strerror(errno) appended as by log_warn. */
void	 log_limited_warn(const char *key, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* log_limited() at a level: LOG_LEVEL_QUIET (a warning), _INFO or _DEBUG. */
void	 log_limited_at(int level, const char *key, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
/*
 * 1 if a line at level about key may be written now, as log_limited_at()
 * decides (taking key's share if so): for lines that leave by another way
 * (audit.c, to the journal).
 */
int	 log_may(int level, const char *key);
/* 1 if our stderr is the journal's stream (JOURNAL_STREAM). */
int	 log_is_journal(void);
/*
 * Lines per second and key for log_limited(), and 5 times that for all
 * keys together; 0 = no limit.
 */
void	 log_set_rate(unsigned per_second);
/*
 * A peer string made visible for the log with vis(3): one line of printable
 * ASCII, C-style and octal escapes, a backslash doubled; cut to fit dst
 * (LOG_VIS_SIZE(n) always holds n bytes).  Returns dst.
 */
#define LOG_VIS_SIZE(n)		(4 * (n) + 1)
char	*log_vis(char *dst, size_t dstlen, const char *src);
/*
 * One byte c of such a string, followed by next, encoded into enc (room
 * for 5 bytes) as log_vis does, a double quote escaped too if dq; returns
 * the encoding's length.
 */
size_t	 log_vis_byte(char *enc, unsigned char c, unsigned char next, int dq);
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif /* LOG_H */
