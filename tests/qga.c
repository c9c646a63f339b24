/*
 * qga: the host end of tests/bench.sh's two other virtio-serial ports, so
 * that qemu-ga and a bare port are measured in the same run and the same
 * guest as negotiator.  One connection to the port's UNIX socket.  For
 * qemu-ga, guest-sync first, so that nothing left on the line from an
 * earlier client is taken for an answer.  Prints milliseconds on stdout.
 *
 *   qga SOCKET ping N                one line per guest-ping round trip
 *   qga SOCKET exec N PATH [ARG...]  one line per guest-exec of PATH, timed
 *                                    until guest-exec-status says exited
 *   qga SOCKET out PATH [ARG...]     one guest-exec with its output
 *                                    captured: "BYTES MS"
 *   qga SOCKET in FILE PATH [ARG...] one guest-exec with FILE as its stdin
 *                                    (input-data, base64 in one message):
 *                                    "BYTES MS"
 *   qga SOCKET par N PATH [ARG...]   N guest-execs started at once, then
 *                                    polled until all have exited: "MS"
 *   qga SOCKET file-write FILE GPATH CHUNK
 *                                    FILE into the guest's GPATH with
 *                                    guest-file-open (mode w), one
 *                                    guest-file-write of CHUNK bytes
 *                                    (base64) after another, then
 *                                    guest-file-close: "BYTES MS"
 *   qga SOCKET file-read GPATH FILE CHUNK
 *                                    the guest's GPATH into FILE with
 *                                    guest-file-read of CHUNK bytes until
 *                                    eof, each reply's base64 decoded and
 *                                    written out: "BYTES MS"
 *   qga SOCKET raw-recv BYTES        a bare port: reads BYTES, "BYTES MS"
 *                                    from the first byte to the last
 *   qga SOCKET raw-send BYTES        a bare port: writes BYTES zeros in
 *                                    64 KiB writes, then stays connected
 *                                    (data sent to a closed port may be
 *                                    dropped) until killed
 *
 * The file modes move files as Proxmox's `qm guest file-write/-read` and
 * Ansible's libvirt_qemu connection do (base64 in JSON, one call a chunk).
 * guest-exec-status is polled every QGA_POLL_US (1 ms), the way qemu-ga's
 * clients must poll; a command that exits non-zero is an error.  Exit 0,
 * or 1 with a message on stderr.  Bench code: it trusts qemu-ga's JSON
 * layout (one reply per line) and looks keys up by name.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QGA_POLL_US	1000
#define QGA_TIMEOUT_S	120

static int	 qga_fd;
static char	*line;		/* the last reply read */
static size_t	 line_len, line_cap;
static char	 rbuf[65536];
static size_t	 rbuf_off, rbuf_len;

static double
now_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
send_all(const char *s, size_t len)
{
	ssize_t	 n;

	while (len > 0) {
		if ((n = write(qga_fd, s, len)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "write to qemu-ga");
		}
		s += n;
		len -= (size_t)n;
	}
}

/* Reads one reply line into line (NUL-terminated, without the newline). */
static void
read_line(void)
{
	char	*nl;
	size_t	 take;
	ssize_t	 n;

	line_len = 0;
	for (;;) {
		if (rbuf_off == rbuf_len) {
			n = read(qga_fd, rbuf, sizeof(rbuf));
			if (n == -1 && errno == EINTR)
				continue;
			if (n <= 0)
				errx(1, "qemu-ga closed the connection");
			rbuf_off = 0;
			rbuf_len = (size_t)n;
		}
		nl = memchr(rbuf + rbuf_off, '\n', rbuf_len - rbuf_off);
		take = nl ? (size_t)(nl - (rbuf + rbuf_off)) : rbuf_len - rbuf_off;
		if (line_len + take + 1 > line_cap) {
			line_cap = (line_len + take + 1) * 2;
			if ((line = realloc(line, line_cap)) == NULL)
				err(1, "realloc");
		}
		memcpy(line + line_len, rbuf + rbuf_off, take);
		line_len += take;
		rbuf_off += take + (nl != NULL);
		if (nl != NULL && line_len > 0) {
			line[line_len] = '\0';
			return;
		}
	}
}

