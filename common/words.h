/* words.c: a command line split into words, and vectors of strings freed. */
#ifndef WORDS_H
#define WORDS_H

#include <stddef.h>

/*
 * words.c: splits s like a POSIX shell (quotes, backslashes, no
 * expansion) into a NULL-terminated vector of *count >= 1 words.  Returns
 * NULL with *error set on unbalanced quotes or when there is no word.
 * Free the vector with strv_free().
 */
char	**words_split(const char *s, size_t *count, const char **error);
/* Frees the first n strings of v, then v (any vector of strings). */
void	 strv_free(char **v, size_t n);

#endif /* WORDS_H */
