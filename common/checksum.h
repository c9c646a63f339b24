/*
 * checksum.c: the two checks of a frame (proto.h), from zlib and libxxhash.
 */
#ifndef CHECKSUM_H
#define CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/*
 * The check field of a frame whose first 16 header bytes are hdr (type
 * included) and whose payload is (payload, plen): CRC-32 of both, of a
 * DATA payload's first PROTO_DATA_HEAD bytes only.
 */
uint32_t checksum_frame(const uint8_t *hdr, const void *payload, size_t plen);
/*
 * The hcheck field of a header whose first PROTO_HDR_CHECKED bytes are hdr:
 * the low 32 bits of XXH3-64 of them, seeded with PROTO_MAGIC.
 */
uint32_t checksum_header(const uint8_t *hdr);

#endif /* CHECKSUM_H */