static void
timed_out(int sig)
{
	static const char	 msg[] = "qga: no answer within the time "
	    "allowed (QGA_TIMEOUT_S)\n";

	(void)sig;
	(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(1);
}

/*
 * Sends one command and reads its reply; an "error" reply is fatal, and so
 * is a reply that takes longer than QGA_TIMEOUT_S.
 */
static void
command(const char *json)
{
	alarm(QGA_TIMEOUT_S);
	send_all(json, strlen(json));
	read_line();
	if (strstr(line, "\"error\"") != NULL)
		errx(1, "qemu-ga: %.300s", line);
}

/* Where the value of "key" starts in line, or NULL. */
static const char *
value_of(const char *key)
{
	char		 pat[64];
	const char	*p;

	snprintf(pat, sizeof(pat), "\"%s\"", key);
	if ((p = strstr(line, pat)) == NULL)
		return NULL;
	p += strlen(pat);
	while (*p == ' ' || *p == ':')
		p++;
	return p;
}

static long long
number_of(const char *key)
{
	const char	*p;

	if ((p = value_of(key)) == NULL)
		errx(1, "qemu-ga: no %s in %.300s", key, line);
	return strtoll(p, NULL, 10);
}

/* Bytes of the base64 string value of key (0 if absent). */
static size_t
decoded_length(const char *key)
{
	const char	*p, *q;
	size_t		 n;

	if ((p = value_of(key)) == NULL || *p != '"')
		return 0;
	if ((q = strchr(++p, '"')) == NULL)
		errx(1, "qemu-ga: unterminated %s", key);
	n = (size_t)(q - p) / 4 * 3;
	if (q - p >= 1 && q[-1] == '=')
		n--;
	if (q - p >= 2 && q[-2] == '=')
		n--;
	return n;
}

static void
sync_session(void)
{
	char	 json[128];
	long	 id = (long)(getpid() ^ time(NULL)) & 0x7fffffff;

	/* Replies to an earlier client's requests may still come first. */
	snprintf(json, sizeof(json),
	    "{\"execute\":\"guest-sync\",\"arguments\":{\"id\":%ld}}\n", id);
	send_all(json, strlen(json));
	snprintf(json, sizeof(json), "\"return\": %ld", id);
	do
		read_line();
	while (strstr(line, json) == NULL);
}

static void
json_string(char **out, size_t *len, size_t *cap, const char *s)
{
	size_t	 need = strlen(s) * 6 + 3;

	if (*len + need > *cap) {
		*cap = (*len + need) * 2;
		if ((*out = realloc(*out, *cap)) == NULL)
			err(1, "realloc");
	}
	(*out)[(*len)++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			(*out)[(*len)++] = '\\';
		if ((unsigned char)*s < ' ')
			*len += (size_t)sprintf(*out + *len, "\\u%04x", *s);
		else
			(*out)[(*len)++] = *s;
	}
	(*out)[(*len)++] = '"';
	(*out)[*len] = '\0';
}

static void
append(char **out, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		*cap = (*len + n + 1) * 2;
		if ((*out = realloc(*out, *cap)) == NULL)
			err(1, "realloc");
	}
	memcpy(*out + *len, s, n);
	*len += n;
	(*out)[*len] = '\0';
}

static void
appends(char **out, size_t *len, size_t *cap, const char *s)
{
	append(out, len, cap, s, strlen(s));
}

static void
base64(char **out, size_t *len, size_t *cap, const uint8_t *in, size_t n)
{
	static const char	 tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	char			 q[4];
	uint32_t		 v;
	size_t			 i;

	for (i = 0; i < n; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		q[0] = tab[v >> 18 & 63];
		q[1] = tab[v >> 12 & 63];
		q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		append(out, len, cap, q, 4);
	}
}

