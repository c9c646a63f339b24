/*
 * config.c: a daemon's configuration file, read into the same options as
 * its command line.
 *
 * The file holds one long option a line, without its "--": "name" for an
 * option that takes no value, "name = value" (or "name value") for one
 * that does (either for an option whose value is optional); '#' starts a comment line, blank lines are skipped, spaces
 * around the name and the value are not part of them (a value is the rest
 * of the line, spaces inside it kept, no quoting).  Only the options of
 * the allowed list may appear.  Each line is handed to take() in order,
 * as getopt_long() would hand the option, and checked by the same code;
 * the options of the command line are applied after the file, so they
 * win.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <getopt.h>
#include <stddef.h>

#define CONFIG_MAX_LINE	4096	/* a line is shorter, its newline not counted */

/* Where the option being taken comes from: "FILE:LINE", or NULL for the
 * command line; for the messages of a bad value. */
const char	*config_where(void);

/*
 * Reads path.  A missing file is no error unless required.  Returns 0, or
 * -1 with a one-line reason in why ("FILE:LINE: ..." for a bad line, or
 * "FILE: ..." for the file) and nothing taken after the bad line.
 * take(ch, value, arg) gets getopt_long's ch (val of the option) and the
 * value (NULL for an option without one; a copy that is never freed, as
 * optarg is never freed); it may exit on a bad value, naming
 * config_where().
 */
int	 config_read(const char *path, int required,
	    const struct option *longopts, const char *const *allowed,
	    void (*take)(int, const char *, void *), void *arg,
	    char *why, size_t whylen);

#endif /* CONFIG_H */
