/*
 * Unit tests of the pure part of the runner (common/runner.c): command
 * names, finding a command in the user and built-in directories, and
 * listing them.  Each test that touches files gets a fresh directory tree
 * from mkdtemp, removed afterwards:
 *
 *	TOP/user/	the user directory
 *	TOP/builtin/	the built-in directory
 *	TOP/outside	an executable next to them, never to be found
 */
#include <sys/stat.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "proto.h"
#include "policy.h"
#include "runner.h"
#include "words.h"

static char	 top[1024], user[2048], builtin[2048];

static void
make_file(const char *dir, const char *name, mode_t mode)
{
	char	 path[PATH_MAX];
	int	 fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_neq(fd, -1, "%s", path);
	cr_assert_eq(write(fd, "#!/bin/sh\nexit 0\n", 17), 17);
	close(fd);
	/* chmod, so the umask does not matter. */
	cr_assert_eq(chmod(path, mode), 0, "%s", path);
}

static void
make_dir(const char *dir, const char *name)
{
	char	 path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_eq(mkdir(path, 0755), 0, "%s", path);
	/* chmod, so the umask does not matter: the policy looks at modes. */
	cr_assert_eq(chmod(path, 0755), 0, "%s", path);
}

static void
remove_tree(const char *path)
{
	char		 sub[PATH_MAX];
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;

	if (lstat(path, &st) == -1)
		return;
	if (S_ISDIR(st.st_mode) && (d = opendir(path)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
			remove_tree(sub);
		}
		closedir(d);
		rmdir(path);
	} else
		unlink(path);
}

/*
 * Makes the tree in the first of $TMPDIR, /tmp, /var/tmp and the current
 * directory where a file can be executable (not on a noexec mount).
 */
static void
setup(void)
{
	const char	*bases[] = { getenv("TMPDIR"), "/tmp", "/var/tmp", "." };
	char		 outside[2048];
	size_t		 i;

	for (i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		if (bases[i] == NULL || *bases[i] == '\0')
			continue;
		snprintf(top, sizeof(top), "%s/test_runner.XXXXXX", bases[i]);
		if (mkdtemp(top) == NULL)
			continue;
		make_file(top, "outside", 0755);
		snprintf(outside, sizeof(outside), "%s/outside", top);
		if (access(outside, X_OK) == 0)
			break;
		remove_tree(top);
	}
	cr_assert_lt(i, sizeof(bases) / sizeof(bases[0]),
	    "no directory where files can be executable");
	snprintf(user, sizeof(user), "%s/user", top);
	snprintf(builtin, sizeof(builtin), "%s/builtin", top);
	cr_assert_eq(mkdir(user, 0755), 0);
	cr_assert_eq(mkdir(builtin, 0755), 0);
	cr_assert_eq(chmod(user, 0755), 0);
	cr_assert_eq(chmod(builtin, 0755), 0);
}

static void
teardown(void)
{
	remove_tree(top);
}

/*
 * policy_lookup, checking the descriptor it leaves: the file named by
 * path when found (then closed), none otherwise.
 */
static int
lookup(const struct runner_config *rc, const char *name, char *path,
    size_t pathlen, char *why, size_t whylen)
{
	struct stat	 st, at;
	int		 kind, fd = -2;

	kind = policy_lookup(rc, name, &fd, path, pathlen, why, whylen);
	if (kind != EXIT_EXITED) {
		cr_assert_eq(fd, -1, "\"%s\": refused, yet fd %d", name, fd);
		return kind;
	}
	cr_assert_geq(fd, 0, "\"%s\": found, yet no fd", name);
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_eq(stat(path, &at), 0, "%s", path);
	cr_assert(st.st_dev == at.st_dev && st.st_ino == at.st_ino,
	    "\"%s\": the fd is not %s", name, path);
	cr_assert_neq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0, "not close-on-exec");
	close(fd);
	return kind;
}

/* --- names ---------------------------------------------------------- */

Test(names, valid)
{
	static const char	*good[] = { "disk-usage", "a.b_c-1", "a", "Z",
	    "0", "_", "-", "a.", "a..b", "UPPER.lower_09-" };
	char			 longest[PROTO_MAX_NAME + 1];
	size_t			 i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		cr_assert_eq(policy_valid_name(good[i]), 1, "\"%s\"", good[i]);
	memset(longest, 'x', PROTO_MAX_NAME);
	longest[PROTO_MAX_NAME] = '\0';
	cr_assert_eq(strlen(longest), 64);
	cr_assert_eq(policy_valid_name(longest), 1);
}

