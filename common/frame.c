/*
 * Framing (proto.h): a frame's header and checks around a payload, and
 * the reader that finds frames in a byte stream, resynchronising after
 * garbage or a frame cut short.  What a payload holds is proto.c's (the
 * message codec); what the checks are is checksum.c's.  It implements
 * proto.h's proto_parse, proto_data_head, proto_put_be32 and
 * proto_bytes_examined, whose contracts (and the cost of decoding,
 * whatever a peer sends) are written there.  Pure: no I/O.
 */
#include <sys/endian.h>

#include <string.h>

#include "checksum.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "util.h"

uint32_t
frame_seal(uint8_t *hdr, uint16_t type, uint32_t tag, size_t plen,
    size_t checked)
{
	uint32_t	 hcheck;

	be32enc(hdr, PROTO_MAGIC);
	hdr[4] = type >> 8;
	hdr[5] = type & 0xff;
	hdr[6] = hdr[7] = 0;
	be32enc(hdr + 8, tag);
	be32enc(hdr + 12, (uint32_t)plen);
	be32enc(hdr + 16, checksum_frame(hdr, hdr + PROTO_HDR_LEN,
	    checked));
	hcheck = checksum_header(hdr);
	be32enc(hdr + PROTO_HDR_CHECKED, hcheck);
	return hcheck;
}

void
proto_put_be32(struct buf *out, uint32_t v)
{
	be32enc(buf_reserve(out, 4), v);
	buf_commit(out, 4);
}

uint32_t
proto_data_head(uint8_t *p, uint32_t tag, uint32_t id, uint32_t stream,
    size_t len)
{
	if (len > PROTO_MAX_DATA)
		fatalx("%s: %zu bytes", __func__, len);
	be32enc(p + PROTO_HDR_LEN, id);
	be32enc(p + PROTO_HDR_LEN + 4, stream);
	return ~frame_seal(p, MSG_DATA, tag,
	    PROTO_DATA_HEAD + len + PROTO_DATA_TRAILER, PROTO_DATA_HEAD);
}

/*
 * 1 if the frame at p, whose header (already found intact) says plen
 * payload bytes, is intact: its check, and a DATA frame's trailer
 * (proto.h).
 */
static int
frame_intact(const uint8_t *p, uint32_t plen)
{
	if (checksum_frame(p, p + PROTO_HDR_LEN, plen) != be32dec(p + 16))
		return 0;
	if (((uint16_t)p[4] << 8 | p[5]) != MSG_DATA)
		return 1;
	return plen >= PROTO_DATA_HEAD + PROTO_DATA_TRAILER &&
	    be32dec(p + PROTO_HDR_LEN + plen - PROTO_DATA_TRAILER) ==
	    ~be32dec(p + PROTO_HDR_CHECKED);
}

/*
 * The request id of a payload that could not be decoded, read from its raw
 * bytes: an array whose first item is an unsigned integer of at most 32
 * bits.  0 and *id if it can be read, else -1.
 */
static int
raw_request_id(const uint8_t *p, size_t len, uint32_t *id)
{
	size_t	 off, w, k;
	uint32_t v = 0;

	if (len < 2)
		return -1;
	if (p[0] >= 0x91 && p[0] <= 0x9f)
		off = 1;
	else if (p[0] == 0xdc && len >= 4)
		off = 3;
	else if (p[0] == 0xdd && len >= 6)
		off = 5;
	else
		return -1;
	if (p[off] <= 0x7f) {
		*id = p[off];
		return 0;
	}
	if (p[off] < 0xcc || p[off] > 0xce)
		return -1;
	w = (size_t)1 << (p[off] - 0xcc);
	if (len - off - 1 < w)
		return -1;
	for (k = 0; k < w; k++)
		v = v << 8 | p[off + 1 + k];
	*id = v;
	return 0;
}

static int
is_request(uint16_t type)
{
	return type == MSG_OPEN || type == MSG_PING || type == MSG_LIST ||
	    type == MSG_GUESTS;
}

/* Statistics only: decoding never reads it (proto_bytes_examined). */
static uint64_t	 proto_examined;

uint64_t
proto_bytes_examined(void)
{
	return proto_examined;
}

/*
 * The first magic in (p, len), or NULL.  memchr(3) (vectorised) finds a
 * first byte of the magic; after a false one, the next 64 bytes are looked
 * at in a plain loop before memchr is called again, so that garbage costs
 * a fraction of a nanosecond a byte, and "NNNN..." not a call a byte.
 */
static const uint8_t *
find_magic(const uint8_t *p, size_t len)
{
	const uint8_t	*last, *q, *stop;

	if (len < 4)
		return NULL;
	last = p + len - 3;
	while (p < last) {
		if ((q = memchr(p, PROTO_MAGIC >> 24, (size_t)(last - p))) ==
		    NULL)
			return NULL;
		stop = last - q > 64 ? q + 64 : last;
		for (; q < stop; q++)
			if (*q == PROTO_MAGIC >> 24 &&
			    be32dec(q) == PROTO_MAGIC)
				return q;
		p = q;
	}
	return NULL;
}

