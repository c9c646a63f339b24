/*
 * journal.c: entries for systemd's journal in its native protocol
 * (systemd.journal-fields(7), "Native Journal Protocol"), without
 * libsystemd: one datagram per entry on the journal's socket.
 */
#ifndef JOURNAL_H
#define JOURNAL_H

#include <stddef.h>

#define JOURNAL_SOCKET		"/run/systemd/journal/socket"
#define JOURNAL_MAX_FIELDS	24
/* An entry's bytes: far below the socket's datagram limit (~200 KiB). */
#define JOURNAL_MAX_ENTRY	(64 * 1024)

struct journal_entry {
	size_t		 je_count;
	const char	*je_key[JOURNAL_MAX_FIELDS];	/* [A-Z0-9_], not '_' first */
	const char	*je_value[JOURNAL_MAX_FIELDS];	/* any bytes but NUL */
};

/* Adds KEY=value; a field past JOURNAL_MAX_FIELDS is a fatal error. */
void	 journal_add(struct journal_entry *, const char *key,
	    const char *value);
/*
 * The datagram for the entry into buf: KEY=value\n, or, for a value with
 * a newline, KEY\n, its length as 64-bit little-endian, value\n.  Its
 * length, or 0 if it does not fit in buflen.
 */
size_t	 journal_encode(const struct journal_entry *, unsigned char *buf,
	    size_t buflen);
/* Sends the entry to the socket at path; 0, or -1 and errno. */
int	 journal_send(const char *path, const struct journal_entry *);

#endif /* JOURNAL_H */
