/*
 * The stream of --copy, written from a source tree and read into a target
 * (copy.h defines it).  The reader is the side that must distrust: every
 * name is one path component opened relative to a directory fd with
 * O_NOFOLLOW, every size is read exactly, and a file only replaces its
 * target once it is whole and synced.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define LIBBSD_NETBSD_VIS
#include <vis.h>

#include "clock.h"
#include "copy.h"
#include "util.h"

#define COPY_BUF	(64 * 1024)
#define COPY_SPLICE_MAX	(1024 * 1024)	/* asked of one splice */
#define COPY_MAX_ID	32	/* user and group names */

struct copy_header {
	int		 h_type;
	uint32_t	 h_mode;		/* permission bits only */
	int		 h_holes;	/* a file's zero blocks are holes */
	uint64_t	 h_size;
	struct timespec	 h_times[2];	/* atime, mtime: as futimens takes them */
	char		 h_name[NAME_MAX + 1];
	char		 h_user[COPY_MAX_ID + 1];
	char		 h_group[COPY_MAX_ID + 1];
};

/* A buffered end of the stream. */
struct copy_io {
	int		 io_fd;
	unsigned char	 io_buf[COPY_BUF];
	size_t		 io_off, io_len;
	const char	*io_prog;
	char		 io_path[PATH_MAX * 2];	/* the entry, for messages */
	int		 io_preserve;	/* receiving: -p */
	int		 io_version;	/* receiving: the stream's, 1 or 2 */
	int		 io_recursive;	/* sending: -r */
	int		 io_splice;	/* sending: files by splice(2), until EINVAL */
	int		 io_warned_owner;
};

static int	copy_progress_on;
static int	copy_line_open;	/* a progress line without its newline */

/* The temporary being written, for the signal handler to remove. */
static volatile sig_atomic_t	 copy_tmp_dirfd = -1;
static char			 copy_tmp_name[32];

