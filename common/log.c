/*
 * Logging: one line per message, to stderr (unbuffered, so nothing is lost
 * under a supervisor) or to syslog.  Messages below the configured level
 * are dropped.  log_limited() bounds what a misbehaving peer can make us log.
 * When stderr is the journal, each line carries its priority instead of the
 * program name, which the journal records by itself.
 */
#include <sys/stat.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
/* The NetBSD strnvis(); this file uses neither, but says which it means. */
#define LIBBSD_NETBSD_VIS
#include <vis.h>

#include "clock.h"
#include "log.h"

static const char	*log_progname = "negotiator";
static int		 log_verbosity = LOG_LEVEL_INFO;
static int		 log_syslog;
static int		 log_journal;

/*
 * True when stderr is the stream that systemd connected to the journal:
 * JOURNAL_STREAM holds its "device:inode" (systemd.exec(5)), and stderr must
 * still be that file, not a redirection made since by a shell or a parent.
 */
static int
log_stderr_is_journal(void)
{
	const char	*env = getenv("JOURNAL_STREAM");
	uintmax_t	 dev, ino;
	struct stat	 st;
	char		 end;

	if (env == NULL ||
	    sscanf(env, "%" SCNuMAX ":%" SCNuMAX "%c", &dev, &ino, &end) != 2)
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

void
log_init(const char *progname, int level, int use_syslog)
{
	log_progname = progname;
	log_verbosity = level;
	log_syslog = use_syslog;
	log_journal = log_stderr_is_journal();
	if (use_syslog)
		openlog(progname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

int
log_level(void)
{
	return log_verbosity;
}

static void
log_emit(int priority, const char *suffix, const char *fmt, va_list ap)
{
	char	 line[1024], *p;

	vsnprintf(line, sizeof(line), fmt, ap);
	/* Peer strings go through log_vis(); this catches any that did not. */
	for (p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	if (log_syslog) {
		syslog(priority, "%s%s%s", line, suffix ? ": " : "",
		    suffix ? suffix : "");
		return;
	}
	/* The "<N>" prefix of sd-daemon(3): the journal takes it as PRIORITY. */
	if (log_journal)
		fprintf(stderr, "<%d>%s%s%s\n", LOG_PRI(priority), line,
		    suffix ? ": " : "", suffix ? suffix : "");
	else
		fprintf(stderr, "%s: %s%s%s\n", log_progname, line,
		    suffix ? ": " : "", suffix ? suffix : "");
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbosity < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	log_emit(LOG_INFO, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (log_verbosity < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, NULL, fmt, ap);
	va_end(ap);
}

void
log_debug_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	if (log_verbosity < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

/*
 * Peer strings are encoded with vis(3): C-style escapes (\n, \t, \033 in
 * octal), a backslash doubled, bytes outside printable ASCII in octal, so
 * the result is one line of plain text that decodes back with unvis(3).
 */
#define LOG_VIS_FLAGS	(VIS_CSTYLE | VIS_OCTAL | VIS_TAB | VIS_NL | \
			    VIS_NOLOCALE)

/*
 * A byte these flags leave as it is goes through as it is: libbsd's vis()
 * turns each byte it is given into a wide string in buffers it allocates,
 * about 500 instructions a byte, and a call's audit line cost the guest
 * daemon 53,000 of the 79,000 it spent on the call (callgrind, 20 calls).
 */
size_t
log_vis_byte(char *enc, unsigned char c, unsigned char next, int dq)
{
	if (c >= ' ' && c <= '~' && c != '\\' && !(dq && c == '"')) {
		enc[0] = (char)c;
		enc[1] = '\0';
		return 1;
	}
	return (size_t)(vis(enc, c, LOG_VIS_FLAGS | (dq ? VIS_DQ : 0),
	    next) - enc);
}

char *
log_vis(char *dst, size_t dstlen, const char *src)
{
	char	 enc[8];	/* one byte encodes to at most 4 */
	size_t	 n = 0, k;

	if (dstlen == 0)
		return dst;
	for (; *src != '\0'; src++) {
		k = log_vis_byte(enc, (unsigned char)*src,
		    (unsigned char)src[1], 0);
		if (n + k >= dstlen)
			break;	/* cut between encodings, never inside one */
		memcpy(dst + n, enc, k);
		n += k;
	}
	dst[n] = '\0';
	return dst;
}

/*
 * log_limited(): a token bucket per key, and one for all keys together.
 * A key (the peer a line is about: "guest vm1", "caller uid 1000") may log
 * LOG_BURST_SECONDS worth of lines at once, then log_rate lines a second;
 * all keys together LOG_TOTAL_FACTOR times as much.  What is dropped is
 * counted, and one line says how many once the key has a token again (at
 * its next line, or anyone's), at most once a second.  That line takes a
 * token of the total (not the key's), so nothing log_limited() writes
 * passes the total.
 *
 * A bucket is remembered, not reset: a key that comes back (a caller that
 * connects again) finds it as it left it.  A bucket is forgotten only once
 * it has refilled and has nothing left to report, when forgetting changes
 * nothing: so a new key starts full, as a key idle that long would be.
 * While every bucket is taken, new keys share one more bucket
 * (LOG_OTHERS), so that many keys cannot multiply the rate.
 */
#define LOG_KEYS		64
#define LOG_KEY_LEN		96
#define LOG_BURST_SECONDS	2
#define LOG_TOTAL_FACTOR	5
#define LOG_OTHERS		"other peers"

static struct log_bucket {
	char		 lb_key[LOG_KEY_LEN];
	double		 lb_tokens;
	uint64_t	 lb_last;	/* ms, monotonic: last refill */
	uint64_t	 lb_used;	/* ms: last line asked for; 0: free */
	uint64_t	 lb_told;	/* ms: last "suppressed" line */
	unsigned long	 lb_dropped;
} log_buckets[LOG_KEYS], log_others, log_total;
static unsigned		 log_rate = LOG_RATE_DEFAULT;
static pthread_mutex_t	 log_limit_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_set_rate(unsigned per_second)
{
	pthread_mutex_lock(&log_limit_lock);
	log_rate = per_second;
	pthread_mutex_unlock(&log_limit_lock);
}

/* A line of ours at the given priority, limited by nothing. */
static void __attribute__((format(printf, 2, 3)))
log_emitf(int priority, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(priority, NULL, fmt, ap);
	va_end(ap);
}

/* The tokens a bucket holds when full: of one key, or of the total. */
static double
log_burst(const struct log_bucket *lb)
{
	double	 burst = (double)log_rate * LOG_BURST_SECONDS;

	return lb == &log_total ? burst * LOG_TOTAL_FACTOR : burst;
}

static void
log_refill(struct log_bucket *lb, uint64_t now)
{
	double	 rate = log_burst(lb) / LOG_BURST_SECONDS;

	if (now > lb->lb_last)
		lb->lb_tokens += (double)(now - lb->lb_last) * rate / 1000.;
	if (lb->lb_tokens > log_burst(lb))
		lb->lb_tokens = log_burst(lb);
	lb->lb_last = now;
}

/*
 * 1 if lb and the total have a token each: one of each is taken, unless
 * only the total pays (a summary, once a second at most); lock held.
 */
static int
log_spend(struct log_bucket *lb, uint64_t now, int total_only)
{
	log_refill(lb, now);
	log_refill(&log_total, now);
	if (lb->lb_tokens < 1 || log_total.lb_tokens < 1)
		return 0;
	if (!total_only)
		lb->lb_tokens -= 1;
	log_total.lb_tokens -= 1;
	return 1;
}

/* Says how many lines of lb were dropped, if tokens allow; lock held. */
static void
log_summary(struct log_bucket *lb, uint64_t now)
{
	if (lb->lb_dropped == 0 || now - lb->lb_told < 1000 ||
	    !log_spend(lb, now, 1))
		return;
	log_emitf(LOG_WARNING, "%s: %lu messages suppressed (more than %u "
	    "a second, or %u in all)", lb->lb_key, lb->lb_dropped, log_rate,
	    log_rate * LOG_TOTAL_FACTOR);
	lb->lb_dropped = 0;
	lb->lb_told = now;
}

/* 1 if lb may be given to another key: forgetting it changes nothing. */
static int
log_forgettable(struct log_bucket *lb, uint64_t now)
{
	if (lb->lb_used == 0)
		return 1;
	log_refill(lb, now);
	return lb->lb_dropped == 0 && lb->lb_tokens >= log_burst(lb);
}

/* The bucket of key: its own, a forgotten one, or LOG_OTHERS; lock held. */
static struct log_bucket *
log_bucket(const char *key, uint64_t now)
{
	struct log_bucket	*lb, *spare = NULL;

	for (lb = log_buckets; lb < log_buckets + LOG_KEYS; lb++) {
		if (lb->lb_used != 0 && strncmp(lb->lb_key, key,
		    sizeof(lb->lb_key) - 1) == 0)
			return lb;
		if (spare == NULL && log_forgettable(lb, now))
			spare = lb;
	}
	if (spare == NULL) {
		if (log_others.lb_used == 0) {
			strlcpy(log_others.lb_key, LOG_OTHERS,
			    sizeof(log_others.lb_key));
			log_others.lb_tokens = log_burst(&log_others);
			log_others.lb_last = now;
		}
		return &log_others;
	}
	memset(spare, 0, sizeof(*spare));
	strlcpy(spare->lb_key, key, sizeof(spare->lb_key));
	spare->lb_tokens = log_burst(spare);
	spare->lb_last = now;
	return spare;
}

/* 1 if key may log a line now; says what other keys lost meanwhile. */
static int
log_take(const char *key)
{
	struct log_bucket	*lb, *mine;
	uint64_t		 now = now_ms();
	int			 ok;

	/* The host daemon's libvirt thread logs through here too. */
	pthread_mutex_lock(&log_limit_lock);
	if (log_rate == 0) {
		pthread_mutex_unlock(&log_limit_lock);
		return 1;
	}
	if (log_total.lb_used == 0) {
		log_total.lb_tokens = log_burst(&log_total);
		log_total.lb_last = log_total.lb_used = now;
	}
	mine = log_bucket(key, now);
	mine->lb_used = now;
	for (lb = log_buckets; lb < log_buckets + LOG_KEYS; lb++)
		log_summary(lb, now);
	log_summary(&log_others, now);
	if (!(ok = log_spend(mine, now, 0)))
		mine->lb_dropped++;
	pthread_mutex_unlock(&log_limit_lock);
	return ok;
}

void
log_limited_at(int level, const char *key, const char *fmt, ...)
{
	static const int	 priority[] = { LOG_WARNING, LOG_INFO,
				    LOG_DEBUG };
	va_list			 ap;

	if (level < LOG_LEVEL_QUIET || level > LOG_LEVEL_DEBUG)
		fatalx("%s: level %d", __func__, level);
	if (log_verbosity < level || !log_take(key))
		return;
	va_start(ap, fmt);
	log_emit(priority[level], NULL, fmt, ap);
	va_end(ap);
}

int
log_may(int level, const char *key)
{
	return log_verbosity >= level && log_take(key);
}

int
log_is_journal(void)
{
	return log_journal;
}

void
log_limited(const char *key, const char *fmt, ...)
{
	va_list	 ap;

	if (!log_take(key))
		return;
	va_start(ap, fmt);
	log_emit(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
}

void
log_limited_warn(const char *key, const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	if (!log_take(key))
		return;
	va_start(ap, fmt);
	log_emit(LOG_WARNING, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 saved = errno;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, strerror(saved), fmt, ap);
	va_end(ap);
	exit(125);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, NULL, fmt, ap);
	va_end(ap);
	exit(125);
}
