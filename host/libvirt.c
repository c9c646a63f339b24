/*
 * Finding guests through libvirt.  A read-only connection to qemu:///system
 * lists the running domains; the live XML of each names the paths libvirt
 * gave the two channels.  Unlike the channel directory, whose domain-<id>-
 * <name> entries cut the name to 20 characters, libvirt knows every guest by
 * its full name.
 *
 * The connection is kept open across scans and reopened when it breaks; when
 * libvirt cannot be reached, a scan finds nothing (discover_all() then falls
 * back on the channel directory) and the next attempt waits LIBVIRT_RETRY
 * milliseconds.  A domain's channels are fixed while it runs, so its
 * XML is fetched once per run (per UUID and ID); a domain without the
 * channels is looked at again after LIBVIRT_RECHECK milliseconds, in case they
 * were hot-plugged.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "host.h"
#include "log.h"

#define LIBVIRT_URI	"qemu:///system"
#define LIBVIRT_RETRY	5000	/* ms between connection attempts */
#define LIBVIRT_RECHECK	30000	/* ms before a domain is looked at again */

/* What the last look at one running domain found. */
struct lv_domain {
	unsigned char		 ld_uuid[VIR_UUID_BUFLEN];
	unsigned int		 ld_id;
	uint64_t		 ld_checked;	/* when its XML was fetched */
	int			 ld_complete;	/* both channels: ld_fg is set */
	struct found_guest	 ld_fg;
};

static virConnectPtr	 lv_conn;
static int		 lv_answered;	/* the last scan listed the domains */
static uint64_t		 lv_last_try;	/* of a connection, 0 = never */
static struct lv_domain	*lv_cache;
static size_t		 lv_ncache;

/* libvirt prints every error to stderr unless told otherwise; we log. */
static void
lv_silence(void *arg, virErrorPtr error)
{
	(void)arg;
	(void)error;
}

static const char *
lv_error(void)
{
	const char	*msg = virGetLastErrorMessage();

	return msg != NULL ? msg : "unknown error";
}

static void
lv_disconnect(void)
{
	if (lv_conn != NULL)
		virConnectClose(lv_conn);
	lv_conn = NULL;
	free(lv_cache);
	lv_cache = NULL;
	lv_ncache = 0;
}

/* 0 with lv_conn open and alive, else -1 (quietly: libvirt may not run). */
static int
lv_connect(void)
{
	static int	 initialised;
	uint64_t	 now;

	if (lv_conn != NULL) {
		if (virConnectIsAlive(lv_conn) == 1)
			return 0;
		log_limited("libvirt", "libvirt: lost the connection to %s",
		    LIBVIRT_URI);
		lv_disconnect();
	}
	if (!initialised) {
		virSetErrorFunc(NULL, lv_silence);
		xmlInitParser();
		initialised = 1;
	}
	now = now_ms();
	if (lv_last_try != 0 && now - lv_last_try < LIBVIRT_RETRY)
		return -1;
	lv_last_try = now;
	if ((lv_conn = virConnectOpenReadOnly(LIBVIRT_URI)) == NULL) {
		log_debug("libvirt: cannot connect to %s: %s", LIBVIRT_URI,
		    lv_error());
		return -1;
	}
	log_debug("libvirt: connected to %s", LIBVIRT_URI);
	return 0;
}

/* Same rule as the protocol's: at most PROTO_MAX_NAME, no '/', no controls. */
static int
lv_valid_name(const char *name)
{
	size_t	 i;

	for (i = 0; name[i] != '\0'; i++)
		if ((unsigned char)name[i] < ' ' || name[i] == '/' ||
		    name[i] == 0x7f)
			return 0;
	return i > 0 && i <= PROTO_MAX_NAME;
}

/*
 * Copies into path (of size len) the socket path of the unix channel whose
 * virtio target is named port; 0 on success, -1 if there is none.
 */