Test(names, invalid)
{
	static const char	*bad[] = { "", ".", "..", ".hidden",
	    "../../bin/sh", "a/b", "/bin/sh", "a/", "a b", " a", "a\t",
	    "\xc3\xa9", "caf\xc3\xa9", "a\n", "\n", "a\nb", "a*", "a?", "$x",
	    "a;b", "a:b", "a\\b", "a'b", "a\"b", "~", "\x7f", "\x01" };
	char			 toolong[PROTO_MAX_NAME + 2];
	size_t			 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(policy_valid_name(bad[i]), 0, "\"%s\"", bad[i]);
	memset(toolong, 'x', PROTO_MAX_NAME + 1);
	toolong[PROTO_MAX_NAME + 1] = '\0';
	cr_assert_eq(strlen(toolong), 65);
	cr_assert_eq(policy_valid_name(toolong), 0);
}

/* --- lookup --------------------------------------------------------- */

/* Looks name up, expecting kind; checks the path when found. */
static void
expect_lookup(const struct runner_config *rc, const char *name, int kind,
    const char *dir)
{
	char	 path[PATH_MAX], why[512], want[PATH_MAX];
	int	 got;

	memset(why, 0, sizeof(why));
	got = lookup(rc, name, path, sizeof(path), why, sizeof(why));
	cr_assert_eq(got, kind, "\"%s\": %d, not %d (%s)", name, got, kind,
	    why);
	if (kind == EXIT_EXITED) {
		snprintf(want, sizeof(want), "%s/%s", dir, name);
		cr_assert_str_eq(path, want);
	} else
		cr_assert_neq(why[0], '\0', "\"%s\": no reason given", name);
}

/*
 * Looks name up, expecting kind, path (the file to run, or what was
 * refused; not checked if want is NULL) and, when why_has is not NULL,
 * that text in the reason.
 */
static void
expect_path(const struct runner_config *rc, const char *name, int kind,
    const char *want, const char *why_has)
{
	char	 path[PATH_MAX], why[512];
	int	 got;

	memset(why, 0, sizeof(why));
	memset(path, 0, sizeof(path));
	got = lookup(rc, name, path, sizeof(path), why, sizeof(why));
	cr_assert_eq(got, kind, "\"%s\": %d, not %d (%s: %s)", name, got,
	    kind, path, why);
	if (want != NULL)
		cr_assert_str_eq(path, want, "\"%s\" (%s)", name, why);
	if (why_has != NULL)
		cr_assert_not_null(strstr(why, why_has), "\"%s\": \"%s\" has "
		    "no \"%s\"", name, why, why_has);
}

TestSuite(lookup, .init = setup, .fini = teardown);

Test(lookup, user_shadows_builtin)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };

	make_file(user, "both", 0755);
	make_file(builtin, "both", 0755);
	make_file(builtin, "only-builtin", 0755);
	make_file(user, "only-user", 0700);
	expect_lookup(&rc, "both", EXIT_EXITED, user);
	expect_lookup(&rc, "only-builtin", EXIT_EXITED, builtin);
	expect_lookup(&rc, "only-user", EXIT_EXITED, user);
}

Test(lookup, not_executable)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			 path[PATH_MAX], why[512];

	make_file(user, "plain", 0644);
	make_file(builtin, "plain2", 0444);
	make_file(builtin, "setuid-noexec", 04644);
	make_dir(user, "dir");
	make_dir(builtin, "dir2");
	expect_lookup(&rc, "plain", EXIT_NOTEXEC, NULL);
	expect_lookup(&rc, "plain2", EXIT_NOTEXEC, NULL);
	expect_lookup(&rc, "setuid-noexec", EXIT_NOTEXEC, NULL);
	expect_lookup(&rc, "dir", EXIT_NOTEXEC, NULL);
	expect_lookup(&rc, "dir2", EXIT_NOTEXEC, NULL);
	cr_assert_eq(lookup(&rc, "plain", path, sizeof(path), why,
	    sizeof(why)), EXIT_NOTEXEC);
	cr_assert_str_eq(why, "not executable");
	cr_assert_not_null(strstr(path, "/user/plain"), "%s", path);
}

