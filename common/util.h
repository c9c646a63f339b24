/*
 * Small shared utilities, prototypes grouped by file: xmalloc.c
 * (allocation that cannot fail) and buf.c (byte buffers).
 */
#ifndef UTIL_H
#define UTIL_H

#include <stddef.h>
#include <stdint.h>

/* xmalloc.c: these never return NULL; they abort on exhaustion. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);

/* buf.c: a growable byte buffer; bytes [b_off, b_len) are pending. */
struct buf {
	uint8_t	*b_data;
	size_t	 b_off;
	size_t	 b_len;
	size_t	 b_cap;
};

#define buf_pending(b)	((b)->b_len - (b)->b_off)
#define buf_head(b)	((b)->b_data + (b)->b_off)

void	 buf_append(struct buf *, const void *, size_t);
/* Returns room for n more bytes at the tail; buf_commit(b, n) then. */
uint8_t	*buf_reserve(struct buf *, size_t n);
void	 buf_commit(struct buf *, size_t n);
void	 buf_consume(struct buf *, size_t n);
void	 buf_clear(struct buf *);
void	 buf_free(struct buf *);

#endif /* UTIL_H */
