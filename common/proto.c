/*
 * The message codec of the wire protocol of proto.h: each message type's
 * payload to msgpack and back (DATA's fixed layout included).  This is the
 * only file that includes <msgpack.h>.  Decoders check every field of a
 * peer's message here, once: lengths, ranges, string contents; what they
 * return can be used without further checks.  The frame around a payload
 * and the reader of a byte stream are frame.c's, the checks checksum.c's.
 * Over 500 lines because one message type is a case in each of its
 * switches and a checked field apiece: split by message, the checks of a
 * peer's input would be spread over files.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "frame.h"
#include "log.h"
#include "proto.h"
#include "util.h"

/*
 * Payload layouts: a msgpack array of exactly this many fields, except for
 * DATA (proto.h).
 */
static const struct {
	uint16_t	 type;
	const char	*name;
	uint32_t	 fields;
} proto_types[] = {
	{ MSG_HELLO,		"HELLO",	3 },	/* version nonce name */
	{ MSG_HELLO_ACK,	"HELLO_ACK",	4 },	/* ... echo */
	{ MSG_PING,		"PING",		2 },	/* id target */
	{ MSG_PONG,		"PONG",		1 },	/* id */
	/* id target timeout flags argv env */
	{ MSG_OPEN,		"OPEN",		6 },
	{ MSG_DATA,		"DATA",		0 },	/* not msgpack */
	{ MSG_CREDIT,		"CREDIT",	3 },	/* id stream bytes */
	{ MSG_CANCEL,		"CANCEL",	1 },	/* id */
	{ MSG_EXIT,		"EXIT",		4 },	/* id kind code message */
	{ MSG_LIST,		"LIST",		2 },	/* id target */
	{ MSG_LIST_REPLY,	"LIST_REPLY",	2 },	/* id names */
	{ MSG_GUESTS,		"GUESTS",	3 },	/* id target start */
	/* id names state quiet total version calls */
	{ MSG_GUESTS_REPLY,	"GUESTS_REPLY",	7 },
	{ MSG_TTY,		"TTY",		4 },	/* id rows cols term */
};

static int
proto_type_index(uint16_t type)
{
	size_t	 i;

	for (i = 0; i < sizeof(proto_types) / sizeof(proto_types[0]); i++)
		if (proto_types[i].type == type)
			return (int)i;
	return -1;
}

const char *
proto_type_name(uint16_t type)
{
	int	 i = proto_type_index(type);

	return i < 0 ? "UNKNOWN" : proto_types[i].name;
}

/* --- encoding ------------------------------------------------------- */