static void __attribute__((format(printf, 2, 3)))
copy_say(struct copy_io *io, const char *fmt, ...)
{
	char	 vis[sizeof(io->io_path) * 4 + 1];
	va_list	 ap;

	strvis(vis, io->io_path[0] ? io->io_path : ".", VIS_SAFE | VIS_OCTAL);
	copy_progress_end();
	fprintf(stderr, "%s: %s: ", io->io_prog, vis);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
copy_set_progress(int on)
{
	copy_progress_on = on;
}

void
copy_progress_end(void)
{
	if (copy_line_open)
		fputc('\n', stderr);
	copy_line_open = 0;
}

/* n bytes in a unit that keeps it short. */
static void
copy_human(char *buf, size_t len, double n)
{
	const char	*units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int		 u = 0;

	while (n >= 1024 && u < 4) {
		n /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", n, units[u]);
}

/*
 * The progress line of the file at io_path: done of total bytes since
 * start_ns; drawn at most every 250 ms, and once more when last.
 */
static void
copy_progress(struct copy_io *io, uint64_t start_ns, uint64_t done,
    uint64_t total, int last)
{
	static uint64_t	 drawn_ns;
	char		 vis[64 * 4 + 1], d[32], t[32], r[32], eta[32] = "";
	uint64_t	 now = now_ns();
	double		 secs, rate;
	const char	*name;
	size_t		 len;

	if (!copy_progress_on || (!last && now - drawn_ns < 250000000))
		return;
	drawn_ns = now;
	secs = (double)(now - start_ns) / 1e9;
	rate = secs > 0 ? (double)done / secs : 0;
	copy_human(d, sizeof(d), (double)done);
	copy_human(t, sizeof(t), (double)total);
	copy_human(r, sizeof(r), rate);
	if (!last && rate > 0)
		snprintf(eta, sizeof(eta), "  ETA %.0f s",
		    (double)(total - done) / rate);
	/* The end of the path: what fits beside the numbers. */
	len = strlen(io->io_path);
	name = len > 40 ? io->io_path + len - 40 : io->io_path;
	strvis(vis, name, VIS_SAFE | VIS_OCTAL | VIS_NL | VIS_TAB | VIS_CSTYLE);
	fprintf(stderr, "\r%s%.40s  %s / %s  %s/s%s\033[K%s", len > 40 ?
	    "..." : "", vis, d, t, r, eta, last ? "\n" : "");
	copy_line_open = !last;
	fflush(stderr);
}

/* Appends name to io_path; returns the old length to restore. */
static size_t
copy_path_push(struct copy_io *io, const char *name)
{
	size_t	 len = strlen(io->io_path);

	if (len == 0 || io->io_path[len - 1] == '/')
		snprintf(io->io_path + len, sizeof(io->io_path) - len, "%s",
		    name);
	else
		snprintf(io->io_path + len, sizeof(io->io_path) - len, "/%s",
		    name);
	return len;
}

/* ---- Owners by name, read from /etc/passwd and /etc/group (no NSS). */

/*
 * The name of id (by_name 0) or the id of name (by_name 1) in file, a
 * colon-separated database with the id in the third field.  0 if found.
 */
static int
copy_idmap(const char *file, int by_name, char *name, size_t namelen,
    unsigned *id)
{
	char		 line[1024], *f[3], *p;
	unsigned long	 n;
	FILE		*fp;
	int		 i, found = -1;

	if ((fp = fopen(file, "re")) == NULL)
		return -1;
	while (found == -1 && fgets(line, sizeof(line), fp) != NULL) {
		p = line;
		for (i = 0; i < 3 && p != NULL; i++)
			f[i] = strsep(&p, ":");
		if (i < 3 || p == NULL || f[0][0] == '\0' ||
		    strlen(f[0]) > COPY_MAX_ID)
			continue;
		errno = 0;
		n = strtoul(f[2], &p, 10);
		if (errno != 0 || *p != '\0' || n > UINT32_MAX)
			continue;
		if (by_name && strcmp(f[0], name) == 0) {
			*id = (unsigned)n;
			found = 0;
		} else if (!by_name && n == *id) {
			strlcpy(name, f[0], namelen);
			found = 0;
		}
	}
	fclose(fp);
	return found;
}

/* ---- Writing a stream. */

static int
copy_flush(struct copy_io *io)
{
	size_t	 off = 0;
	ssize_t	 n;

	while (off < io->io_len) {
		n = write(io->io_fd, io->io_buf + off, io->io_len - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		off += (size_t)n;
	}
	io->io_len = 0;
	return 0;
}

static int
copy_put(struct copy_io *io, const void *p, size_t n)
{
	const unsigned char	*s = p;
	size_t			 k;

	while (n > 0) {
		if (io->io_len == sizeof(io->io_buf) && copy_flush(io) == -1)
			return -1;
		k = sizeof(io->io_buf) - io->io_len;
		if (k > n)
			k = n;
		memcpy(io->io_buf + io->io_len, s, k);
		io->io_len += k;
		s += k;
		n -= k;
	}
	return 0;
}

static void
copy_be(unsigned char *p, uint64_t v, int bytes)
{
	while (bytes-- > 0) {
		p[bytes] = v & 0xff;
		v >>= 8;
	}
}

/* The header of an entry named name (NULL: none) with st's fields. */
static int
copy_put_header(struct copy_io *io, int type, const char *name,
    const struct stat *st, uint64_t size)
{
	unsigned char	 h[COPY_HEADER];
	char		 user[COPY_MAX_ID + 1] = "", group[COPY_MAX_ID + 1] = "";
	size_t		 nl = name ? strlen(name) : 0;
	unsigned	 id;
	uint32_t	 mode;

	if (st != NULL) {
		id = st->st_uid;
		copy_idmap("/etc/passwd", 0, user, sizeof(user), &id);
		id = st->st_gid;
		copy_idmap("/etc/group", 0, group, sizeof(group), &id);
	}
	h[0] = (unsigned char)type;
	copy_be(h + 1, nl, 2);
	h[3] = (unsigned char)strlen(user);
	h[4] = (unsigned char)strlen(group);
	mode = st ? st->st_mode & 07777 : 0;
	/* A file with holes: fewer blocks than its size needs. */
	if (type == COPY_FILE && st != NULL &&
	    (uint64_t)st->st_blocks * 512 < (uint64_t)st->st_size)
		mode |= COPY_MODE_HOLES;
	copy_be(h + 5, mode, 4);
	copy_be(h + 9, size, 8);
	copy_be(h + 17, st ? (uint64_t)st->st_mtim.tv_sec : 0, 8);
	copy_be(h + 25, st ? (uint64_t)st->st_mtim.tv_nsec : 0, 4);
	copy_be(h + 29, st ? (uint64_t)st->st_atim.tv_sec : 0, 8);
	copy_be(h + 37, st ? (uint64_t)st->st_atim.tv_nsec : 0, 4);
	if (copy_put(io, h, sizeof(h)) == -1 || copy_put(io, name, nl) == -1 ||
	    copy_put(io, user, strlen(user)) == -1 ||
	    copy_put(io, group, strlen(group)) == -1)
		return -1;
	return 0;
}

static const char *
copy_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a fifo";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "not a file, directory or link";
	}
}

static enum copy_result	copy_send_entry(struct copy_io *, int, const char *,
			    const char *, int);

/*
 * Sends what is *left of a file by splice(2), the kernel moving the page
 * cache's pages into the stream without a copy through us, where the
 * stream is a pipe (a command's stdout, as the daemons run it): in a TCG
 * guest the copies are what a transfer costs.  Stops at the first splice
 * that moves nothing, leaving the rest of *left to read and write, which
 * then say why (the file's end or error, or the stream's); EINVAL (no
 * pipe, a file system without splice) ends splicing for the stream.  -1
 * if what was buffered before could not be written.
 */
static int
copy_send_spliced(struct copy_io *io, int fd, uint64_t *left, uint64_t start,
    uint64_t size)
{
	ssize_t	 n;

	if (!io->io_splice || *left == 0)
		return 0;
	if (copy_flush(io) == -1)
		return -1;
	while (*left > 0) {
		copy_progress(io, start, size - *left, size, 0);
		n = splice(fd, NULL, io->io_fd, NULL, *left < COPY_SPLICE_MAX ?
		    (size_t)*left : COPY_SPLICE_MAX, SPLICE_F_MORE);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == -1 && errno == EINVAL)
				io->io_splice = 0;
			return 0;
		}
		*left -= (uint64_t)n;
	}
	return 0;
}

