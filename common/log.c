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
#include <time.h>
#include <unistd.h>

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
	char	 line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
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
