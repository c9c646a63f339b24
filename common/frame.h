/*
 * frame.c: the frame around a payload.  The reader and the DATA header
 * are declared in proto.h with the wire format (proto_parse,
 * proto_data_head, proto_put_be32, proto_bytes_examined); this is what
 * the codec (proto.c) needs besides.
 */
#ifndef FRAME_H
#define FRAME_H

#include <stddef.h>
#include <stdint.h>

/*
 * Fills in the header at hdr of a frame of plen payload bytes, whose first
 * checked payload bytes follow it already; returns its hcheck.
 */
uint32_t frame_seal(uint8_t *hdr, uint16_t type, uint32_t tag, size_t plen,
	    size_t checked);

#endif /* FRAME_H */