/* A regular file's header and exactly st_size bytes of it. */
static enum copy_result
copy_send_file(struct copy_io *io, int fd, const char *name)
{
	struct stat	 st;
	uint64_t	 left, start;
	size_t		 k;
	ssize_t		 n;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		copy_say(io, "changed while being copied");
		return COPY_FAILED;
	}
	if (copy_put_header(io, COPY_FILE, name, &st,
	    (uint64_t)st.st_size) == -1)
		return COPY_CUT;
	start = now_ns();
	left = (uint64_t)st.st_size;
	if (copy_send_spliced(io, fd, &left, start, (uint64_t)st.st_size) == -1)
		return COPY_CUT;
	for (; left > 0; left -= (uint64_t)n) {
		copy_progress(io, start, (uint64_t)st.st_size - left,
		    (uint64_t)st.st_size, 0);
		if (io->io_len == sizeof(io->io_buf) && copy_flush(io) == -1)
			return COPY_CUT;
		k = sizeof(io->io_buf) - io->io_len;
		if (k > left)
			k = (size_t)left;
		n = read(fd, io->io_buf + io->io_len, k);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0) {
			copy_say(io, "%s", n == 0 ? "shrank while being copied" :
			    strerror(errno));
			return COPY_FAILED;	/* the stream is cut here */
		}
		io->io_len += (size_t)n;
	}
	copy_progress(io, start, (uint64_t)st.st_size, (uint64_t)st.st_size, 1);
	return COPY_OK;
}

/* A directory's entries, then its COPY_UP. */
static enum copy_result
copy_send_dir(struct copy_io *io, int fd, const struct stat *st, int depth)
{
	struct dirent		*de;
	DIR			*d;
	enum copy_result	 rv = COPY_OK, r;
	size_t			 len;

	if (depth >= COPY_MAX_DEPTH) {
		copy_say(io, "more than %d directories deep", COPY_MAX_DEPTH);
		close(fd);
		return COPY_FAILED;
	}
	if ((d = fdopendir(fd)) == NULL) {
		copy_say(io, "%s", strerror(errno));
		close(fd);
		return COPY_FAILED;
	}
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		len = copy_path_push(io, de->d_name);
		r = copy_send_entry(io, dirfd(d), de->d_name, de->d_name,
		    depth + 1);
		io->io_path[len] = '\0';
		if (r >= COPY_FAILED) {
			closedir(d);
			return r;
		}
		if (r == COPY_PARTIAL)
			rv = COPY_PARTIAL;
	}
	if (errno != 0) {
		copy_say(io, "%s", strerror(errno));
		closedir(d);
		return COPY_FAILED;
	}
	closedir(d);
	if (copy_put_header(io, COPY_UP, NULL, st, 0) == -1)
		return COPY_CUT;
	return rv;
}

/*
 * The entry at path (relative to dirfd), sent as name.  depth 0 is the
 * root, which is followed if it is a link.
 */