static int
pack_to_buf(void *data, const char *bytes, size_t len)
{
	buf_append(data, bytes, len);
	return 0;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	size_t	 len = strlen(s);

	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

static void
pack_strs(msgpack_packer *pk, char **v, size_t n)
{
	size_t	 i;

	msgpack_pack_array(pk, n);
	for (i = 0; i < n; i++)
		pack_str(pk, v[i]);
}

static void
pack_payload(msgpack_packer *pk, const struct proto_msg *msg)
{
	const struct proto_names	*na = &msg->m.names;
	size_t				 i;

	msgpack_pack_array(pk, proto_types[proto_type_index(msg->m_type)].fields);
	switch (msg->m_type) {
	case MSG_HELLO:
	case MSG_HELLO_ACK:
		msgpack_pack_uint32(pk, msg->m.hello.he_version);
		msgpack_pack_uint32(pk, msg->m.hello.he_nonce);
		pack_str(pk, msg->m.hello.he_name);
		if (msg->m_type == MSG_HELLO_ACK)
			msgpack_pack_uint32(pk, msg->m.hello.he_echo);
		break;
	case MSG_PING:
	case MSG_LIST:
	case MSG_GUESTS:
		msgpack_pack_uint32(pk, msg->m.query.qu_id);
		pack_str(pk, msg->m.query.qu_target);
		if (msg->m_type == MSG_GUESTS)
			msgpack_pack_uint32(pk, msg->m.query.qu_start);
		break;
	case MSG_PONG:
	case MSG_CANCEL:
		msgpack_pack_uint32(pk, msg->m.ref.re_id);
		break;
	case MSG_OPEN:
		msgpack_pack_uint32(pk, msg->m.open.op_id);
		pack_str(pk, msg->m.open.op_target);
		msgpack_pack_uint32(pk, msg->m.open.op_timeout_ms);
		msgpack_pack_uint32(pk, msg->m.open.op_flags);
		pack_strs(pk, msg->m.open.op_argv, msg->m.open.op_argc);
		pack_strs(pk, msg->m.open.op_envv, msg->m.open.op_envc);
		break;
	case MSG_CREDIT:
		msgpack_pack_uint32(pk, msg->m.credit.cr_id);
		msgpack_pack_uint32(pk, msg->m.credit.cr_stream);
		msgpack_pack_uint32(pk, msg->m.credit.cr_bytes);
		break;
	case MSG_EXIT:
		msgpack_pack_uint32(pk, msg->m.exit.ex_id);
		msgpack_pack_uint32(pk, msg->m.exit.ex_kind);
		msgpack_pack_int32(pk, msg->m.exit.ex_code);
		pack_str(pk, msg->m.exit.ex_message);
		break;
	case MSG_LIST_REPLY:
	case MSG_GUESTS_REPLY:
		msgpack_pack_uint32(pk, na->na_id);
		pack_strs(pk, na->na_names, na->na_count);
		if (msg->m_type == MSG_GUESTS_REPLY) {
			msgpack_pack_array(pk, na->na_count);
			for (i = 0; i < na->na_count; i++)
				msgpack_pack_uint8(pk, na->na_state[i]);
			msgpack_pack_array(pk, na->na_count);
			for (i = 0; i < na->na_count; i++)
				msgpack_pack_uint32(pk, na->na_quiet[i]);
			msgpack_pack_uint32(pk, na->na_total);
			msgpack_pack_array(pk, na->na_count);
			for (i = 0; i < na->na_count; i++)
				msgpack_pack_uint32(pk, na->na_version[i]);
			msgpack_pack_array(pk, na->na_count);
			for (i = 0; i < na->na_count; i++)
				msgpack_pack_uint32(pk, na->na_calls[i]);
		}
		break;
	case MSG_TTY:
		msgpack_pack_uint32(pk, msg->m.tty.ty_id);
		msgpack_pack_uint32(pk, msg->m.tty.ty_rows);
		msgpack_pack_uint32(pk, msg->m.tty.ty_cols);
		pack_str(pk, msg->m.tty.ty_term);
		break;
	}
}

static uint32_t
get_be32(const uint8_t *p)
{
	uint32_t	 v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

void
proto_pack(struct buf *out, const struct proto_msg *msg)
{
	msgpack_packer	 pk;
	size_t		 start = buf_pending(out), len;
	uint32_t	 trailer;

	if (msg->m_type == MSG_DATA) {
		trailer = proto_data_head(buf_reserve(out, PROTO_DATA_FRAME),
		    msg->m_tag, msg->m.data.da_id, msg->m.data.da_stream,
		    msg->m.data.da_len);
		buf_commit(out, PROTO_HDR_LEN + PROTO_DATA_HEAD);
		buf_append(out, msg->m.data.da_bytes, msg->m.data.da_len);
		proto_put_be32(out, trailer);
		return;
	}
	buf_reserve(out, PROTO_HDR_LEN);
	buf_commit(out, PROTO_HDR_LEN);
	msgpack_packer_init(&pk, out, pack_to_buf);
	pack_payload(&pk, msg);
	/*
	 * Growing the buffer may have moved or compacted it while packing:
	 * the header is found again relative to the pending bytes.
	 */
	len = buf_pending(out) - start - PROTO_HDR_LEN;
	frame_seal(buf_head(out) + start, msg->m_type, msg->m_tag, len, len);
}

/* --- decoding ------------------------------------------------------- */

static int
get_u32(const msgpack_object *o, uint32_t *out)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    o->via.u64 > UINT32_MAX)
		return -1;
	*out = (uint32_t)o->via.u64;
	return 0;
}