/* Decodes the base64 string value of key into *out (grown as needed). */
static size_t
decode_value(const char *key, uint8_t **out, size_t *cap)
{
	const char	*p, *q;
	uint32_t	 v = 0;
	size_t		 n = 0;
	int		 bits = 0, c;

	if ((p = value_of(key)) == NULL || *p != '"')
		errx(1, "qemu-ga: no %s in %.300s", key, line);
	if ((q = strchr(++p, '"')) == NULL)
		errx(1, "qemu-ga: unterminated %s", key);
	if ((size_t)(q - p) / 4 * 3 + 3 > *cap) {
		*cap = (size_t)(q - p) / 4 * 3 + 3;
		if ((*out = realloc(*out, *cap)) == NULL)
			err(1, "realloc");
	}
	for (; p < q; p++) {
		if (*p >= 'A' && *p <= 'Z')
			c = *p - 'A';
		else if (*p >= 'a' && *p <= 'z')
			c = *p - 'a' + 26;
		else if (*p >= '0' && *p <= '9')
			c = *p - '0' + 52;
		else if (*p == '+')
			c = 62;
		else if (*p == '/')
			c = 63;
		else if (*p == '=')
			break;
		else if (*p == '\\')	/* JSON's escaped slash: \/ */
			continue;
		else
			errx(1, "qemu-ga: bad base64 in %s", key);
		v = v << 6 | (uint32_t)c;
		if ((bits += 6) >= 8) {
			bits -= 8;
			(*out)[n++] = (uint8_t)(v >> bits);
		}
	}
	return n;
}

static long long
file_open(const char *path, const char *mode)
{
	char	*json = NULL;
	size_t	 len = 0, cap = 0;

	appends(&json, &len, &cap, "{\"execute\":\"guest-file-open\","
	    "\"arguments\":{\"path\":");
	json_string(&json, &len, &cap, path);
	appends(&json, &len, &cap, ",\"mode\":");
	json_string(&json, &len, &cap, mode);
	appends(&json, &len, &cap, "}}\n");
	command(json);
	free(json);
	return number_of("return");
}

static void
file_close(long long h)
{
	char	 json[128];

	snprintf(json, sizeof(json), "{\"execute\":\"guest-file-close\","
	    "\"arguments\":{\"handle\":%lld}}\n", h);
	command(json);
}

/* file-write: local FILE to the guest's GPATH, CHUNK bytes a call. */
static void
file_write(const char *file, const char *gpath, size_t chunk)
{
	uint8_t		*buf;
	char		*json = NULL, head[128];
	size_t		 len, cap = 0, got;
	long long	 h, total = 0;
	double		 t0;
	ssize_t		 r;
	int		 fd;

	if ((fd = open(file, O_RDONLY)) == -1)
		err(1, "%s", file);
	if ((buf = malloc(chunk)) == NULL)
		err(1, "malloc");
	t0 = now_ms();
	h = file_open(gpath, "w");
	for (;;) {
		for (got = 0; got < chunk; got += (size_t)r)
			if ((r = read(fd, buf + got, chunk - got)) <= 0)
				break;
		if (got == 0)
			break;
		len = 0;
		snprintf(head, sizeof(head), "{\"execute\":\"guest-file-write\","
		    "\"arguments\":{\"handle\":%lld,\"buf-b64\":\"", h);
		appends(&json, &len, &cap, head);
		base64(&json, &len, &cap, buf, got);
		appends(&json, &len, &cap, "\"}}\n");
		command(json);
		if (number_of("count") != (long long)got)
			errx(1, "guest-file-write wrote %lld of %zu bytes",
			    number_of("count"), got);
		total += (long long)got;
		if (got < chunk)
			break;
	}
	file_close(h);
	printf("%lld %.3f\n", total, now_ms() - t0);
	close(fd);
	free(json);
	free(buf);
}

