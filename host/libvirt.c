/*
 * Finding guests through libvirt (qemu:///system, read-only).  Unlike the
 * channel directory, whose domain-<id>-<name> entries cut names to 20
 * characters, libvirt knows every guest by its full name.
 *
 * A CLI without a daemon asks once: libvirt_scan() lists the running
 * domains and reads the live XML of each.
 *
 * The daemon follows libvirt instead of polling it.  A thread of its own
 * runs libvirt's default event loop; per connection it lists the domains
 * once, and from then on looks at a domain only when libvirt reports an
 * event for it: started, stopped, a device added or removed (channels
 * hot-plugged by --attach).  With nothing happening it makes no libvirt
 * call and sleeps in poll(2): client keepalive is switched off, since a
 * libvirtd that goes away closes the socket, which is all we need to know.
 * After each change the thread publishes the whole list under lv_lock and
 * wakes the daemon's loop with ev_async; it never touches the loop's state.
 *
 * A connection that closes (libvirtd restarted) is reopened after a delay
 * that doubles from LV_BACKOFF_MIN to LV_BACKOFF_MAX, back to the minimum
 * once a connection has lasted LV_STABLE: a libvirtd that accepts and hangs
 * up at once costs one attempt every LV_BACKOFF_MAX, never a loop.
 * Meanwhile the list last published stands (LIBVIRT_LOST), so guests
 * already connected stay served.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "clock.h"
#include "host.h"
#include "log.h"

#define LV_BACKOFF_MIN	500	/* ms before the first new attempt */
#define LV_BACKOFF_MAX	30000	/* ms: the longest wait between attempts */
#define LV_STABLE	10000	/* ms a connection lasts to reset the delay */

/* libvirt prints every error to stderr unless told otherwise; we log. */
static void
lv_silence(void *arg, virErrorPtr error)
{
	(void)arg;
	(void)error;
}

const char *
libvirt_error(void)
{
	const char	*msg = virGetLastErrorMessage();

	return msg != NULL ? msg : "unknown error";
}

void
libvirt_init(void)
{
	static pthread_once_t	 once = PTHREAD_ONCE_INIT;

	pthread_once(&once, xmlInitParser);
	virSetErrorFunc(NULL, lv_silence);
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
			if (value[0] == '/' && strstr((char *)value,
			    "/../") == NULL &&
			    strlcpy(path, (const char *)value, len) < len)
				rv = 0;
			xmlFree(value);
		}
	}
	xmlXPathFreeObject(obj);
	return rv;
}

/*
 * Looks at one running domain's live XML: 1 and fg filled if it has both
 * channels, 0 if not (or its name is not one we accept), -1 if libvirt
 * did not answer.
 */