/* A user file that is not executable still hides the built-in. */
Test(lookup, user_not_executable_shadows)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };

	make_file(user, "cmd", 0644);
	make_file(builtin, "cmd", 0755);
	expect_lookup(&rc, "cmd", EXIT_NOTEXEC, NULL);
}

Test(lookup, missing)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			 path[PATH_MAX], why[512];

	expect_lookup(&rc, "nope", EXIT_NOTFOUND, NULL);
	cr_assert_eq(lookup(&rc, "nope", path, sizeof(path), why,
	    sizeof(why)), EXIT_NOTFOUND);
	cr_assert_not_null(strstr(why, "nope"), "%s", why);
	/* Directories that do not exist are no error. */
	rc.rc_user_dir = "/nonexistent/negotiator-test";
	rc.rc_builtin_dir = "/nonexistent/negotiator-test2";
	expect_lookup(&rc, "nope", EXIT_NOTFOUND, NULL);
}

Test(lookup, invalid_name)
{
	static const char	*names[] = { "", "../outside", "..", ".",
	    "user/../../outside", "/bin/sh", ".hidden", "a b", "\xc3\xa9" };
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			 path[64], why[512], untouched[64];
	size_t			 i;

	make_file(user, ".hidden", 0755);
	memset(untouched, 'P', sizeof(untouched));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		memcpy(path, untouched, sizeof(path));
		why[0] = '\0';
		cr_assert_eq(lookup(&rc, names[i], path, sizeof(path),
		    why, sizeof(why)), EXIT_NOTFOUND, "\"%s\"", names[i]);
		cr_assert_arr_eq(path, untouched, sizeof(path),
		    "\"%s\": path touched", names[i]);
		cr_assert_neq(why[0], '\0');
	}
}

Test(lookup, null_dirs)
{
	struct runner_config	 rc = { NULL, builtin, NULL, 0, 0, 0, 0 };

	make_file(builtin, "cmd", 0755);
	make_file(user, "user-only", 0755);
	expect_lookup(&rc, "cmd", EXIT_EXITED, builtin);
	expect_lookup(&rc, "user-only", EXIT_NOTFOUND, NULL);
	rc.rc_user_dir = user;
	rc.rc_builtin_dir = NULL;
	expect_lookup(&rc, "user-only", EXIT_EXITED, user);
	expect_lookup(&rc, "cmd", EXIT_NOTFOUND, NULL);
	rc.rc_user_dir = NULL;
	expect_lookup(&rc, "cmd", EXIT_NOTFOUND, NULL);
}

/*
 * A symbolic link to an executable is followed, and what runs is the file
 * it leads to.
 */
Test(lookup, symlink)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			 target[PATH_MAX], link[PATH_MAX];

	snprintf(target, sizeof(target), "%s/outside", top);
	snprintf(link, sizeof(link), "%s/linked", user);
	cr_assert_eq(symlink(target, link), 0);
	expect_path(&rc, "linked", EXIT_EXITED, target, NULL);
}

/* A short why buffer is filled and terminated, not overrun. */
Test(lookup, short_why)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			 path[PATH_MAX], why[12];

	memset(why, 'W', sizeof(why));
	cr_assert_eq(lookup(&rc, "nope", path, sizeof(path), why, 8),
	    EXIT_NOTFOUND);
	cr_assert_eq(strlen(why), 7);
	cr_assert_eq(why[8], 'W');
}

/* --- list ----------------------------------------------------------- */

static void
expect_list(const struct runner_config *rc, const char **want, size_t n)
{
	char	**names;
	size_t	 count = 12345, i;

	names = policy_list(rc, &count);
	cr_assert_eq(count, n, "%zu names, not %zu", count, n);
	for (i = 0; i < n; i++)
		cr_assert_str_eq(names[i], want[i], "name %zu", i);
	strv_free(names, count);
}

TestSuite(list, .init = setup, .fini = teardown);

