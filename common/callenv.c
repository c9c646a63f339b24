/*
 * The per-call environment.  A command starts with the daemon's clean
 * environment (runner.c) plus what its caller asked for with --env; the
 * receiving daemon checks every variable, whatever the CLI checked, since
 * the caller may be anything that speaks the protocol.  Refused are the
 * names that change what runs before the command's own code does, or how:
 * the dynamic loader's and libc's, the shells' start-up and tracing
 * variables, and the interpreters' option and library paths, once, here.
 */
#include <stdio.h>
#include <string.h>

#include "callenv.h"
#include "log.h"
#include "proto.h"
#include "util.h"

/* Names refused whole, and names refused by their start. */
static const char *const callenv_refused[] = {
	/* Set by the daemon (runner.c). */
	"PATH", "HOME", "SHELL", "LANG",
	/* libc and the loader. */
	"GLIBC_TUNABLES", "GCONV_PATH", "LOCPATH", "NLSPATH", "HOSTALIASES",
	"RES_OPTIONS", "LOCALDOMAIN", "TZDIR",
	/* Shells: read at start, or they run code. */
	"BASH_ENV", "ENV", "IFS", "PS4", "SHELLOPTS", "BASHOPTS", "CDPATH",
	"GLOBIGNORE", "PROMPT_COMMAND", "ZDOTDIR", "POSIXLY_CORRECT",
	/* Interpreters. */
	"NODE_OPTIONS", "NODE_PATH", "RUBYOPT", "RUBYLIB", "JAVA_TOOL_OPTIONS",
	"_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "LUA_INIT", "LUA_PATH",
	"LUA_CPATH", "TCLLIBPATH", "PHPRC", "PHP_INI_SCAN_DIR",
};
static const char *const callenv_refused_prefix[] = {
	"LD_", "MALLOC_", "PYTHON", "PERL5", "PERL_", "BASH_FUNC_",
	"NEGOTIATOR_",
};

static int
callenv_name_ok(const char *var, size_t len)
{
	size_t	 i;

	if (len == 0 || (var[0] >= '0' && var[0] <= '9'))
		return 0;
	for (i = 0; i < len; i++)
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_", var[i]) == NULL)
			return 0;
	return 1;
}

int
callenv_check(const char *var, char *why, size_t whylen)
{
	char		 raw[65], name[LOG_VIS_SIZE(64)];
	const char	*eq = strchr(var, '=');
	size_t		 i, len = eq == NULL ? strlen(var) : (size_t)(eq - var);

	/* What the line names: the name, cut to 64 bytes, made visible. */
	memcpy(raw, var, len < 64 ? len : 64);
	raw[len < 64 ? len : 64] = '\0';
	log_vis(name, sizeof(name), raw);
	if (eq == NULL) {
		snprintf(why, whylen, "--env %s: not NAME=VALUE", name);
		return -1;
	}
	if (!callenv_name_ok(var, len)) {
		snprintf(why, whylen, "--env %s: not a variable name "
		    "([A-Za-z_][A-Za-z0-9_]*)", name);
		return -1;
	}
	if (strlen(var) > PROTO_MAX_ENV_SIZE) {
		snprintf(why, whylen, "--env %s: more than %d bytes",
		    name, PROTO_MAX_ENV_SIZE);
		return -1;
	}
	for (i = 0; i < sizeof(callenv_refused) / sizeof(*callenv_refused);
	    i++)
		if (strlen(callenv_refused[i]) == len &&
		    strncmp(var, callenv_refused[i], len) == 0)
			goto refused;
	for (i = 0; i < sizeof(callenv_refused_prefix) /
	    sizeof(*callenv_refused_prefix); i++)
		if (strncmp(var, callenv_refused_prefix[i],
		    strlen(callenv_refused_prefix[i])) == 0)
			goto refused;
	return 0;
refused:
	snprintf(why, whylen, "--env %s: refused: a name the loader, a shell "
	    "or the daemon sets or reads at start (negotiator-commands(7))",
	    name);
	return -1;
}

int
callenv_check_all(char * const *env, size_t n, char *why, size_t whylen)
{
	size_t	 i, j, len;

	if (n > PROTO_MAX_ENV) {
		snprintf(why, whylen, "--env: %zu variables (at most %d)", n,
		    PROTO_MAX_ENV);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (callenv_check(env[i], why, whylen) == -1)
			return -1;
		len = strcspn(env[i], "=") + 1;
		for (j = 0; j < i; j++)
			if (strncmp(env[i], env[j], len) == 0) {
				/* A valid name: no need to make it visible. */
				snprintf(why, whylen, "--env %.*s: given twice",
				    (int)(len - 1), env[i]);
				return -1;
			}
	}
	return 0;
}

int
callenv_attach(struct proto_msg *m, char * const *env, size_t n)
{
	size_t	 i, total = 0;

	if (m->m_type != MSG_OPEN || m->m.open.op_envv != NULL)
		fatalx("%s: not a fresh OPEN", __func__);
	/* 5 bytes of msgpack around each string at most. */
	for (i = 0; i < m->m.open.op_argc; i++)
		total += strlen(m->m.open.op_argv[i]) + 5;
	for (i = 0; i < n; i++)
		total += strlen(env[i]) + 5;
	if (total > CALLENV_MAX_BYTES)
		return -1;
	m->m.open.op_envv = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		m->m.open.op_envv[i] = xstrdup(env[i]);
	m->m.open.op_envc = n;
	return 0;
}
