/*
 * Logging: one line per message, to stderr (unbuffered, so nothing is lost
 * under a supervisor) or to syslog.  Messages below the configured level
 * are dropped.  log_limited() bounds what a misbehaving peer can make us log.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "log.h"

static const char	*log_progname = "negotiator";
static int		 log_verbosity = LOG_LEVEL_INFO;
static int		 log_syslog;

void
log_init(const char *progname, int level, int use_syslog)
{
	log_progname = progname;
	log_verbosity = level;
	log_syslog = use_syslog;
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
	char	 line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_syslog) {
		syslog(priority, "%s%s%s", line, suffix ? ": " : "",
		    suffix ? suffix : "");
		return;
	}
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

/*
 * At most LIMIT_BURST lines per LIMIT_PERIOD seconds over all keys that hash
 * to one slot; the first line after a suppressed run says how many were lost.
 */
#define LIMIT_SLOTS	16
#define LIMIT_BURST	5
#define LIMIT_PERIOD	10

void
log_limited(const char *key, const char *fmt, ...)
{
	static struct {
		time_t		 since;
		unsigned	 count, dropped;
	} slot[LIMIT_SLOTS];
	static pthread_mutex_t	 limit_lock = PTHREAD_MUTEX_INITIALIZER;
	unsigned		 h = 5381, i, dropped = 0;
	time_t			 now = time(NULL);
	va_list			 ap;
	int			 suppress;

	for (i = 0; key[i] != '\0'; i++)
		h = h * 33 + (unsigned char)key[i];
	h %= LIMIT_SLOTS;
	/* The host daemon's libvirt thread logs through here too. */
	pthread_mutex_lock(&limit_lock);
	if (now - slot[h].since >= LIMIT_PERIOD) {
		dropped = slot[h].dropped;
		slot[h].since = now;
		slot[h].count = slot[h].dropped = 0;
	}
	if ((suppress = slot[h].count++ >= LIMIT_BURST))
		slot[h].dropped++;
	pthread_mutex_unlock(&limit_lock);
	if (dropped > 0)
		log_warnx("%s: %u similar messages suppressed", key, dropped);
	if (suppress)
		return;
	va_start(ap, fmt);
	log_emit(LOG_WARNING, NULL, fmt, ap);
	va_end(ap);
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
