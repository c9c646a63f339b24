/*
 * --attach and --detach: both channels added to, or removed from, a
 * libvirt domain: live while it runs (virtio-serial ports hot-plug, so the
 * guest needs no restart when it has a virtio-serial controller) and in its
 * persistent config when it has one, so that the next boot has them too.
 * Each channel is added only where it is missing and removed only where it
 * is present: a second run changes nothing and says so.  Every change is
 * reported on stdout, one line per channel and place.
 *
 * Without libvirt (not reachable, or a --channel-dir of one's own), the
 * QEMU options that give a guest the channels are printed instead.
 *
 * Exit status: 0 when the domain has both channels (or has neither, for
 * --detach) wherever it can, 1 when only the QEMU options were printed, 125
 * on a failure (no such domain, libvirt refused).
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "host.h"
#include "log.h"
#include "status.h"

static const char *const ports[] = { PORT_H2G, PORT_G2H };

/* Prints s with QEMU's option escaping (a comma is doubled). */
static void
qemu_escaped(const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == ',')
			putchar(',');
		putchar(*s);
	}
}

static int
attach_qemu_options(const struct host_config *hc, const char *guest,
    int detach, const char *why)
{
	size_t	 i;

	fprintf(stderr, "negotiator-host: %s; nothing %s.  %s QEMU options "
	    "%s guest %s:\n", why, detach ? "detached" : "attached",
	    detach ? "Remove these" : "Give", detach ? "from" : "to", guest);
	printf("-device virtio-serial-pci,id=negotiator-vs\n");
	for (i = 0; i < 2; i++) {
		printf("-chardev socket,id=negotiator-%s,path=", i == 0 ?
		    "h2g" : "g2h");
		qemu_escaped(hc->hc_channel_dir);
		putchar('/');
		qemu_escaped(guest);
		printf(".%s,server=on,wait=off\n", ports[i]);
		printf("-device virtserialport,bus=negotiator-vs.0,"
		    "chardev=negotiator-%s,name=%s\n", i == 0 ? "h2g" : "g2h",
		    ports[i]);
	}
	return 1;
}

/*
 * The <channel> element of xml whose virtio target is named port, as XML
 * text (free() it), or NULL if there is none.  *bad is set if the XML
 * could not be read.
 */
static char *
attach_find_channel(const char *xml, const char *port, int *bad)
{
	xmlXPathContextPtr	 ctx = NULL;
	xmlXPathObjectPtr	 obj = NULL;
	xmlBufferPtr		 out = NULL;
	xmlDocPtr		 doc;
	char			 expr[256];
	char			*found = NULL;

	doc = xmlReadMemory(xml, (int)strnlen(xml, INT_MAX), "domain.xml",
	    NULL, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || (ctx = xmlXPathNewContext(doc)) == NULL) {
		*bad = 1;
		goto done;
	}
	snprintf(expr, sizeof(expr), "/domain/devices/channel"
	    "[target[@type='virtio' and @name='%s']]", port);
	if ((obj = xmlXPathEvalExpression((const xmlChar *)expr,
	    ctx)) == NULL) {
		*bad = 1;
		goto done;
	}
	if (obj->type == XPATH_NODESET && obj->nodesetval != NULL &&
	    obj->nodesetval->nodeNr > 0 && (out = xmlBufferCreate()) != NULL &&
	    xmlNodeDump(out, doc, obj->nodesetval->nodeTab[0], 0, 0) > 0)
		found = xstrdup((const char *)xmlBufferContent(out));
done:
	if (out != NULL)
		xmlBufferFree(out);
	if (obj != NULL)
		xmlXPathFreeObject(obj);
	if (ctx != NULL)
		xmlXPathFreeContext(ctx);
	if (doc != NULL)
		xmlFreeDoc(doc);
	return found;
}