/* Turns a frame that is intact but not acceptable into PARSE_REFUSED. */
static enum proto_parse
refuse(const uint8_t *bytes, size_t avail, struct proto_msg *msg,
    const char *why_bad, const char **why)
{
	uint16_t	 type = (uint16_t)(bytes[4] << 8 | bytes[5]);
	uint32_t	 id;

	*why = why_bad;
	if (!is_request(type) || raw_request_id(bytes + PROTO_HDR_LEN,
	    avail - PROTO_HDR_LEN, &id) == -1)
		return PARSE_BAD;
	memset(msg, 0, sizeof(*msg));
	msg->m_type = type;
	msg->m_tag = be32dec(bytes + 8);
	if (type == MSG_OPEN)
		msg->m.open.op_id = id;
	else
		msg->m.query.qu_id = id;
	return PARSE_REFUSED;
}

enum proto_parse
proto_parse(const uint8_t *bytes, size_t len, struct proto_msg *msg,
    size_t *consumed, const char **why)
{
	uint32_t	 plen;
	const uint8_t	*magic;
	size_t		 avail, off, looked;

	/*
	 * Skip to the first header that passes its own check, or to the
	 * tail that may start one: a magic in garbage costs 20 bytes of CRC
	 * and no more, and since the magic cannot overlap itself, the next
	 * candidate is at least 4 bytes on.  All of it in one call, so that
	 * garbage made of candidates costs no more than a call per read.
	 */
	*why = "garbage before frame";
	for (off = 0;;) {
		magic = find_magic(bytes + off, len - off);
		proto_examined += (magic == NULL ? len : (size_t)(magic -
		    bytes) + 4) - off;
		if (magic == NULL) {
			/* Keep a tail that may be the start of a magic. */
			*consumed = len > 3 && len - 3 > off ? len - 3 : off;
			return *consumed == 0 ? PARSE_INCOMPLETE : PARSE_BAD;
		}
		off = (size_t)(magic - bytes);
		if (len - off < PROTO_HDR_LEN) {
			*consumed = off;
			return off == 0 ? PARSE_INCOMPLETE : PARSE_BAD;
		}
		/*
		 * Flags are 0, which also means no candidate with them
		 * hashed has another magic within 8 bytes.
		 */
		proto_examined += 4;
		if (magic[6] == 0 && magic[7] == 0) {
			proto_examined += PROTO_HDR_CHECKED;
			if (checksum_header(magic) ==
			    be32dec(magic + PROTO_HDR_CHECKED))
				break;
		}
		*why = "bad frame header";
		off += 4;
	}
	if (off > 0) {
		*consumed = off;
		return PARSE_BAD;
	}
	plen = be32dec(bytes + 12);
	if (plen > PROTO_MAX_PAYLOAD) {
		/*
		 * Never buffered.  A request's id is in its first bytes: wait
		 * for those (at most PROTO_ID_PEEK) so that it gets an answer;
		 * the rest of the frame is skipped as garbage.
		 */
		avail = len - PROTO_HDR_LEN < PROTO_ID_PEEK ?
		    len - PROTO_HDR_LEN : PROTO_ID_PEEK;
		if (avail < PROTO_ID_PEEK &&
		    is_request((uint16_t)(bytes[4] << 8 | bytes[5])))
			return PARSE_INCOMPLETE;
		*consumed = PROTO_HDR_LEN;
		return refuse(bytes, PROTO_HDR_LEN + avail, msg,
		    "frame beyond the payload limit", why);
	}
	if (len < PROTO_HDR_LEN + plen)
		return PARSE_INCOMPLETE;
	/*
	 * The header is intact, so its length is trusted: a frame that
	 * fails its check is skipped whole, and nothing inside it is ever
	 * searched for another frame.
	 */
	*consumed = PROTO_HDR_LEN + plen;
	/* A DATA frame's bytes are neither checked nor decoded (proto.h). */
	looked = (uint16_t)(bytes[4] << 8 | bytes[5]) != MSG_DATA ? plen :
	    plen < PROTO_DATA_HEAD + PROTO_DATA_TRAILER ? plen :
	    PROTO_DATA_HEAD + PROTO_DATA_TRAILER;
	proto_examined += looked;
	if (!frame_intact(bytes, plen)) {
		*why = "bad checksum";
		return PARSE_BAD;
	}
	proto_examined += looked;
	if (proto_unpack((uint16_t)(bytes[4] << 8 | bytes[5]),
	    bytes + PROTO_HDR_LEN, plen, msg, why) == -1)
		return refuse(bytes, PROTO_HDR_LEN + plen, msg, *why, why);
	msg->m_tag = be32dec(bytes + 8);
	return PARSE_OK;
}