static int
get_i32(const msgpack_object *o, int32_t *out)
{
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->via.u64 <= INT32_MAX)
		*out = (int32_t)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER &&
	    o->via.i64 >= INT32_MIN)
		*out = (int32_t)o->via.i64;
	else
		return -1;
	return 0;
}

/* Copies a string without NUL bytes of at most max bytes into dst. */
static int
get_str(const msgpack_object *o, char *dst, size_t max)
{
	if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > max)
		return -1;
	/* msgpack-c gives a NULL pointer for an empty string. */
	if (o->via.str.size > 0 && (memchr(o->via.str.ptr, '\0',
	    o->via.str.size) != NULL))
		return -1;
	if (o->via.str.size > 0)
		memcpy(dst, o->via.str.ptr, o->via.str.size);
	dst[o->via.str.size] = '\0';
	return 0;
}

/* Returns an allocated NULL-terminated vector of 1..max strings, or NULL. */
static char **
get_strs(const msgpack_object *o, size_t min, size_t max, size_t item_max,
    size_t *count)
{
	const msgpack_object_array	*a = &o->via.array;
	char				**v;
	size_t				 i, n;

	if (o->type != MSGPACK_OBJECT_ARRAY || a->size < min || a->size > max)
		return NULL;
	n = a->size;
	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++) {
		if (a->ptr[i].type != MSGPACK_OBJECT_STR ||
		    a->ptr[i].via.str.size > item_max)
			goto bad;
		v[i] = xmalloc(a->ptr[i].via.str.size + 1);
		if (get_str(&a->ptr[i], v[i], a->ptr[i].via.str.size) == -1) {
			free(v[i]);
			v[i] = NULL;
			goto bad;
		}
	}
	*count = n;
	return v;
bad:
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
	return NULL;
}