static enum copy_result
copy_send_entry(struct copy_io *io, int dirfd, const char *path,
    const char *name, int depth)
{
	struct stat	 st;
	char		 target[PATH_MAX];
	enum copy_result rv;
	ssize_t		 n;
	int		 fd;

	if (fstatat(dirfd, path, &st, depth ? AT_SYMLINK_NOFOLLOW : 0) == -1) {
		copy_say(io, "%s", strerror(errno));
		return depth ? COPY_PARTIAL : COPY_FAILED;
	}
	if (S_ISLNK(st.st_mode)) {
		if ((n = readlinkat(dirfd, path, target, sizeof(target))) == -1 ||
		    (size_t)n >= sizeof(target)) {
			copy_say(io, "%s", n == -1 ? strerror(errno) :
			    "link target too long");
			return COPY_PARTIAL;
		}
		if (copy_put_header(io, COPY_LINK, name, &st, (uint64_t)n) == -1 ||
		    copy_put(io, target, (size_t)n) == -1)
			return COPY_CUT;
		return COPY_OK;
	}
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		copy_say(io, "%s: not copied", copy_kind(st.st_mode));
		return depth ? COPY_PARTIAL : COPY_FAILED;
	}
	if (S_ISDIR(st.st_mode) && !io->io_recursive && depth == 0) {
		copy_say(io, "is a directory (give -r to copy a tree)");
		return COPY_FAILED;
	}
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY |
	    (depth ? O_NOFOLLOW : 0) | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
	if (fd == -1) {
		copy_say(io, "%s", strerror(errno));
		return depth ? COPY_PARTIAL : COPY_FAILED;
	}
	if (S_ISREG(st.st_mode)) {
		rv = copy_send_file(io, fd, name);
		close(fd);
		return rv;
	}
	if (copy_put_header(io, COPY_DIR, name, &st, 0) == -1) {
		close(fd);
		return COPY_CUT;
	}
	return copy_send_dir(io, fd, &st, depth);
}

/* A stream's state on fd, for prog's messages about path. */
static struct copy_io *
copy_io_new(int fd, const char *prog, const char *path)
{
	struct copy_io	*io = xcalloc(1, sizeof(*io));

	io->io_fd = fd;
	io->io_prog = prog;
	strlcpy(io->io_path, path, sizeof(io->io_path));
	return io;
}

enum copy_result
copy_send(int fd, const char *src, int recursive, const char *prog)
{
	struct copy_io		*io;
	enum copy_result	 rv;
	char			*real, *name;

	io = copy_io_new(fd, prog, src);
	io->io_recursive = recursive;
	io->io_splice = 1;
	/* The root's name: what it is called, links and dots resolved. */
	if ((real = realpath(src, NULL)) == NULL) {
		copy_say(io, "%s", strerror(errno));
		free(io);
		return COPY_FAILED;
	}
	name = strrchr(real, '/') + 1;
	if (*name == '\0') {
		copy_say(io, "cannot copy the root directory itself");
		rv = COPY_FAILED;
	} else if (copy_put(io, COPY_MAGIC, strlen(COPY_MAGIC)) == -1)
		rv = COPY_CUT;
	else
		rv = copy_send_entry(io, AT_FDCWD, src, name, 0);
	if (rv < COPY_FAILED && (copy_put_header(io, COPY_END, NULL, NULL,
	    0) == -1 || copy_flush(io) == -1))
		rv = COPY_CUT;
	if (rv == COPY_CUT && errno != EPIPE) {
		copy_say(io, "cannot write the stream: %s", strerror(errno));
		rv = COPY_FAILED;
	}
	free(real);
	free(io);
	return rv;
}

/* ---- Reading a stream. */

/* Exactly n bytes into p; -1 at an early end (errno 0) or error. */
static int
copy_get(struct copy_io *io, void *p, size_t n)
{
	unsigned char	*d = p;
	size_t		 k;
	ssize_t		 r;

	while (n > 0) {
		if (io->io_off == io->io_len) {
			r = read(io->io_fd, io->io_buf, sizeof(io->io_buf));
			if (r == -1 && errno == EINTR)
				continue;
			if (r <= 0) {
				if (r == 0)
					errno = 0;
				return -1;
			}
			io->io_off = 0;
			io->io_len = (size_t)r;
		}
		k = io->io_len - io->io_off;
		if (k > n)
			k = n;
		memcpy(d, io->io_buf + io->io_off, k);
		io->io_off += k;
		d += k;
		n -= k;
	}
	return 0;
}

static uint64_t
copy_unbe(const unsigned char *p, int bytes)
{
	uint64_t	 v = 0;

	while (bytes-- > 0)
		v = v << 8 | *p++;
	return v;
}

/* An early end said once, a read error too; COPY_CUT or COPY_FAILED. */
static enum copy_result
copy_get_failed(struct copy_io *io)
{
	if (errno == 0)
		return COPY_CUT;
	copy_say(io, "cannot read the stream: %s", strerror(errno));
	return COPY_FAILED;
}