/* One channel in one place (live or config): 0 done or nothing to do. */
static int
attach_one(virDomainPtr dom, const char *guest, const char *port,
    int detach, unsigned int where)
{
	const char	*place = where == VIR_DOMAIN_AFFECT_LIVE ?
			    "live" : "config";
	char		*xml, *have, add[512];
	int		 bad = 0, rv;

	xml = virDomainGetXMLDesc(dom, where == VIR_DOMAIN_AFFECT_CONFIG ?
	    VIR_DOMAIN_XML_INACTIVE : 0);
	if (xml == NULL) {
		warnx("%s: cannot read its %s XML: %s", guest, place,
		    libvirt_error());
		return -1;
	}
	have = attach_find_channel(xml, port, &bad);
	free(xml);
	if (bad) {
		warnx("%s: unreadable %s XML", guest, place);
		return -1;
	}
	if (detach ? have == NULL : have != NULL) {
		printf("%s: %s: %s (%s)\n", guest, port, detach ?
		    "not there" : "already there", place);
		free(have);
		return 0;
	}
	if (detach)
		rv = virDomainDetachDeviceFlags(dom, have, where);
	else {
		snprintf(add, sizeof(add), "<channel type='unix'>"
		    "<source mode='bind'/>"
		    "<target type='virtio' name='%s'/></channel>", port);
		rv = virDomainAttachDeviceFlags(dom, add, where);
	}
	free(have);
	if (rv == -1) {
		warnx("%s: %s: cannot %s it (%s): %s%s", guest, port, detach ?
		    "detach" : "attach", place, libvirt_error(),
		    !detach && where == VIR_DOMAIN_AFFECT_LIVE ? " (a running "
		    "guest needs a virtio-serial controller for channels to "
		    "be hot-plugged; the config takes effect at its next "
		    "start)" : "");
		return -1;
	}
	printf("%s: %s: %s (%s)\n", guest, port, detach ? "detached" :
	    "attached", place);
	return 0;
}

int
attach_main(const struct host_config *hc, const char *guest, int detach)
{
	virConnectPtr	 conn;
	virDomainPtr	 dom;
	size_t		 i;
	int		 active, persistent, rv = 0;

	if (!discover_valid_name(guest, strlen(guest)))
		errx(STATUS_FAILURE, "not a guest name: \"%.*s\"",
		    PROTO_MAX_NAME, guest);
	if (strcmp(hc->hc_channel_dir, DEFAULT_CHANNEL_DIR) != 0)
		return attach_qemu_options(hc, guest, detach, "--channel-dir "
		    "given: plain QEMU, not libvirt");
	libvirt_init();
	xmlInitParser();
	if ((conn = virConnectOpen(LIBVIRT_URI)) == NULL) {
		char	 why[512];

		snprintf(why, sizeof(why), "libvirt is not reachable at %s "
		    "(%s)", LIBVIRT_URI, libvirt_error());
		return attach_qemu_options(hc, guest, detach, why);
	}
	if ((dom = virDomainLookupByName(conn, guest)) == NULL) {
		virConnectClose(conn);
		errx(STATUS_FAILURE, "no libvirt domain named %s (see virsh "
		    "list --all)", guest);
	}
	active = virDomainIsActive(dom) == 1;
	persistent = virDomainIsPersistent(dom) == 1;
	for (i = 0; i < 2; i++) {
		if (active && attach_one(dom, guest, ports[i], detach,
		    VIR_DOMAIN_AFFECT_LIVE) == -1)
			rv = STATUS_FAILURE;
		if (persistent && attach_one(dom, guest, ports[i], detach,
		    VIR_DOMAIN_AFFECT_CONFIG) == -1)
			rv = STATUS_FAILURE;
	}
	if (!active)
		printf("%s: not running: the config takes effect at its next "
		    "start\n", guest);
	if (!persistent)
		printf("%s: transient: no config to change; live only\n",
		    guest);
	virDomainFree(dom);
	virConnectClose(conn);
	return rv;
}