Test(list, sorted_deduplicated_filtered)
{
	static const char	*want[] = { "-dash", "A-upper", "alpha",
	    "beta", "both", "only-builtin", "zeta" };
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			 toolong[PROTO_MAX_NAME + 2];

	memset(toolong, 'x', PROTO_MAX_NAME + 1);
	toolong[PROTO_MAX_NAME + 1] = '\0';
	make_file(user, "zeta", 0755);
	make_file(user, "beta", 0755);
	make_file(user, "both", 0755);
	make_file(user, "A-upper", 0755);
	make_file(user, "-dash", 0755);
	make_file(builtin, "alpha", 0755);
	make_file(builtin, "both", 0755);
	make_file(builtin, "only-builtin", 0755);
	/* Not listed: */
	make_file(user, ".hidden", 0755);
	make_file(builtin, ".also-hidden", 0755);
	make_file(user, "has space", 0755);
	make_file(user, "caf\xc3\xa9", 0755);
	make_file(user, toolong, 0755);
	make_file(user, "noexec", 0644);
	make_file(builtin, "noexec2", 0600);
	make_dir(user, "subdir");
	make_dir(builtin, "subdir2");
	/* A non-executable user file hides an executable built-in. */
	make_file(user, "hidden-by-user", 0644);
	make_file(builtin, "hidden-by-user", 0755);
	expect_list(&rc, want, sizeof(want) / sizeof(want[0]));
}

Test(list, empty_and_missing)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };

	expect_list(&rc, NULL, 0);
	rc.rc_user_dir = NULL;
	rc.rc_builtin_dir = NULL;
	expect_list(&rc, NULL, 0);
	rc.rc_user_dir = "/nonexistent/negotiator-test";
	expect_list(&rc, NULL, 0);
}

Test(list, one_dir)
{
	static const char	*want_user[] = { "u1", "u2" };
	static const char	*want_builtin[] = { "b1" };
	struct runner_config	 rc = { user, NULL, NULL, 0, 0, 0, 0 };

	make_file(user, "u2", 0755);
	make_file(user, "u1", 0755);
	make_file(builtin, "b1", 0755);
	expect_list(&rc, want_user, 2);
	rc.rc_user_dir = NULL;
	rc.rc_builtin_dir = builtin;
	expect_list(&rc, want_builtin, 1);
}

/*
 * More runnable names than a reply holds: the first PROTO_MAX_LIST of them
 * in sorted order, counted after a user command shadowed its built-in and
 * after the refused ones were left out.
 */
Test(list, capped_to_the_first_names)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			**names, name[16];
	size_t			 count, i;

	for (i = 0; i < PROTO_MAX_LIST + 10; i++) {
		snprintf(name, sizeof(name), "b%04zu", i);
		make_file(builtin, name, 0755);
	}
	make_file(user, "a", 0755);
	make_file(user, "b0000", 0755);		/* shadows, counted once */
	make_file(user, "b0001", 0644);		/* hides, not listed */
	names = policy_list(&rc, &count);
	cr_assert_eq(count, PROTO_MAX_LIST);
	cr_assert_str_eq(names[0], "a");
	cr_assert_str_eq(names[1], "b0000");
	cr_assert_str_eq(names[2], "b0002");
	snprintf(name, sizeof(name), "b%04d", PROTO_MAX_LIST - 1);
	cr_assert_str_eq(names[count - 1], name);
	for (i = 1; i < count; i++)
		cr_assert_lt(strcmp(names[i - 1], names[i]), 0);
	strv_free(names, count);
}

/* Every listed name is found by policy_lookup, and nothing else is. */
Test(list, agrees_with_lookup)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			**names, path[PATH_MAX], why[512];
	size_t			 count, i;

	make_file(user, "a", 0755);
	make_file(user, "b", 0644);
	make_file(builtin, "b", 0755);
	make_file(builtin, "c", 0755);
	make_dir(builtin, "d");
	names = policy_list(&rc, &count);
	cr_assert_eq(count, 2);
	for (i = 0; i < count; i++)
		cr_assert_eq(lookup(&rc, names[i], path, sizeof(path),
		    why, sizeof(why)), EXIT_EXITED);
	cr_assert_str_eq(names[0], "a");
	cr_assert_str_eq(names[1], "c");
	strv_free(names, count);
}

/* --- policy: owners, modes, links (negotiator-commands(7)) ------------ */

