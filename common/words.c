/*
 * Word vectors: a command line split into words the way a POSIX shell
 * does, without any expansion (blanks separate words; single quotes keep
 * everything literally; double quotes keep everything but \" \\ \$ \` and
 * backslash-newline; outside quotes a backslash keeps the next character),
 * and the freeing of any such vector of strings.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "words.h"

char **
words_split(const char *s, size_t *count, const char **error)
{
	char	**words = NULL, *w = xmalloc(strlen(s) + 1);
	size_t	 n = 0, len = 0;
	int	 in_word = 0;
	char	 q = 0;

	for (; *s != '\0'; s++) {
		if (q == '\'') {
			if (*s == '\'')
				q = 0;
			else
				w[len++] = *s;
			continue;
		}
		if (*s == '\\') {
			if (s[1] == '\0')
				break;	/* a trailing backslash is dropped */
			s++;
			if (*s == '\n')
				continue;	/* a line continuation */
			if (q == '"' && strchr("\"\\$`", *s) == NULL)
				w[len++] = '\\';
			w[len++] = *s;
			in_word = 1;
			continue;
		}
		if (q == '"') {
			if (*s == '"')
				q = 0;
			else
				w[len++] = *s;
			continue;
		}
		if (*s == '\'' || *s == '"') {
			q = *s;
			in_word = 1;
		} else if (*s == ' ' || *s == '\t' || *s == '\n') {
			if (in_word) {
				w[len] = '\0';
				words = xreallocarray(words, n + 2,
				    sizeof(*words));
				words[n++] = xstrdup(w);
				len = 0;
				in_word = 0;
			}
		} else {
			w[len++] = *s;
			in_word = 1;
		}
	}
	if (q != 0) {
		*error = q == '"' ? "unbalanced double quote" :
		    "unbalanced single quote";
		free(w);
		strv_free(words, n);
		return NULL;
	}
	if (in_word) {
		w[len] = '\0';
		words = xreallocarray(words, n + 2, sizeof(*words));
		words[n++] = xstrdup(w);
	}
	free(w);
	if (n == 0) {
		*error = "no command given";
		return NULL;
	}
	words[n] = NULL;
	*count = n;
	return words;
}

void
strv_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}
