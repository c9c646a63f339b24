/*
 * Finding guests in the channel directory.  Two layouts are recognised:
 * libvirt's DIR/domain-<id>-<name>/<port> and the older DIR/<name>.<port>.
 * A guest counts once both of its sockets exist.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "host.h"
#include "log.h"

static int
is_socket(const char *path)
{
	struct stat	 st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static int
valid_guest_name(const char *name, size_t len)
{
	size_t	 i;

	if (len == 0 || len > PROTO_MAX_NAME)
		return 0;
	for (i = 0; i < len; i++)
		if (name[i] <= ' ' || name[i] == '/' || name[i] == 0x7f)
			return 0;
	return 1;
}

/* Fills fg from one directory entry if it names a complete guest. */
static int
discover_entry(const char *dir, const char *entry, struct found_guest *fg)
{
	const char	*name, *dot;
	size_t		 len;

	if (strncmp(entry, "domain-", 7) == 0 &&
	    (name = strchr(entry + 7, '-')) != NULL) {
		name++;
		len = strlen(name);
		snprintf(fg->fg_h2g, sizeof(fg->fg_h2g), "%s/%s/%s", dir,
		    entry, PORT_H2G);
		snprintf(fg->fg_g2h, sizeof(fg->fg_g2h), "%s/%s/%s", dir,
		    entry, PORT_G2H);
	} else if ((dot = strstr(entry, "." PORT_H2G)) != NULL &&
	    dot[sizeof(PORT_H2G)] == '\0') {
		name = entry;
		len = (size_t)(dot - entry);
		snprintf(fg->fg_h2g, sizeof(fg->fg_h2g), "%s/%s", dir, entry);
		snprintf(fg->fg_g2h, sizeof(fg->fg_g2h), "%s/%.*s.%s", dir,
		    (int)len, entry, PORT_G2H);
	} else
		return 0;
	if (!valid_guest_name(name, len) || !is_socket(fg->fg_h2g) ||
	    !is_socket(fg->fg_g2h))
		return 0;
	memcpy(fg->fg_name, name, len);
	fg->fg_name[len] = '\0';
	return 1;
}

static int
found_cmp(const void *a, const void *b)
{
	return strcmp(((const struct found_guest *)a)->fg_name,
	    ((const struct found_guest *)b)->fg_name);
}

void
discover_sort(struct found_guest *all, size_t n)
{
	if (n > 0)
		qsort(all, n, sizeof(*all), found_cmp);
}

size_t
discover_scan(const char *dir, struct found_guest **out)
{
	struct found_guest	*all = NULL, fg;
	struct dirent		*de;
	DIR			*d;
	size_t			 n = 0, i;

	*out = NULL;
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL && n < PROTO_MAX_LIST) {
		if (!discover_entry(dir, de->d_name, &fg))
			continue;
		for (i = 0; i < n; i++)
			if (strcmp(all[i].fg_name, fg.fg_name) == 0)
				break;
		if (i < n) {
			log_limited(fg.fg_name, "%s: two guests of the name %s;"
			    " using %s", dir, fg.fg_name, all[i].fg_h2g);
			continue;
		}
		all = xreallocarray(all, n + 1, sizeof(*all));
		all[n++] = fg;
	}
	closedir(d);
	discover_sort(all, n);
	*out = all;
	return n;
}

int
discover_find(const char *dir, const char *name, struct found_guest *out)
{
	struct found_guest	*all;
	size_t			 n, i;
	int			 rv = -1;

	n = discover_all(dir, &all);
	for (i = 0; i < n; i++)
		if (strcmp(all[i].fg_name, name) == 0) {
			*out = all[i];
			rv = 0;
		}
	free(all);
	return rv;
}