static int
lv_inspect(virDomainPtr dom, struct found_guest *fg)
{
	xmlXPathContextPtr	 ctx = NULL;
	xmlDocPtr		 doc;
	const char		*name = virDomainGetName(dom);
	char			*xml;
	int			 rv = 0;

	if (name == NULL)
		return -1;
	if (!discover_valid_name(name, strlen(name))) {
		log_limited("libvirt", "libvirt: ignoring domain %.*s: not a "
		    "valid guest name", PROTO_MAX_NAME, name);
		return 0;
	}
	if ((xml = virDomainGetXMLDesc(dom, 0)) == NULL) {
		log_limited("libvirt", "libvirt: domain %s: cannot get its "
		    "XML: %s", name, libvirt_error());
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

/* --- once, for a CLI ------------------------------------------------ */

size_t
libvirt_scan(struct found_guest **out, int *answered)
{
	struct found_guest	*all = NULL, fg;
	virConnectPtr		 conn;
	virDomainPtr		*doms = NULL;
	size_t			 n = 0, i;
	int			 nd;

	*out = NULL;
	*answered = 0;
	libvirt_init();
	if ((conn = virConnectOpenReadOnly(LIBVIRT_URI)) == NULL) {
		log_debug("libvirt: cannot connect to %s: %s", LIBVIRT_URI,
		    libvirt_error());
		return 0;
	}
	if ((nd = virConnectListAllDomains(conn, &doms,
	    VIR_CONNECT_LIST_DOMAINS_ACTIVE)) < 0) {
		log_limited("libvirt", "libvirt: cannot list domains: %s",
		    libvirt_error());
		virConnectClose(conn);
		return 0;
	}
	*answered = 1;
	for (i = 0; i < (size_t)nd; i++) {
		memset(&fg, 0, sizeof(fg));
		if (n < HOST_MAX_GUESTS && lv_inspect(doms[i], &fg) == 1) {
			all = xreallocarray(all, n + 1, sizeof(*all));
			all[n++] = fg;
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	virConnectClose(conn);
	discover_sort(all, n);
	*out = all;
	return n;
}

/* --- the daemon's thread -------------------------------------------- */

/* A running domain with both channels, as the thread last saw it. */
struct lv_domain {
	unsigned char		 ld_uuid[VIR_UUID_BUFLEN];
	struct found_guest	 ld_fg;
};

/* The thread's own state. */
static virConnectPtr	 lv_conn;
static int		 lv_closed;	/* the close callback ran */
static int		 lv_callbacks[3] = { -1, -1, -1 };
static int		 lv_retry = -1;	/* libvirt timer id */
static int		 lv_backoff = LV_BACKOFF_MIN;
static uint64_t		 lv_connected_at;
static struct lv_domain	*lv_doms;
static size_t		 lv_ndoms;

/* Shared with the loop's thread, under lv_lock. */
static pthread_mutex_t	 lv_lock = PTHREAD_MUTEX_INITIALIZER;
static struct found_guest *lv_published;
static size_t		 lv_npublished;
static enum libvirt_state lv_state = LIBVIRT_NEVER;
static struct ev_loop	*lv_loop;
static ev_async		*lv_wake;

static void	lv_connect(void);

static void
lv_publish(enum libvirt_state state)
{
	struct found_guest	*all, *old;
	size_t			 i;

	all = xcalloc(lv_ndoms + 1, sizeof(*all));
	for (i = 0; i < lv_ndoms; i++)
		all[i] = lv_doms[i].ld_fg;
	discover_sort(all, lv_ndoms);
	pthread_mutex_lock(&lv_lock);
	old = lv_published;
	lv_published = all;
	lv_npublished = lv_ndoms;
	lv_state = state;
	pthread_mutex_unlock(&lv_lock);
	free(old);
	ev_async_send(lv_loop, lv_wake);
}

enum libvirt_state
libvirt_latest(struct found_guest **out, size_t *n)
{
	enum libvirt_state	 state;

	pthread_mutex_lock(&lv_lock);
	state = lv_state;
	*n = lv_npublished;
	*out = xcalloc(*n + 1, sizeof(**out));
	if (*n > 0)
		memcpy(*out, lv_published, *n * sizeof(**out));
	pthread_mutex_unlock(&lv_lock);
	return state;
}

static struct lv_domain *
lv_find(const unsigned char *uuid)
{
	size_t	 i;

	for (i = 0; i < lv_ndoms; i++)
		if (memcmp(lv_doms[i].ld_uuid, uuid, VIR_UUID_BUFLEN) == 0)
			return &lv_doms[i];
	return NULL;
}

/* Forgets domain uuid; 1 if it was known. */
static int
lv_forget(const unsigned char *uuid)
{
	struct lv_domain	*ld = lv_find(uuid);

	if (ld == NULL)
		return 0;
	*ld = lv_doms[--lv_ndoms];
	return 1;
}

/*
 * Takes another look at one domain (an event named it): kept if it runs
 * with both channels, forgotten otherwise.  Publishes a change.
 */
static void
lv_update(virDomainPtr dom)
{
	struct lv_domain	*ld;
	struct found_guest	 fg;
	unsigned char		 uuid[VIR_UUID_BUFLEN];
	int			 rv = 0;

	if (virDomainGetUUID(dom, uuid) == -1)
		return;
	memset(&fg, 0, sizeof(fg));
	if (virDomainIsActive(dom) == 1 && (rv = lv_inspect(dom, &fg)) == -1)
		return;		/* no answer: the close callback follows */
	ld = lv_find(uuid);
	if (rv == 1) {
		if (ld != NULL && memcmp(&ld->ld_fg, &fg, sizeof(fg)) == 0)
			return;
		if (ld == NULL) {
			if (lv_ndoms >= HOST_MAX_GUESTS)
				return;
			lv_doms = xreallocarray(lv_doms, lv_ndoms + 1,
			    sizeof(*lv_doms));
			ld = &lv_doms[lv_ndoms++];
			memcpy(ld->ld_uuid, uuid, VIR_UUID_BUFLEN);
		}
		ld->ld_fg = fg;
		log_debug("libvirt: domain %s has both channels", fg.fg_name);
	} else if (!lv_forget(uuid))
		return;
	lv_publish(LIBVIRT_UP);
}

static int
lv_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail,
    void *arg)
{
	unsigned char	 uuid[VIR_UUID_BUFLEN];

	(void)conn;
	(void)detail;
	(void)arg;
	switch (event) {
	case VIR_DOMAIN_EVENT_STARTED:
		lv_update(dom);
		break;
	case VIR_DOMAIN_EVENT_STOPPED:
		/* Dropped at once, without asking libvirt anything. */
		if (virDomainGetUUID(dom, uuid) == 0 && lv_forget(uuid))
			lv_publish(LIBVIRT_UP);
		break;
	}
	return 0;
}

static void
lv_device_cb(virConnectPtr conn, virDomainPtr dom, const char *alias,
    void *arg)
{
	(void)conn;
	(void)alias;
	(void)arg;
	lv_update(dom);
}

/* Inside libvirt's event loop: only noted; lv_watch() closes after it. */
static void
lv_close_cb(virConnectPtr conn, int reason, void *arg)
{
	(void)conn;
	(void)arg;
	log_info("libvirt: lost the connection to %s (%s); the guests "
	    "found stay", LIBVIRT_URI, reason == VIR_CONNECT_CLOSE_REASON_EOF ?
	    "end of file" : reason == VIR_CONNECT_CLOSE_REASON_KEEPALIVE ?
	    "keepalive" : "error");
	lv_closed = 1;
}

static void
lv_retry_cb(int timer, void *arg)
{
	(void)arg;
	virEventRemoveTimeout(timer);
	lv_retry = -1;
	lv_connect();
}

static void
lv_schedule_retry(void)
{
	if (lv_retry != -1)
		return;
	log_debug("libvirt: next attempt in %d ms", lv_backoff);
	lv_retry = virEventAddTimeout(lv_backoff, lv_retry_cb, NULL, NULL);
	if (lv_retry < 0)
		fatalx("libvirt: cannot add a timer");
	lv_backoff = lv_backoff * 2 > LV_BACKOFF_MAX ? LV_BACKOFF_MAX :
	    lv_backoff * 2;
}

static void
lv_disconnect(void)
{
	size_t	 i;

	if (lv_conn == NULL)
		return;
	for (i = 0; i < sizeof(lv_callbacks) / sizeof(lv_callbacks[0]); i++)
		if (lv_callbacks[i] != -1) {
			virConnectDomainEventDeregisterAny(lv_conn,
			    lv_callbacks[i]);
			lv_callbacks[i] = -1;
		}
	virConnectUnregisterCloseCallback(lv_conn, lv_close_cb);
	virConnectClose(lv_conn);
	lv_conn = NULL;
	lv_closed = 0;
	if (now_ms() - lv_connected_at >= LV_STABLE)
		lv_backoff = LV_BACKOFF_MIN;
}

/* Lists the running domains: the whole table, published; -1 on failure. */
static int
lv_list(void)
{
	virDomainPtr	*doms = NULL;
	struct lv_domain ld;
	size_t		 i;
	int		 nd, rv;

	if ((nd = virConnectListAllDomains(lv_conn, &doms,
	    VIR_CONNECT_LIST_DOMAINS_ACTIVE)) < 0) {
		log_limited("libvirt", "libvirt: cannot list domains: %s",
		    libvirt_error());
		return -1;
	}
	free(lv_doms);
	lv_doms = NULL;
	lv_ndoms = 0;
	for (i = 0, rv = 0; i < (size_t)nd; i++) {
		memset(&ld, 0, sizeof(ld));
		if (rv != -1 && lv_ndoms < HOST_MAX_GUESTS &&
		    virDomainGetUUID(doms[i], ld.ld_uuid) == 0 &&
		    (rv = lv_inspect(doms[i], &ld.ld_fg)) == 1) {
			lv_doms = xreallocarray(lv_doms, lv_ndoms + 1,
			    sizeof(*lv_doms));
			lv_doms[lv_ndoms++] = ld;
		}
		virDomainFree(doms[i]);
	}
	free(doms);
	return rv == -1 ? -1 : 0;
}

static const struct {
	int			 id;
	virConnectDomainEventGenericCallback cb;
} lv_events[] = {
	{ VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	    VIR_DOMAIN_EVENT_CALLBACK(lv_lifecycle_cb) },
	{ VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
	    VIR_DOMAIN_EVENT_CALLBACK(lv_device_cb) },
	{ VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
	    VIR_DOMAIN_EVENT_CALLBACK(lv_device_cb) },
};

/*
 * Opens the connection, asks for events, then lists: an event that comes
 * in between is handled after the list, and only ever corrects it.
 */
static void
lv_connect(void)
{
	size_t	 i;

	if ((lv_conn = virConnectOpenReadOnly(LIBVIRT_URI)) == NULL) {
		log_debug("libvirt: cannot connect to %s: %s", LIBVIRT_URI,
		    libvirt_error());
		lv_schedule_retry();
		return;
	}
	lv_connected_at = now_ms();
	/* An interval of 0 switches client keepalive off: no wake-ups. */
	if (virConnectSetKeepAlive(lv_conn, 0, 0) == -1)
		log_debug("libvirt: keepalive: %s", libvirt_error());
	if (virConnectRegisterCloseCallback(lv_conn, lv_close_cb, NULL,
	    NULL) == -1)
		goto fail;
	for (i = 0; i < sizeof(lv_events) / sizeof(lv_events[0]); i++)
		if ((lv_callbacks[i] = virConnectDomainEventRegisterAny(lv_conn,
		    NULL, lv_events[i].id, lv_events[i].cb, NULL, NULL)) == -1)
			goto fail;
	if (lv_list() == -1)
		goto fail;
	log_info("libvirt: connected to %s: %zu running domain%s with "
	    "both channels", LIBVIRT_URI, lv_ndoms, lv_ndoms == 1 ? "" : "s");
	lv_publish(LIBVIRT_UP);
	return;
fail:
	log_limited("libvirt", "libvirt: %s: %s", LIBVIRT_URI, libvirt_error());
	lv_disconnect();
	lv_schedule_retry();
}

static void *
lv_watch(void *arg)
{
	(void)arg;
	lv_connect();
	for (;;) {
		if (virEventRunDefaultImpl() == -1)
			fatalx("libvirt: event loop: %s", libvirt_error());
		if (lv_closed) {
			lv_disconnect();
			pthread_mutex_lock(&lv_lock);
			if (lv_state == LIBVIRT_UP)
				lv_state = LIBVIRT_LOST;
			pthread_mutex_unlock(&lv_lock);
			ev_async_send(lv_loop, lv_wake);
			lv_schedule_retry();
		}
	}
	return NULL;
}

void
libvirt_watch_start(struct ev_loop *loop, ev_async *wake)
{
	pthread_t	 thread;
	sigset_t	 all, saved;

	libvirt_init();
	lv_loop = loop;
	lv_wake = wake;
	if (virEventRegisterDefaultImpl() == -1)
		fatalx("libvirt: cannot set up its event loop: %s",
		    libvirt_error());
	/* Signals stay with the event loop's thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	if (pthread_create(&thread, NULL, lv_watch, NULL) != 0)
		fatalx("cannot start the libvirt thread");
	/* Its own name in /proc/PID/task/TID/comm, for tests/libvirt.sh. */
	pthread_setname_np(thread, "libvirt-events");
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	pthread_detach(thread);
}