/* dir/name, made into buf. */
static const char *
join(char *buf, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
		cr_assert_fail("%s/%s: too long", dir, name);
	return buf;
}

/* expect_path, where the path is dir/name. */
static void
expect_in(const struct runner_config *rc, const char *dir, const char *name,
    int kind, const char *why_has)
{
	char	 p[PATH_MAX];

	expect_path(rc, name, kind, join(p, sizeof(p), dir, name), why_has);
}

TestSuite(policy, .init = setup, .fini = teardown);

Test(policy, file_writable_by_group_or_others)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };

	make_file(user, "gw", 0775);
	make_file(user, "ow", 0757);
	make_file(builtin, "both-w", 0777);
	make_file(builtin, "fine", 0755);
	expect_in(&rc, user, "gw", EXIT_NOTEXEC, "writable by its group");
	expect_in(&rc, user, "ow", EXIT_NOTEXEC, "writable by others");
	expect_in(&rc, builtin, "both-w", EXIT_NOTEXEC, "(mode 0777)");
	expect_in(&rc, builtin, "fine", EXIT_EXITED, NULL);
}

Test(policy, setuid_and_setgid)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };

	make_file(user, "suid", 04755);
	make_file(user, "sgid", 02755);
	make_file(builtin, "both", 06711);
	expect_in(&rc, user, "suid", EXIT_NOTEXEC, "set-user-ID");
	expect_in(&rc, user, "sgid", EXIT_NOTEXEC, "(mode 2755)");
	expect_in(&rc, builtin, "both", EXIT_NOTEXEC, "set-user-ID");
}

/*
 * A directory writable by others refuses everything in it, and still
 * shadows the built-ins of the same names; other names are found in the
 * built-in directory.
 */
Test(policy, directory_writable)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };

	make_file(user, "cmd", 0755);
	make_file(user, "shadow", 0755);
	make_file(builtin, "shadow", 0755);
	make_file(builtin, "other", 0755);
	cr_assert_eq(chmod(user, 0777), 0);
	expect_path(&rc, "cmd", EXIT_NOTEXEC, user, "writable by others");
	expect_path(&rc, "shadow", EXIT_NOTEXEC, user, "writable by others");
	expect_in(&rc, builtin, "other", EXIT_EXITED, NULL);
	cr_assert_eq(chmod(user, 0775), 0);
	expect_path(&rc, "cmd", EXIT_NOTEXEC, user, "writable by its group");
	/* Sticky like /tmp is no better: others may still add files. */
	cr_assert_eq(chmod(user, 01777), 0);
	expect_path(&rc, "cmd", EXIT_NOTEXEC, user, "(mode 1777)");
	cr_assert_eq(chmod(user, 0755), 0);
	expect_in(&rc, user, "cmd", EXIT_EXITED, NULL);
	/* A set-group-ID directory is fine: it only passes its group on. */
	cr_assert_eq(chmod(user, 02755), 0);
	expect_in(&rc, user, "cmd", EXIT_EXITED, NULL);
}

/* Files and directories of another user are refused (needs root). */
Test(policy, owner)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			 p[PATH_MAX];

	if (geteuid() != 0)
		cr_skip_test("chown needs root");
	make_file(user, "theirs", 0755);
	cr_assert_eq(chown(join(p, sizeof(p), user, "theirs"), 4321, 0), 0);
	/* chown(2) clears the mode bits a refusal would report; reset. */
	cr_assert_eq(chmod(p, 0755), 0);
	expect_path(&rc, "theirs", EXIT_NOTEXEC, p, "owned by uid 4321");
	/* Group ownership alone is no matter: only writability is. */
	make_file(user, "group", 0755);
	cr_assert_eq(chown(join(p, sizeof(p), user, "group"), 0, 4321), 0);
	expect_path(&rc, "group", EXIT_EXITED, p, NULL);
	make_file(builtin, "in-theirs", 0755);
	cr_assert_eq(chown(builtin, 4321, 4321), 0);
	expect_path(&rc, "in-theirs", EXIT_NOTEXEC, builtin,
	    "owned by uid 4321");
}