/* 0 if name is one path component we may create. */
static int
copy_name_ok(const char *name, size_t len)
{
	return len > 0 && len <= NAME_MAX && memchr(name, '/', len) == NULL &&
	    memchr(name, '\0', len) == NULL && strcmp(name, ".") != 0 &&
	    strcmp(name, "..") != 0 ? 0 : -1;
}

/* The next header, checked. */
static enum copy_result
copy_get_header(struct copy_io *io, struct copy_header *h)
{
	unsigned char	 b[COPY_HEADER];
	size_t		 nl, ul, gl, i;
	uint64_t	 ns[2];

	if (copy_get(io, b, sizeof(b)) == -1)
		return copy_get_failed(io);
	memset(h, 0, sizeof(*h));
	h->h_type = b[0];
	nl = (size_t)copy_unbe(b + 1, 2);
	ul = b[3];
	gl = b[4];
	h->h_mode = (uint32_t)copy_unbe(b + 5, 4);
	h->h_size = copy_unbe(b + 9, 8);
	h->h_times[1].tv_sec = (time_t)copy_unbe(b + 17, 8);
	ns[1] = copy_unbe(b + 25, 4);
	h->h_times[0].tv_sec = (time_t)copy_unbe(b + 29, 8);
	ns[0] = copy_unbe(b + 37, 4);
	for (i = 0; i < 2; i++) {
		if (ns[i] >= 1000000000) {
			copy_say(io, "bad time in the stream");
			return COPY_FAILED;
		}
		h->h_times[i].tv_nsec = (long)ns[i];
	}
	if (h->h_type != COPY_FILE && h->h_type != COPY_DIR &&
	    h->h_type != COPY_LINK && h->h_type != COPY_UP &&
	    h->h_type != COPY_END) {
		copy_say(io, "unknown entry type %u in the stream",
		    (unsigned)h->h_type);
		return COPY_FAILED;
	}
	/* Version 1 made holes of every file's zero blocks. */
	h->h_holes = io->io_version == 1 ||
	    (h->h_type == COPY_FILE && (h->h_mode & COPY_MODE_HOLES) != 0);
	if (h->h_type == COPY_FILE && io->io_version >= 2)
		h->h_mode &= ~COPY_MODE_HOLES;
	if ((h->h_mode & ~07777u) != 0 || nl > NAME_MAX ||
	    ul > COPY_MAX_ID || gl > COPY_MAX_ID ||
	    (h->h_type == COPY_LINK && h->h_size >= PATH_MAX) ||
	    (h->h_type != COPY_LINK && h->h_type != COPY_FILE &&
	    h->h_size != 0) ||
	    ((h->h_type == COPY_UP || h->h_type == COPY_END) && nl != 0)) {
		copy_say(io, "bad entry header in the stream");
		return COPY_FAILED;
	}
	if (copy_get(io, h->h_name, nl) == -1 ||
	    copy_get(io, h->h_user, ul) == -1 ||
	    copy_get(io, h->h_group, gl) == -1)
		return copy_get_failed(io);
	if ((h->h_type == COPY_FILE || h->h_type == COPY_DIR ||
	    h->h_type == COPY_LINK) && copy_name_ok(h->h_name, nl) == -1) {
		char	 vis[(NAME_MAX + 1) * 4 + 1];

		strvisx(vis, h->h_name, nl, VIS_SAFE | VIS_OCTAL);
		copy_say(io, "refused: bad name \"%s\" in the stream (one path "
		    "component, not . or .., is allowed)", vis);
		return COPY_FAILED;
	}
	if (memchr(h->h_user, '\0', ul) != NULL ||
	    memchr(h->h_group, '\0', gl) != NULL) {
		copy_say(io, "bad owner name in the stream");
		return COPY_FAILED;
	}
	return COPY_OK;
}

static void
copy_on_signal(int sig)
{
	int	 saved = errno;

	if (copy_tmp_dirfd != -1)
		unlinkat(copy_tmp_dirfd, copy_tmp_name, 0);
	signal(sig, SIG_DFL);
	raise(sig);
	errno = saved;
}