/* Why get_strs() refused an argument vector, in words for the caller. */
static const char *
argv_problem(const msgpack_object *o)
{
	uint32_t	 i;

	if (o->type != MSGPACK_OBJECT_ARRAY)
		return "argument vector is not an array";
	if (o->via.array.size == 0)
		return "empty argument vector";
	if (o->via.array.size > PROTO_MAX_ARGS)
		return "more than 256 arguments";
	for (i = 0; i < o->via.array.size; i++) {
		if (o->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
			return "an argument is not a string";
		if (o->via.array.ptr[i].via.str.size > 0 &&
		    memchr(o->via.array.ptr[i].via.str.ptr, '\0',
		    o->via.array.ptr[i].via.str.size) != NULL)
			return "NUL byte in an argument";
	}
	return "bad argument vector";
}

static int
unpack_fields(const msgpack_object *f, struct proto_msg *msg,
    const char **why)
{
	struct proto_names	*na = &msg->m.names;
	const msgpack_object	*r;
	uint32_t		 i;

	switch (msg->m_type) {
	case MSG_HELLO:
	case MSG_HELLO_ACK:
		if (get_u32(&f[0], &msg->m.hello.he_version) == -1 ||
		    get_u32(&f[1], &msg->m.hello.he_nonce) == -1 ||
		    msg->m.hello.he_nonce == 0 ||
		    get_str(&f[2], msg->m.hello.he_name, PROTO_MAX_NAME) == -1 ||
		    (msg->m_type == MSG_HELLO_ACK &&
		    get_u32(&f[3], &msg->m.hello.he_echo) == -1))
			goto bad;
		return 0;
	case MSG_PING:
	case MSG_LIST:
	case MSG_GUESTS:
		if (get_u32(&f[0], &msg->m.query.qu_id) == -1 ||
		    get_str(&f[1], msg->m.query.qu_target, PROTO_MAX_NAME) == -1 ||
		    (msg->m_type == MSG_GUESTS &&
		    get_u32(&f[2], &msg->m.query.qu_start) == -1))
			goto bad;
		return 0;
	case MSG_PONG:
	case MSG_CANCEL:
		return get_u32(&f[0], &msg->m.ref.re_id) == -1 ? (*why =
		    "bad id", -1) : 0;
	case MSG_OPEN:
		if (get_u32(&f[0], &msg->m.open.op_id) == -1 ||
		    get_str(&f[1], msg->m.open.op_target, PROTO_MAX_NAME) == -1 ||
		    get_u32(&f[2], &msg->m.open.op_timeout_ms) == -1 ||
		    get_u32(&f[3], &msg->m.open.op_flags) == -1 ||
		    (msg->m.open.op_flags & ~(OPEN_STDIN | OPEN_TTY)) != 0 ||
		    ((msg->m.open.op_flags & OPEN_TTY) &&
		    !(msg->m.open.op_flags & OPEN_STDIN)))
			goto bad;
		msg->m.open.op_argv = get_strs(&f[4], 1, PROTO_MAX_ARGS,
		    PROTO_MAX_PAYLOAD, &msg->m.open.op_argc);
		if (msg->m.open.op_argv == NULL) {
			*why = argv_problem(&f[4]);
			return -1;
		}
		msg->m.open.op_envv = get_strs(&f[5], 0, PROTO_MAX_ENV,
		    PROTO_MAX_ENV_SIZE, &msg->m.open.op_envc);
		if (msg->m.open.op_envv == NULL) {
			*why = "bad environment (at most 64 strings of at most "
			    "4096 bytes, no NUL)";
			return -1;
		}
		return 0;
	case MSG_CREDIT:
		if (get_u32(&f[0], &msg->m.credit.cr_id) == -1 ||
		    get_u32(&f[1], &msg->m.credit.cr_stream) == -1 ||
		    msg->m.credit.cr_stream >= STREAM_COUNT ||
		    get_u32(&f[2], &msg->m.credit.cr_bytes) == -1 ||
		    msg->m.credit.cr_bytes > PROTO_MAX_CREDIT)
			goto bad;
		return 0;
	case MSG_EXIT:
		if (get_u32(&f[0], &msg->m.exit.ex_id) == -1 ||
		    get_u32(&f[1], &msg->m.exit.ex_kind) == -1 ||
		    msg->m.exit.ex_kind >= EXIT_KIND_COUNT ||
		    get_i32(&f[2], &msg->m.exit.ex_code) == -1 ||
		    get_str(&f[3], msg->m.exit.ex_message,
		    PROTO_MAX_MESSAGE) == -1)
			goto bad;
		return 0;
	case MSG_LIST_REPLY:
	case MSG_GUESTS_REPLY:
		if (get_u32(&f[0], &na->na_id) == -1)
			goto bad;
		na->na_names = get_strs(&f[1], 0, PROTO_MAX_LIST,
		    PROTO_MAX_NAME, &na->na_count);
		if (na->na_names == NULL)
			goto bad;
		if (msg->m_type == MSG_LIST_REPLY)
			return 0;
		r = &f[2];
		for (i = 2; i < 7; i++)
			if (i != 4 && (f[i].type != MSGPACK_OBJECT_ARRAY ||
			    f[i].via.array.size != na->na_count))
				goto bad;
		if (get_u32(&f[4], &na->na_total) == -1 ||
		    na->na_total < na->na_count)
			goto bad;
		na->na_state = xcalloc(na->na_count, 1);
		na->na_quiet = xcalloc(na->na_count, sizeof(*na->na_quiet));
		na->na_version = xcalloc(na->na_count,
		    sizeof(*na->na_version));
		na->na_calls = xcalloc(na->na_count, sizeof(*na->na_calls));
		for (i = 0; i < na->na_count; i++) {
			if (r->via.array.ptr[i].type !=
			    MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    r->via.array.ptr[i].via.u64 >= PEER_STATE_COUNT ||
			    get_u32(&f[3].via.array.ptr[i],
			    &na->na_quiet[i]) == -1 ||
			    get_u32(&f[5].via.array.ptr[i],
			    &na->na_version[i]) == -1 ||
			    get_u32(&f[6].via.array.ptr[i],
			    &na->na_calls[i]) == -1)
				goto bad;
			na->na_state[i] = (uint8_t)r->via.array.ptr[i].via.u64;
		}
		return 0;
	case MSG_TTY:
		/* A $TERM names a file to look up: no path, no oddities. */
		if (get_u32(&f[0], &msg->m.tty.ty_id) == -1 ||
		    get_u32(&f[1], &msg->m.tty.ty_rows) == -1 ||
		    msg->m.tty.ty_rows > 0xffff ||
		    get_u32(&f[2], &msg->m.tty.ty_cols) == -1 ||
		    msg->m.tty.ty_cols > 0xffff ||
		    get_str(&f[3], msg->m.tty.ty_term, PROTO_MAX_TERM) == -1 ||
		    strspn(msg->m.tty.ty_term, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-") !=
		    strlen(msg->m.tty.ty_term) || msg->m.tty.ty_term[0] == '.')
			goto bad;
		return 0;
	}
bad:
	*why = "bad field";
	return -1;
}

/*
 * Walks the msgpack encoding without building anything, and refuses a
 * container that declares more items than bytes remain: msgpack-c would
 * allocate for the declared count before finding out (a 5-byte payload
 * could ask for gigabytes).  Each item takes at least one byte, so the
 * items still owed can never exceed the bytes left.
 */
static int
msgpack_plausible(const uint8_t *p, size_t len)
{
	static const uint8_t	 fixed[32] = {	/* 0xc0..0xdf: bytes after tag */
		0, 0, 0, 0, 1, 2, 4, 1, 2, 4, 4, 8, 1, 2, 4, 8,
		1, 2, 4, 8, 2, 3, 5, 9, 17, 1, 2, 4, 2, 4, 2, 4,
	};
	uint64_t	 owed = 1, n;
	size_t		 off = 0, k, width;
	uint8_t		 b;

	while (owed > 0) {
		if (off >= len)
			return -1;
		b = p[off++];
		owed--;
		n = 0;
		if (b <= 0x7f || b >= 0xe0)
			continue;
		if (b <= 0x8f)
			n = 2 * (uint64_t)(b & 0x0f);
		else if (b <= 0x9f)
			n = b & 0x0f;
		else if (b <= 0xbf) {
			off += b & 0x1f;
			continue;
		} else if (b == 0xc1)
			return -1;
		else {
			width = fixed[b - 0xc0];
			if (len - off < width)
				return -1;
			for (k = 0; k < width && b >= 0xdc; k++)
				n = n << 8 | p[off + k];
			if (b >= 0xde)
				n *= 2;		/* map: keys and values */
			/* bin, ext, str: width is that of a byte count. */
			if ((b >= 0xc4 && b <= 0xc9) || (b >= 0xd9 && b <= 0xdb)) {
				uint64_t	 raw = 0;

				for (k = 0; k < width; k++)
					raw = raw << 8 | p[off + k];
				if (b == 0xc7 || b == 0xc8 || b == 0xc9)
					raw++;	/* ext: a type byte, then data */
				if (raw > len)
					return -1;
				off += width + (size_t)raw;
				continue;
			}
			off += width;
		}
		owed += n;
		if (off > len || owed > len - off)
			return -1;
	}
	return off <= len ? 0 : -1;
}

/* A DATA payload (proto.h); the trailer is the frame's, not checked here. */
static int
unpack_data(const uint8_t *p, size_t len, struct proto_data *da,
    const char **why)
{
	if (len < PROTO_DATA_HEAD + PROTO_DATA_TRAILER ||
	    len - PROTO_DATA_HEAD - PROTO_DATA_TRAILER > PROTO_MAX_DATA) {
		*why = "bad DATA length";
		return -1;
	}
	da->da_id = get_be32(p);
	da->da_stream = get_be32(p + 4);
	if (da->da_stream >= STREAM_COUNT) {
		*why = "bad stream";
		return -1;
	}
	da->da_bytes = p + PROTO_DATA_HEAD;
	da->da_len = len - PROTO_DATA_HEAD - PROTO_DATA_TRAILER;
	return 0;
}

int
proto_unpack(uint16_t type, const uint8_t *payload, size_t len,
    struct proto_msg *msg, const char **why)
{
	msgpack_unpacked	 result;
	size_t			 off = 0;
	int			 i, rv = -1;

	memset(&msg->m, 0, sizeof(msg->m));
	msg->m_type = type;
	if ((i = proto_type_index(type)) == -1) {
		*why = "unknown message type";
		return -1;
	}
	if (type == MSG_DATA)
		return unpack_data(payload, len, &msg->m.data, why);
	if (msgpack_plausible(payload, len) == -1) {
		*why = "malformed msgpack";
		return -1;
	}
	msgpack_unpacked_init(&result);
	if (msgpack_unpack_next(&result, (const char *)payload, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len) {
		*why = "malformed msgpack";
	} else if (result.data.type != MSGPACK_OBJECT_ARRAY ||
	    result.data.via.array.size != proto_types[i].fields) {
		*why = "wrong field count";
	} else if ((rv = unpack_fields(result.data.via.array.ptr, msg,
	    why)) == -1) {
		proto_msg_free(msg);
	}
	msgpack_unpacked_destroy(&result);
	return rv;
}

/* Where msg keeps its request id; NULL for HELLO and HELLO_ACK. */
static uint32_t *
msg_id_field(struct proto_msg *msg)
{
	switch (msg->m_type) {
	case MSG_PING:
	case MSG_LIST:
	case MSG_GUESTS:
		return &msg->m.query.qu_id;
	case MSG_PONG:
	case MSG_CANCEL:
		return &msg->m.ref.re_id;
	case MSG_OPEN:
		return &msg->m.open.op_id;
	case MSG_DATA:
		return &msg->m.data.da_id;
	case MSG_CREDIT:
		return &msg->m.credit.cr_id;
	case MSG_EXIT:
		return &msg->m.exit.ex_id;
	case MSG_LIST_REPLY:
	case MSG_GUESTS_REPLY:
		return &msg->m.names.na_id;
	case MSG_TTY:
		return &msg->m.tty.ty_id;
	}
	return NULL;
}

uint32_t
proto_msg_id(const struct proto_msg *msg)
{
	const uint32_t	*id = msg_id_field((struct proto_msg *)msg);

	return id != NULL ? *id : 0;
}

void
proto_msg_set_id(struct proto_msg *msg, uint32_t id)
{
	uint32_t	*p;

	if ((p = msg_id_field(msg)) == NULL)
		fatalx("%s: %s has no request id", __func__,
		    proto_type_name(msg->m_type));
	*p = id;
}

void
proto_msg_free(struct proto_msg *msg)
{
	char	**v = NULL;
	size_t	 i;

	if (msg->m_type == MSG_OPEN)
		v = msg->m.open.op_argv;
	else if (msg->m_type == MSG_LIST_REPLY ||
	    msg->m_type == MSG_GUESTS_REPLY) {
		v = msg->m.names.na_names;
		free(msg->m.names.na_state);
		free(msg->m.names.na_quiet);
		free(msg->m.names.na_version);
		free(msg->m.names.na_calls);
		msg->m.names.na_state = NULL;
		msg->m.names.na_quiet = NULL;
		msg->m.names.na_version = NULL;
		msg->m.names.na_calls = NULL;
	}
	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
	if (msg->m_type == MSG_OPEN) {
		for (i = 0; msg->m.open.op_envv != NULL &&
		    msg->m.open.op_envv[i] != NULL; i++)
			free(msg->m.open.op_envv[i]);
		free(msg->m.open.op_envv);
		msg->m.open.op_envv = NULL;
		msg->m.open.op_argv = NULL;
	}
	else if (msg->m_type == MSG_LIST_REPLY ||
	    msg->m_type == MSG_GUESTS_REPLY)
		msg->m.names.na_names = NULL;
}
