/*
 * Byte buffers for framing and send queues.  Consumed bytes are reclaimed
 * lazily: the pending region moves to the front only when room is needed.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"

uint8_t *
buf_reserve(struct buf *b, size_t n)
{
	size_t	 pending = buf_pending(b);

	if (b->b_cap - b->b_len >= n)
		return b->b_data + b->b_len;
	if (b->b_off > 0) {
		memmove(b->b_data, buf_head(b), pending);
		b->b_off = 0;
		b->b_len = pending;
		if (b->b_cap - b->b_len >= n)
			return b->b_data + b->b_len;
	}
	while (b->b_cap - b->b_len < n)
		b->b_cap = b->b_cap ? b->b_cap * 2 : 4096;
	b->b_data = xreallocarray(b->b_data, b->b_cap, 1);
	return b->b_data + b->b_len;
}

void
buf_commit(struct buf *b, size_t n)
{
	b->b_len += n;
}

void
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	memcpy(buf_reserve(b, n), p, n);
	buf_commit(b, n);
}

void
buf_consume(struct buf *b, size_t n)
{
	b->b_off += n;
	if (b->b_off == b->b_len)
		b->b_off = b->b_len = 0;
	/* Give back memory once a burst has drained. */
	if (b->b_len == 0 && b->b_cap > 1024 * 1024) {
		free(b->b_data);
		b->b_data = NULL;
		b->b_cap = 0;
	}
}

void
buf_clear(struct buf *b)
{
	b->b_off = b->b_len = 0;
}

void
buf_free(struct buf *b)
{
	free(b->b_data);
	memset(b, 0, sizeof(*b));
}