/* Owner and group by name when we are root; else the receiver's. */
static void
copy_set_owner(struct copy_io *io, int fd, const struct copy_header *h)
{
	unsigned	 uid = (unsigned)-1, gid = (unsigned)-1;
	char		 name[COPY_MAX_ID + 1];

	if (geteuid() != 0 || (h->h_user[0] == '\0' && h->h_group[0] == '\0'))
		return;
	strlcpy(name, h->h_user, sizeof(name));
	if (name[0] != '\0' && copy_idmap("/etc/passwd", 1, name, 0, &uid) ==
	    -1)
		uid = (unsigned)-1;
	strlcpy(name, h->h_group, sizeof(name));
	if (name[0] != '\0' && copy_idmap("/etc/group", 1, name, 0, &gid) ==
	    -1)
		gid = (unsigned)-1;
	if ((uid == (unsigned)-1 || gid == (unsigned)-1) &&
	    !io->io_warned_owner) {
		copy_say(io, "owner or group unknown here: left as root's (said "
		    "once)");
		io->io_warned_owner = 1;
	}
	if ((uid != (unsigned)-1 || gid != (unsigned)-1) &&
	    fchown(fd, (uid_t)uid, (gid_t)gid) == -1 && !io->io_warned_owner) {
		copy_say(io, "cannot keep the owner: %s (said once)",
		    strerror(errno));
		io->io_warned_owner = 1;
	}
}

/* 1 if the block is all zeros: then it is skipped, left a hole. */
static int
copy_zeros(const unsigned char *p, size_t n)
{
	return n > 0 && p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

/* All of p to fd: a short write is followed by the one that says why. */
static int
copy_write_all(int fd, const unsigned char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Up to *left bytes of the file being received into fd without copying
 * them through us: what the stream's buffer holds is written, the rest is
 * spliced from the stream.  Stops early, leaving the rest in *left for
 * reading and writing, where splice cannot join the two (EINVAL: the
 * stream is no pipe, the file system takes no splice).  COPY_OK, or an
 * early end or error (said) as copy_get would have it.
 */
static enum copy_result
copy_recv_spliced(struct copy_io *io, int fd, uint64_t *left,
    uint64_t start, uint64_t size)
{
	size_t	 have = io->io_len - io->io_off;
	ssize_t	 n;

	if (have > *left)
		have = (size_t)*left;
	if (have > 0) {
		if (copy_write_all(fd, io->io_buf + io->io_off, have) == -1) {
			copy_say(io, "%s", strerror(errno));
			return COPY_FAILED;
		}
		io->io_off += have;
		*left -= have;
	}
	while (*left > 0) {
		copy_progress(io, start, size - *left, size, 0);
		n = splice(io->io_fd, NULL, fd, NULL, *left < COPY_SPLICE_MAX ?
		    (size_t)*left : COPY_SPLICE_MAX, SPLICE_F_MOVE);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EINVAL)
			return COPY_OK;	/* read and written instead */
		if (n == 0) {
			errno = 0;
			return copy_get_failed(io);	/* the stream ended */
		}
		if (n == -1) {
			/* Its read side is a pipe: the error is the file's. */
			copy_say(io, "%s", strerror(errno));
			return COPY_FAILED;
		}
		*left -= (uint64_t)n;
	}
	return COPY_OK;
}

/* A file's bytes into a temporary beside name in dirfd, then renamed. */
static enum copy_result
copy_recv_file(struct copy_io *io, int dirfd, const char *name,
    const struct copy_header *h)
{
	unsigned char	 buf[COPY_BUF];
	sigset_t	 all, old;
	uint64_t	 left, start;
	enum copy_result rv = COPY_FAILED;
	size_t		 k;
	int		 fd = -1, i;

	/* Created and registered for the signal handler as one step. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < 100 && fd == -1; i++) {
		snprintf(copy_tmp_name, sizeof(copy_tmp_name),
		    ".negotiator-copy.%08x", arc4random());
		fd = openat(dirfd, copy_tmp_name, O_WRONLY | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd == -1 && errno != EEXIST)
			break;
	}
	if (fd != -1)
		copy_tmp_dirfd = dirfd;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (fd == -1) {
		copy_say(io, "cannot create a temporary beside it: %s",
		    strerror(errno));
		/* Its bytes are still to be read: the stream stops here. */
		return COPY_FAILED;
	}
	start = now_ns();
	left = h->h_size;
	if (!h->h_holes) {
		if ((rv = copy_recv_spliced(io, fd, &left, start,
		    h->h_size)) != COPY_OK)
			goto fail;
		rv = COPY_FAILED;	/* for the rest, read and written */
	}
	for (; left > 0; left -= k) {
		copy_progress(io, start, h->h_size - left, h->h_size, 0);
		k = left < sizeof(buf) ? (size_t)left : sizeof(buf);
		if (copy_get(io, buf, k) == -1) {
			rv = copy_get_failed(io);
			goto fail;
		}
		if (h->h_holes && copy_zeros(buf, k) ?
		    lseek(fd, (off_t)k, SEEK_CUR) == -1 :
		    copy_write_all(fd, buf, k) == -1) {
			copy_say(io, "%s", strerror(errno));
			goto fail;
		}
	}
	copy_progress(io, start, h->h_size, h->h_size, 1);
	copy_set_owner(io, fd, h);
	if (ftruncate(fd, (off_t)h->h_size) == -1 ||
	    fchmod(fd, h->h_mode & 01777) == -1 ||
	    (io->io_preserve && futimens(fd, h->h_times) == -1) ||
	    fsync(fd) == -1) {
		copy_say(io, "%s", strerror(errno));
		goto fail;
	}
	if (close(fd) == -1) {
		fd = -1;
		copy_say(io, "%s", strerror(errno));
		goto fail;
	}
	fd = -1;
	if (renameat(dirfd, copy_tmp_name, dirfd, name) == -1) {
		copy_say(io, "%s", errno == EISDIR ? "a directory is there" :
		    strerror(errno));
		goto fail;
	}
	copy_tmp_dirfd = -1;
	return COPY_OK;
fail:
	if (fd != -1)
		close(fd);
	unlinkat(dirfd, copy_tmp_name, 0);
	copy_tmp_dirfd = -1;
	return rv;
}