static int
lv_channel_path(xmlXPathContextPtr ctx, const char *port, char *path,
    size_t len)
{
	xmlXPathObjectPtr	 obj;
	xmlNodePtr		 node;
	xmlChar			*value;
	char			 expr[256];
	int			 rv = -1;

	snprintf(expr, sizeof(expr), "/domain/devices/channel[@type='unix']"
	    "[target[@type='virtio' and @name='%s']]"
	    "/source[@mode='bind']/@path", port);
	if ((obj = xmlXPathEvalExpression((const xmlChar *)expr, ctx)) == NULL)
		return -1;
	if (obj->type == XPATH_NODESET && obj->nodesetval != NULL &&
	    obj->nodesetval->nodeNr > 0) {
		node = obj->nodesetval->nodeTab[0];
		if ((value = xmlNodeGetContent(node)) != NULL) {
			if (value[0] == '/' &&
			    strlcpy(path, (const char *)value, len) < len)
				rv = 0;
			xmlFree(value);
		}
	}
	xmlXPathFreeObject(obj);
	return rv;
}

/* Looks at one domain's live XML: 1 and fg filled if it has both channels. */
static int
lv_inspect(virDomainPtr dom, const char *name, struct found_guest *fg)
{
	xmlXPathContextPtr	 ctx = NULL;
	xmlDocPtr		 doc;
	char			*xml;
	int			 rv = 0;

	if ((xml = virDomainGetXMLDesc(dom, 0)) == NULL) {
		log_limited("libvirt", "libvirt: domain %s: cannot get its "
		    "XML: %s", name, lv_error());
		return -1;
	}
	doc = xmlReadMemory(xml, (int)strnlen(xml, INT_MAX), "domain.xml",
	    NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	free(xml);
	if (doc == NULL || (ctx = xmlXPathNewContext(doc)) == NULL) {
		log_limited("libvirt", "libvirt: domain %s: unreadable XML",
		    name);
		rv = -1;
	} else if (lv_channel_path(ctx, PORT_H2G, fg->fg_h2g,
	    sizeof(fg->fg_h2g)) == 0 && lv_channel_path(ctx, PORT_G2H,
	    fg->fg_g2h, sizeof(fg->fg_g2h)) == 0) {
		strlcpy(fg->fg_name, name, sizeof(fg->fg_name));
		rv = 1;
	}
	if (ctx != NULL)
		xmlXPathFreeContext(ctx);
	if (doc != NULL)
		xmlFreeDoc(doc);
	return rv;
}

static const struct lv_domain *
lv_cached(const unsigned char *uuid, unsigned int id)
{
	size_t	 i;

	for (i = 0; i < lv_ncache; i++)
		if (lv_cache[i].ld_id == id &&
		    memcmp(lv_cache[i].ld_uuid, uuid, VIR_UUID_BUFLEN) == 0)
			return &lv_cache[i];
	return NULL;
}

size_t
libvirt_scan(struct found_guest **out)
{
	const struct lv_domain	*old;
	struct found_guest	*all = NULL;
	struct lv_domain	*cache = NULL, *ld;
	virDomainPtr		*doms = NULL;
	const char		*name;
	uint64_t		 now;
	size_t			 n = 0, nc = 0, i;
	int			 nd, rv;

	*out = NULL;
	lv_answered = 0;
	if (lv_connect() == -1)
		return 0;
	if ((nd = virConnectListAllDomains(lv_conn, &doms,
	    VIR_CONNECT_LIST_DOMAINS_ACTIVE)) < 0) {
		log_limited("libvirt", "libvirt: cannot list domains: %s",
		    lv_error());
		if (virConnectIsAlive(lv_conn) != 1)
			lv_disconnect();
		return 0;
	}
	lv_answered = 1;
	now = now_ms();
	if (nd > 0)
		cache = xcalloc((size_t)nd, sizeof(*cache));
	for (i = 0; i < (size_t)nd; i++) {
		ld = &cache[nc];
		memset(ld, 0, sizeof(*ld));
		name = virDomainGetName(doms[i]);
		if (virDomainGetUUID(doms[i], ld->ld_uuid) == -1 ||
		    name == NULL)
			continue;
		ld->ld_id = virDomainGetID(doms[i]);
		old = lv_cached(ld->ld_uuid, ld->ld_id);
		if (old != NULL &&
		    (old->ld_complete || now - old->ld_checked < LIBVIRT_RECHECK))
			*ld = *old;
		else if (!lv_valid_name(name)) {
			log_limited("libvirt", "libvirt: ignoring domain %.*s:"
			    " not a valid guest name", PROTO_MAX_NAME, name);
			ld->ld_checked = now;
		} else if ((rv = lv_inspect(doms[i], name, &ld->ld_fg)) != -1) {
			ld->ld_complete = rv;
			ld->ld_checked = now;
		} else if (old != NULL)
			*ld = *old;	/* as last seen; fetched again next scan */
		else
			continue;	/* fetched again next scan */
		nc++;
		if (ld->ld_complete && n < PROTO_MAX_LIST) {
			all = xreallocarray(all, n + 1, sizeof(*all));
			all[n++] = ld->ld_fg;
		}
	}
	for (i = 0; i < (size_t)nd; i++)
		virDomainFree(doms[i]);
	free(doms);
	free(lv_cache);
	lv_cache = cache;
	lv_ncache = nc;
	discover_sort(all, n);
	*out = all;
	return n;
}

/*
 * In the daemon, libvirt is asked from a thread of its own: a libvirtd that
 * hangs can then only make the guest list stale, never stall the calls.
 * The thread publishes what each scan found, or that libvirt did not
 * answer; a result older than LIBVIRT_STALE (a hung libvirtd) counts as
 * libvirt not answering.
 */
#define LIBVIRT_STALE	10000	/* ms */

static pthread_mutex_t	 lv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct found_guest *lv_published;
static size_t		 lv_npublished;
static uint64_t		 lv_published_at;	/* 0: never */
static int		 lv_threaded;

static void *
lv_watch(void *arg)
{
	struct timespec		 pause = { 1, 0 };	/* SCAN_INTERVAL */
	struct found_guest	*found, *stale;
	size_t			 n;

	(void)arg;
	for (;;) {
		n = libvirt_scan(&found);
		pthread_mutex_lock(&lv_lock);
		stale = lv_published;
		lv_published = found;
		lv_npublished = n;
		/* Not answering withdraws the last result at once. */
		lv_published_at = lv_answered ? now_ms() : 0;
		pthread_mutex_unlock(&lv_lock);
		free(stale);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

void
libvirt_watch_start(void)
{
	pthread_t	 thread;
	sigset_t	 all, saved;

	/* Signals stay with the event loop's thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	if (pthread_create(&thread, NULL, lv_watch, NULL) != 0)
		fatalx("cannot start the libvirt thread");
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	pthread_detach(thread);
	lv_threaded = 1;
}

/* Copies the latest published scan; -1 if libvirt has not answered lately. */
static int
libvirt_latest(struct found_guest **out, size_t *n)
{
	int	 rv = -1;

	pthread_mutex_lock(&lv_lock);
	if (lv_published_at > 0 && now_ms() - lv_published_at <
	    LIBVIRT_STALE) {
		*n = lv_npublished;
		*out = xcalloc(*n + 1, sizeof(**out));
		if (*n > 0)
			memcpy(*out, lv_published, *n * sizeof(**out));
		rv = 0;
	}
	pthread_mutex_unlock(&lv_lock);
	return rv;
}

/*
 * libvirt knows every domain whose channels are in its own directory, by its
 * full name; the directory is only the fallback for when it cannot be asked.
 */
size_t
discover_all(const char *dir, struct found_guest **out)
{
	size_t	 n;

	if (strcmp(dir, DEFAULT_CHANNEL_DIR) != 0)
		return discover_scan(dir, out);
	if (lv_threaded) {
		if (libvirt_latest(out, &n) == 0)
			return n;
		return discover_scan(dir, out);
	}
	n = libvirt_scan(out);
	if (lv_answered)
		return n;
	free(*out);
	return discover_scan(dir, out);
}