/* Links: each directory on the way, and the file at the end, are checked. */
Test(policy, symlinks)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			 p[PATH_MAX], q[PATH_MAX], wdir[PATH_MAX];
	char			 good[PATH_MAX];

	/* Into a directory others may write: refused, wherever it leads. */
	snprintf(wdir, sizeof(wdir), "%s/wdir", top);
	make_dir(top, "wdir");
	make_file(wdir, "tool", 0755);
	cr_assert_eq(chmod(wdir, 0777), 0);
	cr_assert_eq(symlink(join(p, sizeof(p), wdir, "tool"),
	    join(q, sizeof(q), user, "to-wdir")), 0);
	expect_path(&rc, "to-wdir", EXIT_NOTEXEC, wdir, "writable by others");

	/* Two hops, the second into that directory: refused too. */
	snprintf(good, sizeof(good), "%s/good", top);
	make_dir(top, "good");
	cr_assert_eq(symlink(join(p, sizeof(p), wdir, "tool"),
	    join(q, sizeof(q), good, "hop")), 0);
	cr_assert_eq(symlink(q, join(p, sizeof(p), user, "two-hops")), 0);
	expect_path(&rc, "two-hops", EXIT_NOTEXEC, wdir, "writable by others");

	/* Relative, into a good directory, to a good file: followed. */
	make_file(good, "ok", 0755);
	cr_assert_eq(symlink("../good/ok", join(p, sizeof(p), user, "rel")),
	    0);
	expect_path(&rc, "rel", EXIT_EXITED, join(q, sizeof(q), good, "ok"),
	    NULL);

	/* To a file that fails the file checks: refused, that file named. */
	make_file(good, "writable", 0757);
	make_file(good, "setuid", 04755);
	cr_assert_eq(symlink(join(p, sizeof(p), good, "writable"),
	    join(q, sizeof(q), user, "to-writable")), 0);
	expect_path(&rc, "to-writable", EXIT_NOTEXEC, p, "writable by others");
	cr_assert_eq(symlink(join(p, sizeof(p), good, "setuid"),
	    join(q, sizeof(q), builtin, "to-setuid")), 0);
	expect_path(&rc, "to-setuid", EXIT_NOTEXEC, p, "set-user-ID");

	/* To a directory: refused. */
	cr_assert_eq(symlink(good, join(p, sizeof(p), user, "to-dir")), 0);
	expect_path(&rc, "to-dir", EXIT_NOTEXEC, good, "not a regular file");
}

Test(policy, symlink_loops_and_dangling)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			 p[PATH_MAX], q[PATH_MAX];

	cr_assert_eq(symlink("loop-b", join(p, sizeof(p), user, "loop-a")),
	    0);
	cr_assert_eq(symlink("loop-a", join(p, sizeof(p), user, "loop-b")),
	    0);
	memset(q, 0, sizeof(q));
	cr_assert_eq(lookup(&rc, "loop-a", q, sizeof(q), p, sizeof(p)),
	    EXIT_NOTEXEC);
	cr_assert_not_null(strstr(p, "more than 8 symbolic links"), "%s", p);
	/* A link to nothing is no command: the built-in is found. */
	cr_assert_eq(symlink("/nonexistent/negotiator-test",
	    join(p, sizeof(p), user, "dangling")), 0);
	make_file(builtin, "dangling", 0755);
	expect_in(&rc, builtin, "dangling", EXIT_EXITED, NULL);
	cr_assert_eq(symlink("/nonexistent/negotiator-test",
	    join(p, sizeof(p), user, "nothing")), 0);
	expect_path(&rc, "nothing", EXIT_NOTFOUND, NULL, "no such command");
}

/*
 * A link to a program that passes the checks, such as /bin/sh, is
 * followed: only root can put it there, and that is root's choice.
 */
Test(policy, link_to_system_program)
{
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			 p[PATH_MAX], *real;

	if ((real = realpath("/bin/sh", NULL)) == NULL)
		cr_skip_test("no /bin/sh");
	cr_assert_eq(symlink("/bin/sh", join(p, sizeof(p), user, "sh")), 0);
	expect_path(&rc, "sh", EXIT_EXITED, real, NULL);
	free(real);
}

