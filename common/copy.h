/*
 * copy.c: the stream of --copy (files, directories and symbolic links, one
 * entry after another), written from a source and read into a target.
 *
 * The stream, defined here once: COPY_MAGIC, then one entry, the copy's
 * root, then COPY_END.  An entry is a header of COPY_HEADER bytes, all
 * numbers big-endian:
 *
 *	type		1	COPY_FILE, COPY_DIR, COPY_LINK, COPY_UP, COPY_END
 *	namelen		2	1..NAME_MAX (0 for COPY_UP and COPY_END)
 *	userlen		1	owner's user name (0: none)
 *	grouplen	1	owner's group name (0: none)
 *	mode		4	permission bits (07777 at most); a COPY_FILE's
 *				may add COPY_MODE_HOLES
 *	size		8	file: its bytes; link: its target's (< PATH_MAX)
 *	mtime		8+4	seconds, nanoseconds
 *	atime		8+4
 *
 * then the name (one path component: no '/', not "." or "..", no NUL),
 * the user and group names, and size bytes (a file's contents, a link's
 * target).  A COPY_DIR's entries follow it, closed by a COPY_UP that
 * carries the directory's mode and times (set after its contents).  The
 * reader takes nothing on trust: every field is checked where it is read.
 *
 * Version 2 (COPY_MAGIC) added COPY_MODE_HOLES: the sender sets it on a
 * file with holes (fewer blocks than its size needs, as cp --sparse=auto
 * decides), and the reader makes holes of that file's zero blocks only;
 * the bytes of other files go to the file as they come, spliced from the
 * stream without passing through us (into a TCG guest's tmpfs, 128 MiB in
 * 1.35-1.43 s where reading and writing took 1.85-2.50 s).  A version 1
 * stream (COPY_MAGIC_1) is still read, its every file scanned for zeros as
 * version 1 did; a reader of version 1 refuses version 2 as "not a copy
 * stream".
 */
#ifndef COPY_H
#define COPY_H

#define COPY_MAGIC	"negotiator-copy 2\n"
#define COPY_MAGIC_1	"negotiator-copy 1\n"	/* still read */
#define COPY_MAGIC_STEM	"negotiator-copy "	/* then the version, \n */
#define COPY_MODE_HOLES	0x10000u	/* version 2: zero blocks are holes */
#define COPY_HEADER	41
#define COPY_MAX_DEPTH	128	/* directories one inside another */

enum copy_type {
	COPY_FILE = 'f', COPY_DIR = 'd', COPY_LINK = 'l', COPY_UP = 'u',
	COPY_END = 'e'
};

/* copy_receive()'s and copy_send()'s outcome. */
enum copy_result {
	COPY_OK = 0,
	COPY_PARTIAL = 1,	/* done; some entries skipped (each said) */
	COPY_FAILED = 2,	/* stopped; said */
	COPY_CUT = 3,		/* the stream ended early or its reader left:
				   not said (the peer's side says why) */
};

/*
 * Writes src (a file; with recursive, a directory tree) to fd as a
 * stream.  Symbolic links inside a tree go as links; src itself is
 * followed.  Special files are skipped with a message.  Messages on stderr
 * begin with prog.
 */
enum copy_result copy_send(int fd, const char *src, int recursive,
	    const char *prog);
/*
 * Reads a stream from fd into dst: into dst/NAME if dst is a directory,
 * else as dst itself.  Each file is written to a temporary beside its
 * target, synced and renamed over it; on any failure, and on SIGINT,
 * SIGTERM, SIGHUP or SIGPIPE, the temporary is removed and the old file
 * stays.  Nothing is created outside dst's directory: names are single
 * components, opened relative to directory fds, never through a link.
 * Mode always kept (without set-user/group-ID bits); times with
 * preserve; owner and group when we are root and the names exist here.
 */
enum copy_result copy_receive(int fd, const char *dst, int preserve,
	    const char *prog);
/*
 * From now on, a progress line on stderr for each file written or read
 * (its name, bytes, rate, time left), redrawn at most 4 times a second.
 */
void	 copy_set_progress(int on);
/* Ends a progress line left open (a copy stopped mid-file) with a newline. */
void	 copy_progress_end(void);
/*
 * The programs the available put and get run: "--receive-files [-p] DST"
 * reads a stream on stdin, "--send-files [-r] SRC" writes one on stdout.
 * argv[0] is the option.  Exit 0, or 1 with a message.
 */
int	 copy_command_main(int argc, char *argv[]);

#endif /* COPY_H */