/* A link made beside name, then renamed over it: never followed. */
static enum copy_result
copy_recv_link(struct copy_io *io, int dirfd, const char *name,
    const struct copy_header *h)
{
	char		 target[PATH_MAX];
	sigset_t	 all, old;

	if (copy_get(io, target, (size_t)h->h_size) == -1)
		return copy_get_failed(io);
	target[h->h_size] = '\0';
	if (h->h_size == 0 || strlen(target) != h->h_size) {
		copy_say(io, "bad link target in the stream");
		return COPY_FAILED;
	}
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	snprintf(copy_tmp_name, sizeof(copy_tmp_name), ".negotiator-copy.%08x",
	    arc4random());
	copy_tmp_dirfd = dirfd;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (symlinkat(target, dirfd, copy_tmp_name) == -1 ||
	    renameat(dirfd, copy_tmp_name, dirfd, name) == -1) {
		copy_say(io, "%s", strerror(errno));
		unlinkat(dirfd, copy_tmp_name, 0);
		copy_tmp_dirfd = -1;
		return COPY_FAILED;
	}
	copy_tmp_dirfd = -1;
	return COPY_OK;
}

static enum copy_result	copy_recv_entry(struct copy_io *, int, const char *,
			    const struct copy_header *, int);

/* A directory made (or one already there), its entries, its COPY_UP. */
static enum copy_result
copy_recv_dir(struct copy_io *io, int dirfd, const char *name, int depth)
{
	struct copy_header	 h;
	struct stat		 st;
	enum copy_result	 rv;
	size_t			 len;
	int			 fd;

	if (depth >= COPY_MAX_DEPTH) {
		copy_say(io, "refused: more than %d directories deep",
		    COPY_MAX_DEPTH);
		return COPY_FAILED;
	}
	if (mkdirat(dirfd, name, 0700) == -1 && errno != EEXIST) {
		copy_say(io, "%s", strerror(errno));
		return COPY_FAILED;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		copy_say(io, "%s", errno == ELOOP || errno == ENOTDIR ?
		    "refused: something other than a directory is there" :
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return COPY_FAILED;
	}
	for (;;) {
		if ((rv = copy_get_header(io, &h)) != COPY_OK)
			break;
		if (h.h_type == COPY_UP) {
			copy_set_owner(io, fd, &h);
			if (fchmod(fd, h.h_mode & 01777) == -1 ||
			    (io->io_preserve && futimens(fd, h.h_times) == -1)) {
				copy_say(io, "%s", strerror(errno));
				rv = COPY_FAILED;
			}
			break;
		}
		if (h.h_type == COPY_END) {
			copy_say(io, "the stream ended inside this directory");
			rv = COPY_FAILED;
			break;
		}
		len = copy_path_push(io, h.h_name);
		rv = copy_recv_entry(io, fd, h.h_name, &h, depth + 1);
		if (rv != COPY_OK)
			break;
		io->io_path[len] = '\0';
	}
	close(fd);
	return rv;
}

static enum copy_result
copy_recv_entry(struct copy_io *io, int dirfd, const char *name,
    const struct copy_header *h, int depth)
{
	switch (h->h_type) {
	case COPY_FILE:
		return copy_recv_file(io, dirfd, name, h);
	case COPY_LINK:
		return copy_recv_link(io, dirfd, name, h);
	case COPY_DIR:
		return copy_recv_dir(io, dirfd, name, depth);
	default:
		copy_say(io, "bad entry in the stream");
		return COPY_FAILED;
	}
}

/*
 * Where the root goes: dirfd and name of dst itself, or of dst/NAME when
 * dst is a directory.
 */
static int
copy_recv_target(struct copy_io *io, const char *dst,
    const struct copy_header *h, char *name, size_t namelen)
{
	struct stat	 st;
	char		*dir, *slash;
	int		 fd;

	if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
		strlcpy(name, h->h_name, namelen);
		copy_path_push(io, name);
		return open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if ((dir = strdup(dst)) == NULL)
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL) {
		strlcpy(name, dir, namelen);
		strlcpy(dir, ".", 2);
	} else {
		strlcpy(name, slash + 1, namelen);
		slash[slash == dir] = '\0';
	}
	if (copy_name_ok(name, strlen(name)) == -1) {
		copy_say(io, "not a directory, nor a name to create");
		free(dir);
		errno = 0;
		return -1;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	return fd;
}

/*
 * The version of a stream that begins with magic (COPY_MAGIC's length):
 * 1 or 2; 0 if it is no copy stream, -1 if one of a later version.
 */
static int
copy_version(const char *magic)
{
	size_t	 stem = sizeof(COPY_MAGIC_STEM) - 1;

	if (memcmp(magic, COPY_MAGIC, sizeof(COPY_MAGIC) - 1) == 0)
		return 2;
	if (memcmp(magic, COPY_MAGIC_1, sizeof(COPY_MAGIC_1) - 1) == 0)
		return 1;
	if (memcmp(magic, COPY_MAGIC_STEM, stem) == 0 &&
	    magic[stem] >= '3' && magic[stem] <= '9' &&
	    magic[stem + 1] == '\n')
		return -1;
	return 0;
}

enum copy_result
copy_receive(int fd, const char *dst, int preserve, const char *prog)
{
	struct copy_header	 h;
	struct copy_io		*io;
	struct sigaction	 sa;
	char			 magic[sizeof(COPY_MAGIC) - 1];
	char			 name[NAME_MAX + 1];
	enum copy_result	 rv;
	int			 dirfd, sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGPIPE };
	size_t			 i;

	io = copy_io_new(fd, prog, dst);
	io->io_preserve = preserve;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = copy_on_signal;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	if (copy_get(io, magic, sizeof(magic)) == -1)
		rv = copy_get_failed(io);
	else if ((io->io_version = copy_version(magic)) <= 0) {
		if (io->io_version == 0)
			copy_say(io, "not a copy stream");
		else
			copy_say(io, "a copy stream of version %c, newer than "
			    "this negotiator reads (1 and 2): update it here",
			    magic[sizeof(COPY_MAGIC_STEM) - 1]);
		rv = COPY_FAILED;
	} else if ((rv = copy_get_header(io, &h)) != COPY_OK)
		;
	else if (h.h_type != COPY_FILE && h.h_type != COPY_DIR &&
	    h.h_type != COPY_LINK) {
		copy_say(io, "bad first entry in the stream");
		rv = COPY_FAILED;
	} else if ((dirfd = copy_recv_target(io, dst, &h, name,
	    sizeof(name))) == -1) {
		if (errno != 0)
			copy_say(io, "%s", strerror(errno));
		rv = COPY_FAILED;
	} else {
		rv = copy_recv_entry(io, dirfd, name, &h, 0);
		close(dirfd);
		if (rv == COPY_OK && (rv = copy_get_header(io, &h)) == COPY_OK &&
		    h.h_type != COPY_END) {
			copy_say(io, "more than one entry at the top of the "
			    "stream");
			rv = COPY_FAILED;
		}
	}
	free(io);
	return rv;
}

/* ---- The programs put and get run. */

int
copy_command_main(int argc, char *argv[])
{
	const char	*prog;
	int		 receive, flag = 0, ch;
	enum copy_result rv;

	receive = strcmp(argv[0], "--receive-files") == 0;
	prog = receive ? "put" : "get";
	optind = 1;
	while ((ch = getopt(argc, argv, receive ? "p" : "r")) != -1) {
		if (ch == '?') {
			fprintf(stderr, "usage: %s\n", receive ? "put [-p] DST" :
			    "get [-r] SRC");
			return 1;
		}
		flag = 1;
	}
	if (argc - optind != 1 || argv[optind][0] == '\0') {
		fprintf(stderr, "%s: give one path\n", prog);
		return 1;
	}
	if (receive)
		rv = copy_receive(STDIN_FILENO, argv[optind], flag, prog);
	else {
		signal(SIGPIPE, SIG_DFL);
		rv = copy_send(STDOUT_FILENO, argv[optind], flag, prog);
	}
	if (rv == COPY_CUT && receive)
		fprintf(stderr, "put: %s: the stream ended early: nothing "
		    "more written\n", argv[optind]);
	return rv == COPY_OK ? 0 : 1;
}