/* Refused commands are not listed either. */
Test(policy, list_leaves_out_refused)
{
	static const char	*want[] = { "fine", "in-builtin" };
	struct runner_config	 rc = { user, builtin, NULL, 0, 0, 0, 0 };
	char			**names;
	size_t			 count;

	make_file(user, "fine", 0755);
	make_file(user, "writable", 0775);
	make_file(user, "suid", 04755);
	make_file(builtin, "in-builtin", 0755);
	expect_list(&rc, want, 2);
	cr_assert_eq(chmod(builtin, 0777), 0);
	names = policy_list(&rc, &count);
	cr_assert_eq(count, 1);
	cr_assert_str_eq(names[0], "fine");
	strv_free(names, count);
}

Test(policy, check_dir)
{
	char	 why[256], p[PATH_MAX];

	cr_assert_eq(policy_check_dir(user, why, sizeof(why)), 0);
	make_file(user, "file", 0755);
	cr_assert_eq(policy_check_dir(join(p, sizeof(p), user, "file"), why,
	    sizeof(why)), -1);
	cr_assert_str_eq(why, "not a directory");
	cr_assert_eq(policy_check_dir("/nonexistent/negotiator-test", why,
	    sizeof(why)), -1);
	cr_assert_str_eq(why, "No such file or directory");
}

/*
 * Every directory from / down to the commands directory is checked, not
 * only the commands directory: TOP/anc/cmds, with anc changed each time.
 */
Test(policy, ancestors)
{
	char			 anc[PATH_MAX], cmds[PATH_MAX], p[PATH_MAX];
	struct runner_config	 rc = { cmds, NULL, NULL, 0, 0, 0, 0 };
	char			 why[256];

	make_dir(top, "anc");
	join(anc, sizeof(anc), top, "anc");
	make_dir(anc, "cmds");
	join(cmds, sizeof(cmds), anc, "cmds");
	make_file(cmds, "cmd", 0755);
	expect_in(&rc, cmds, "cmd", EXIT_EXITED, NULL);
	cr_assert_eq(policy_check_dir(cmds, why, sizeof(why)), 0, "%s", why);

	/* Writable by its group or by others, above: refused, named. */
	cr_assert_eq(chmod(anc, 0775), 0);
	expect_path(&rc, "cmd", EXIT_NOTEXEC, anc, "writable by its group");
	cr_assert_eq(policy_check_dir(cmds, why, sizeof(why)), -1);
	cr_assert_eq(chmod(anc, 0757), 0);
	expect_path(&rc, "cmd", EXIT_NOTEXEC, anc, "writable by others");
	/*
	 * Sticky, like /tmp: passed through (others cannot rename or remove
	 * what is ours there); never as the commands directory itself.
	 */
	cr_assert_eq(chmod(anc, 01777), 0);
	expect_in(&rc, cmds, "cmd", EXIT_EXITED, NULL);
	cr_assert_eq(chmod(cmds, 01777), 0);
	expect_path(&rc, "cmd", EXIT_NOTEXEC, cmds, "(mode 1777)");
	cr_assert_eq(chmod(cmds, 0755), 0);
	cr_assert_eq(chmod(anc, 0755), 0);

	if (geteuid() != 0)
		cr_skip_test("chown needs root");
	/* Someone else's, above: refused, whatever its mode. */
	cr_assert_eq(chown(anc, 4321, 4321), 0);
	cr_assert_eq(chmod(anc, 0755), 0);
	expect_path(&rc, "cmd", EXIT_NOTEXEC, anc, "owned by uid 4321");
	cr_assert_eq(policy_check_dir(cmds, why, sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "owned by uid 4321"), "%s", why);
	/*
	 * ... and, the attack of issue 18, swapped by its owner for a link
	 * to /usr/bin: refused before the link is looked at.
	 */
	cr_assert_eq(rename(cmds, join(p, sizeof(p), anc, "old")), 0);
	cr_assert_eq(symlink("/usr/bin", cmds), 0);
	expect_path(&rc, "sh", EXIT_NOTEXEC, anc, "owned by uid 4321");
}