/* file-read: the guest's GPATH to local FILE, CHUNK bytes a call. */
static void
file_read(const char *gpath, const char *file, size_t chunk)
{
	uint8_t		*buf = NULL;
	char		 json[160];
	size_t		 cap = 0, n, off;
	long long	 h, total = 0;
	const char	*eof;
	double		 t0;
	ssize_t		 w;
	int		 fd;

	if ((fd = open(file, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1)
		err(1, "%s", file);
	t0 = now_ms();
	h = file_open(gpath, "r");
	snprintf(json, sizeof(json), "{\"execute\":\"guest-file-read\","
	    "\"arguments\":{\"handle\":%lld,\"count\":%zu}}\n", h, chunk);
	do {
		command(json);
		n = decode_value("buf-b64", &buf, &cap);
		if ((long long)n != number_of("count"))
			errx(1, "guest-file-read: %zu bytes decoded, count %lld",
			    n, number_of("count"));
		if ((eof = value_of("eof")) == NULL)
			errx(1, "qemu-ga: no eof in %.300s", line);
		for (off = 0; off < n; off += (size_t)w)
			if ((w = write(fd, buf + off, n - off)) == -1)
				err(1, "%s", file);
		total += (long long)n;
	} while (*eof != 't');
	file_close(h);
	printf("%lld %.3f\n", total, now_ms() - t0);
	if (close(fd) == -1)
		err(1, "%s", file);
	free(buf);
}

static size_t
chunk_size(const char *s)
{
	const char	*e;
	long		 n;

	n = strtol(s, (char **)&e, 10);
	if (*e != '\0' || n < 1 || n > 48 * 1024 * 1024)
		errx(1, "bad chunk size: %s", s);
	return (size_t)n;
}

/*
 * Starts argv[0] with argv[1..] in the guest, with input (n bytes) as its
 * stdin if input is not NULL; returns its pid.
 */
static long long
exec_start(char **argv, const uint8_t *input, size_t n)
{
	char	*json = NULL;
	size_t	 len = 0, cap = 0;
	int	 i;

	appends(&json, &len, &cap, "{\"execute\":\"guest-exec\",\"arguments\":"
	    "{\"capture-output\":true,\"path\":");
	json_string(&json, &len, &cap, argv[0]);
	appends(&json, &len, &cap, ",\"arg\":[");
	for (i = 1; argv[i] != NULL; i++) {
		if (i > 1)
			appends(&json, &len, &cap, ",");
		json_string(&json, &len, &cap, argv[i]);
	}
	appends(&json, &len, &cap, "]");
	if (input != NULL) {
		appends(&json, &len, &cap, ",\"input-data\":\"");
		base64(&json, &len, &cap, input, n);
		appends(&json, &len, &cap, "\"");
	}
	appends(&json, &len, &cap, "}}\n");
	command(json);
	free(json);
	return number_of("pid");
}

/* 1 once pid has exited (line then holds its status), else 0. */
static int
exec_poll(long long pid)
{
	char		 json[128];
	const char	*p;

	snprintf(json, sizeof(json), "{\"execute\":\"guest-exec-status\","
	    "\"arguments\":{\"pid\":%lld}}\n", pid);
	command(json);
	if ((p = value_of("exited")) == NULL)
		errx(1, "qemu-ga: no exited in %.300s", line);
	if (*p != 't')
		return 0;
	if (number_of("exitcode") != 0)
		errx(1, "qemu-ga: the command exited %lld", number_of("exitcode"));
	return 1;
}

static void
exec_wait(long long pid)
{
	struct timespec	 pause = { 0, QGA_POLL_US * 1000L };
	double		 deadline = now_ms() + QGA_TIMEOUT_S * 1e3;

	while (!exec_poll(pid)) {
		if (now_ms() > deadline)
			errx(1, "guest-exec: pid %lld still runs after %d s",
			    pid, QGA_TIMEOUT_S);
		nanosleep(&pause, NULL);
	}
}

static int
count(const char *s)
{
	const char	*e;
	long		 n;

	n = strtol(s, (char **)&e, 10);
	if (*e != '\0' || n < 1 || n > 100000)
		errx(1, "bad count: %s", s);
	return (int)n;
}

static uint8_t *
slurp(const char *path, size_t *n)
{
	struct stat	 st;
	uint8_t		*data;
	ssize_t		 r;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY)) == -1 || fstat(fd, &st) == -1)
		err(1, "%s", path);
	if ((data = malloc((size_t)st.st_size + 1)) == NULL)
		err(1, "malloc");
	while (off < (size_t)st.st_size &&
	    (r = read(fd, data + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)r;
	close(fd);
	*n = off;
	return data;
}

static int
raw(const char *how, const char *bytes)
{
	const char	*e;
	double		 t0 = 0;
	long long	 want, done = 0;
	size_t		 chunk;
	ssize_t		 n;

	want = strtoll(bytes, (char **)&e, 10);
	if (*e != '\0' || want < 1)
		errx(1, "bad byte count: %s", bytes);
	memset(rbuf, 0, sizeof(rbuf));
	if (strcmp(how, "raw-send") == 0) {
		for (; done < want; done += (long long)chunk) {
			chunk = sizeof(rbuf);
			if ((long long)chunk > want - done)
				chunk = (size_t)(want - done);
			send_all(rbuf, chunk);
		}
		for (;;)
			pause();
	}
	if (strcmp(how, "raw-recv") != 0)
		errx(1, "unknown request: %s", how);
	while (done < want) {
		if ((n = read(qga_fd, rbuf, sizeof(rbuf))) == -1 &&
		    errno == EINTR)
			continue;
		if (n <= 0)
			errx(1, "raw-recv: the port closed after %lld bytes",
			    done);
		if (done == 0)
			t0 = now_ms();
		done += n;
	}
	printf("%lld %.3f\n", done, now_ms() - t0);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct sockaddr_un	 sun;
	long long		*pids;
	uint8_t			*input;
	double			 t0;
	size_t			 n;
	int			 i, k, left;

	if (argc < 4)
		errx(1, "usage: qga SOCKET ping N | exec N PATH [ARG...] | "
		    "out PATH [ARG...] | in FILE PATH [ARG...] | "
		    "par N PATH [ARG...] | file-write FILE GPATH CHUNK | "
		    "file-read GPATH FILE CHUNK");
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if ((size_t)snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
	    argv[1]) >= sizeof(sun.sun_path))
		errx(1, "socket path too long: %s", argv[1]);
	if ((qga_fd = socket(AF_UNIX, SOCK_STREAM, 0)) == -1 ||
	    connect(qga_fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
		err(1, "%s", argv[1]);
	signal(SIGALRM, timed_out);
	alarm(QGA_TIMEOUT_S * 2);	/* the guest silent (each command re-arms) */
	if (strncmp(argv[2], "raw-", 4) == 0)
		return raw(argv[2], argv[3]);
	sync_session();

	if (strcmp(argv[2], "ping") == 0) {
		for (i = count(argv[3]); i > 0; i--) {
			t0 = now_ms();
			command("{\"execute\":\"guest-ping\"}\n");
			printf("%.3f\n", now_ms() - t0);
		}
	} else if (strcmp(argv[2], "exec") == 0 && argc >= 5) {
		for (i = count(argv[3]); i > 0; i--) {
			t0 = now_ms();
			exec_wait(exec_start(argv + 4, NULL, 0));
			printf("%.3f\n", now_ms() - t0);
		}
	} else if (strcmp(argv[2], "out") == 0) {
		t0 = now_ms();
		exec_wait(exec_start(argv + 3, NULL, 0));
		printf("%zu %.3f\n", decoded_length("out-data"), now_ms() - t0);
	} else if (strcmp(argv[2], "in") == 0 && argc >= 5) {
		input = slurp(argv[3], &n);
		t0 = now_ms();
		exec_wait(exec_start(argv + 4, input, n));
		printf("%zu %.3f\n", n, now_ms() - t0);
		free(input);
	} else if (strcmp(argv[2], "par") == 0 && argc >= 5) {
		k = count(argv[3]);
		if ((pids = calloc((size_t)k, sizeof(*pids))) == NULL)
			err(1, "calloc");
		t0 = now_ms();
		for (i = 0; i < k; i++)
			pids[i] = exec_start(argv + 4, NULL, 0);
		for (left = k; left > 0; ) {
			for (i = 0; i < k; i++)
				if (pids[i] != 0 && exec_poll(pids[i])) {
					pids[i] = 0;
					left--;
				}
			if (left > 0 && now_ms() - t0 > QGA_TIMEOUT_S * 1e3)
				errx(1, "par: %d still run", left);
			if (left > 0)
				usleep(QGA_POLL_US);
		}
		printf("%.3f\n", now_ms() - t0);
		free(pids);
	} else if (strcmp(argv[2], "file-write") == 0 && argc == 6)
		file_write(argv[3], argv[4], chunk_size(argv[5]));
	else if (strcmp(argv[2], "file-read") == 0 && argc == 6)
		file_read(argv[3], argv[4], chunk_size(argv[5]));
	else
		errx(1, "unknown or incomplete request: %s", argv[2]);
	return 0;
}