/* Links on the way to the commands directory are walked and checked too. */
Test(policy, links_above)
{
	char			 real[PATH_MAX], cmds[PATH_MAX], p[PATH_MAX];
	char			 sticky[PATH_MAX], want[PATH_MAX + 64];
	struct runner_config	 rc = { cmds, NULL, NULL, 0, 0, 0, 0 };

	make_dir(top, "real");
	join(real, sizeof(real), top, "real");
	make_dir(real, "cmds");
	make_file(join(p, sizeof(p), real, "cmds"), "cmd", 0755);
	/* TOP/via -> real: followed, the real path reported. */
	cr_assert_eq(symlink("real", join(p, sizeof(p), top, "via")), 0);
	snprintf(cmds, sizeof(cmds), "%s/via/cmds", top);
	snprintf(want, sizeof(want), "%s/cmds/cmd", real);
	expect_path(&rc, "cmd", EXIT_EXITED, want, NULL);
	/* TOP/via2 -> via/../real/./cmds: each step taken as the kernel would. */
	cr_assert_eq(symlink("via/../real/./cmds", join(p, sizeof(p), top,
	    "via2")), 0);
	snprintf(cmds, sizeof(cmds), "%s/via2", top);
	snprintf(want, sizeof(want), "%s/cmds/cmd", real);
	expect_path(&rc, "cmd", EXIT_EXITED, want, NULL);
	/* Into a directory others may write, above the commands: refused. */
	cr_assert_eq(chmod(real, 0777), 0);
	expect_path(&rc, "cmd", EXIT_NOTEXEC, real, "writable by others");
	cr_assert_eq(chmod(real, 0755), 0);

	/* A command's link into a sticky directory: its file is refused. */
	make_dir(top, "sticky");
	join(sticky, sizeof(sticky), top, "sticky");
	make_file(sticky, "tool", 0755);
	cr_assert_eq(chmod(sticky, 01777), 0);
	snprintf(cmds, sizeof(cmds), "%s/real/cmds", top);
	cr_assert_eq(symlink(join(p, sizeof(p), sticky, "tool"),
	    join(real, sizeof(real), cmds, "to-sticky")), 0);
	expect_path(&rc, "to-sticky", EXIT_NOTEXEC, sticky,
	    "sticky is not enough");
	if (geteuid() != 0)
		cr_skip_test("lchown needs root");
	/* A link someone else owns, in a sticky directory: refused. */
	make_dir(sticky, "sub");
	make_file(join(p, sizeof(p), sticky, "sub"), "tool", 0755);
	cr_assert_eq(symlink("sub", join(p, sizeof(p), sticky, "theirs")), 0);
	cr_assert_eq(lchown(p, 4321, 4321), 0);
	cr_assert_eq(symlink(join(real, sizeof(real), sticky, "theirs/tool"),
	    join(p, sizeof(p), cmds, "via-theirs")), 0);
	snprintf(want, sizeof(want), "%s/theirs", sticky);
	expect_path(&rc, "via-theirs", EXIT_NOTEXEC, want, "owned by uid 4321");
}

/* --- the ceiling on timeouts ----------------------------------------- */

Test(timeout, ceiling)
{
	struct runner_config	 rc = { user, builtin, NULL,
				    RUNNER_HOST_MAX_TIMEOUT_MS, 0, 0, 0 };

	cr_assert_eq(RUNNER_HOST_MAX_TIMEOUT_MS, 600000);
	cr_assert_eq(runner_timeout(&rc, 0), 600000, "none is cut too");
	cr_assert_eq(runner_timeout(&rc, UINT32_MAX), 600000);
	cr_assert_eq(runner_timeout(&rc, 600001), 600000);
	cr_assert_eq(runner_timeout(&rc, 600000), 600000);
	cr_assert_eq(runner_timeout(&rc, 1), 1);
	cr_assert_eq(runner_timeout(&rc, 10000), 10000);
	rc.rc_max_timeout_ms = 0;	/* no ceiling */
	cr_assert_eq(runner_timeout(&rc, 0), 0);
	cr_assert_eq(runner_timeout(&rc, UINT32_MAX), UINT32_MAX);
	rc.rc_max_timeout_ms = 1;
	cr_assert_eq(runner_timeout(&rc, 0), 1);
	cr_assert_eq(runner_timeout(&rc, 2), 1);
}

/* --- directories ---------------------------------------------------- */

Test(dir, absolute_and_relative)
{
	char		 cwd[PATH_MAX];
	const char	*abs = "/some/absolute/dir", *got;

	cr_assert_eq(policy_dir(abs), abs);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	got = policy_dir(".");
	cr_assert_str_eq(got, cwd);
	free((char *)got);
}
