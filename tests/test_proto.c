/*
 * Unit tests of the wire protocol (common/proto.c): every message type
 * round-trips through proto_pack and proto_parse; every proper prefix of a
 * frame is PARSE_INCOMPLETE; malformed frames are PARSE_BAD without a crash
 * or a leak, losing exactly the frame when its header and CRC are good; and
 * a reader that lost sync finds the next valid frame.
 *
 * Frames are parsed from heap copies of exactly their length, so that
 * valgrind sees any read past the end.
 */
#include <sys/endian.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <msgpack.h>
#include <xxhash.h>
#include <zlib.h>

#include "checksum.h"
#include "proto.h"
#include "util.h"

#define SENTINEL	((size_t)0x5eed)

/* --- helpers -------------------------------------------------------- */

static uint8_t *
copy_exact(const void *p, size_t len)
{
	uint8_t	*c = malloc(len > 0 ? len : 1);

	cr_assert_not_null(c);
	memcpy(c, p, len);
	return c;
}

static char *
repeat(char c, size_t n)
{
	char	*s = malloc(n + 1);

	cr_assert_not_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A round trip: the packed frame, an exact copy, and what it parsed to. */
struct rt {
	struct buf		 b;
	uint8_t			*copy;	/* DATA in out points here */
	size_t			 len;
	struct proto_msg	 out;
};

/*
 * Packs in, checks the frame header proto_pack wrote, and parses an exact
 * copy back into rt->out, checking the framing: PARSE_OK, the whole frame
 * consumed, type and tag preserved.  Free with rt_free.
 */
static void
roundtrip(const struct proto_msg *in, struct rt *rt)
{
	const char	*why = NULL;
	size_t		 consumed = SENTINEL;
	enum proto_parse r;

	memset(rt, 0, sizeof(*rt));
	proto_pack(&rt->b, in);
	rt->len = rt->b.b_len;
	cr_assert_geq(rt->len, PROTO_HDR_LEN);
	cr_assert_leq(rt->len - PROTO_HDR_LEN, PROTO_MAX_PAYLOAD);
	cr_assert_eq(be32dec(rt->b.b_data), PROTO_MAGIC);
	cr_assert_eq(rt->b.b_data[4] << 8 | rt->b.b_data[5], in->m_type);
	cr_assert_eq(rt->b.b_data[6], 0);
	cr_assert_eq(rt->b.b_data[7], 0);
	cr_assert_eq(be32dec(rt->b.b_data + 8), in->m_tag);
	cr_assert_eq(be32dec(rt->b.b_data + 12), rt->len - PROTO_HDR_LEN);
	rt->copy = copy_exact(rt->b.b_data, rt->len);
	r = proto_parse(rt->copy, rt->len, &rt->out, &consumed, &why);
	cr_assert_eq(r, PARSE_OK, "%s did not parse back: %s",
	    proto_type_name(in->m_type), r == PARSE_BAD ? why : "incomplete");
	cr_assert_eq(consumed, rt->len);
	cr_assert_eq(rt->out.m_type, in->m_type);
	cr_assert_eq(rt->out.m_tag, in->m_tag);
}

static void
rt_free(struct rt *rt)
{
	proto_msg_free(&rt->out);
	free(rt->copy);
	buf_free(&rt->b);
}

/*
 * Packs a msgpack value described by fmt into sb, one letter a value:
 *	a N	array header (unsigned)	m N	map header (unsigned)
 *	u V	positive int (uint64_t)	i V	int (int64_t)
 *	s S	string (const char *)	S P N	string of N bytes at P
 *	b P N	bin of N bytes at P	n	nil
 *	t	true			f	a double (1.5)
 * N is a size_t for S and b.
 */
static void
mp(msgpack_sbuffer *sb, const char *fmt, ...)
{
	msgpack_packer	 pk;
	va_list		 ap;
	const char	*s;
	const void	*p;
	size_t		 n;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	va_start(ap, fmt);
	for (; *fmt != '\0'; fmt++) {
		switch (*fmt) {
		case 'a':
			msgpack_pack_array(&pk, va_arg(ap, unsigned));
			break;
		case 'm':
			msgpack_pack_map(&pk, va_arg(ap, unsigned));
			break;
		case 'u':
			msgpack_pack_uint64(&pk, va_arg(ap, uint64_t));
			break;
		case 'i':
			msgpack_pack_int64(&pk, va_arg(ap, int64_t));
			break;
		case 's':
			s = va_arg(ap, const char *);
			msgpack_pack_str(&pk, strlen(s));
			msgpack_pack_str_body(&pk, s, strlen(s));
			break;
		case 'S':
			p = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			msgpack_pack_str(&pk, n);
			msgpack_pack_str_body(&pk, p, n);
			break;
		case 'b':
			p = va_arg(ap, const void *);
			n = va_arg(ap, size_t);
			msgpack_pack_bin(&pk, n);
			msgpack_pack_bin_body(&pk, p, n);
			break;
		case 'n':
			msgpack_pack_nil(&pk);
			break;
		case 't':
			msgpack_pack_true(&pk);
			break;
		case 'f':
			msgpack_pack_double(&pk, 1.5);
			break;
		case ' ':
			break;
		default:
			cr_assert_fail("bad mp format %c", *fmt);
		}
	}
	va_end(ap);
}

/*
 * Appends a frame built by hand, as proto_pack would: big-endian header
 * with the given fields, length field len_field, a CRC over the first
 * 16 header bytes and the payload, and a good header check.
 */
static void
hand_frame_raw(struct buf *b, uint16_t type, uint16_t reserved, uint32_t tag,
    uint32_t len_field, const void *payload, size_t plen)
{
	uint8_t	 hdr[PROTO_HDR_LEN];

	be32enc(hdr, PROTO_MAGIC);
	hdr[4] = type >> 8;
	hdr[5] = type & 0xff;
	hdr[6] = reserved >> 8;
	hdr[7] = reserved & 0xff;
	be32enc(hdr + 8, tag);
	be32enc(hdr + 12, len_field);
	be32enc(hdr + 16, checksum_frame(hdr, payload, plen));
	be32enc(hdr + PROTO_HDR_CHECKED, checksum_header(hdr));
	buf_append(b, hdr, sizeof(hdr));
	buf_append(b, payload, plen);
}

static void
hand_frame(struct buf *b, uint16_t type, const void *payload, size_t plen)
{
	hand_frame_raw(b, type, 0, 7, (uint32_t)plen, payload, plen);
}

/*
 * Parses an exact copy of (p, len) and expects PARSE_BAD: consuming all
 * of it when whole (a frame with a good header and CRC is lost, not
 * more), else at least one byte and at most all of it.
 */
static void
expect_bad(const void *p, size_t len, int whole)
{
	struct proto_msg	 msg;
	const char		*why = NULL;
	size_t			 consumed = SENTINEL;
	uint8_t			*c = copy_exact(p, len);
	enum proto_parse	 r;

	r = proto_parse(c, len, &msg, &consumed, &why);
	if (r == PARSE_OK)
		proto_msg_free(&msg);
	/* A request whose id can be read is refused: bad, and answered. */
	cr_assert(r == PARSE_BAD || r == PARSE_REFUSED,
	    "expected PARSE_BAD, got %d", r);
	cr_assert_not_null(why);
	if (whole)
		cr_assert_eq(consumed, len, "consumed %zu of %zu", consumed,
		    len);
	else {
		cr_assert_gt(consumed, 0);
		cr_assert_leq(consumed, len);
	}
	free(c);
}

/* A frame of the given type around the payload in sb must be lost whole. */
static void
expect_bad_payload(uint16_t type, msgpack_sbuffer *sb)
{
	struct buf	 b = { 0 };

	hand_frame(&b, type, sb->data, sb->size);
	expect_bad(b.b_data, b.b_len, 1);
	buf_free(&b);
	msgpack_sbuffer_clear(sb);
}

/*
 * The daemons' loop over (p, len): parse, skip consumed on PARSE_BAD,
 * stop on PARSE_INCOMPLETE.  Records the type and tag of each message,
 * at most max, and returns how many; *left is what was not consumed.
 */
static size_t
parse_all(const uint8_t *p, size_t len, uint16_t *types, uint32_t *tags,
    size_t max, size_t *left)
{
	struct proto_msg	 msg;
	const char		*why;
	size_t			 n = 0, off = 0, consumed;
	enum proto_parse	 r;

	while (off < len) {
		consumed = SENTINEL;
		r = proto_parse(p + off, len - off, &msg, &consumed, &why);
		if (r == PARSE_INCOMPLETE)
			break;
		cr_assert_gt(consumed, 0);
		cr_assert_leq(consumed, len - off);
		if (r == PARSE_OK) {
			cr_assert_lt(n, max, "more messages than expected");
			types[n] = msg.m_type;
			tags[n] = msg.m_tag;
			n++;
			proto_msg_free(&msg);
		}
		off += consumed;
	}
	*left = len - off;
	return n;
}

static void
pack_ref(struct buf *b, uint16_t type, uint32_t tag, uint32_t id)
{
	struct proto_msg	 m;

	memset(&m, 0, sizeof(m));
	m.m_type = type;
	m.m_tag = tag;
	m.m.ref.re_id = id;
	proto_pack(b, &m);
}

/* --- round trips ---------------------------------------------------- */

Test(roundtrip, hello)
{
	struct proto_msg	 in;
	struct rt		 rt;
	char			*name = repeat('h', PROTO_MAX_NAME);

	memset(&in, 0, sizeof(in));
	in.m_type = MSG_HELLO;
	in.m_tag = 0;
	in.m.hello.he_version = PROTO_VERSION;
	in.m.hello.he_nonce = 0xdeadbeef;
	strlcpy(in.m.hello.he_name, "host-1.example", PROTO_MAX_NAME + 1);
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.hello.he_version, PROTO_VERSION);
	cr_assert_eq(rt.out.m.hello.he_nonce, 0xdeadbeef);
	cr_assert_eq(rt.out.m.hello.he_echo, 0);
	cr_assert_str_eq(rt.out.m.hello.he_name, "host-1.example");
	rt_free(&rt);

	/* Extremes: the largest version and nonce, the longest name. */
	in.m.hello.he_version = UINT32_MAX;
	in.m.hello.he_nonce = UINT32_MAX;
	strlcpy(in.m.hello.he_name, name, PROTO_MAX_NAME + 1);
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.hello.he_version, UINT32_MAX);
	cr_assert_eq(rt.out.m.hello.he_nonce, UINT32_MAX);
	cr_assert_str_eq(rt.out.m.hello.he_name, name);
	rt_free(&rt);
	free(name);
}

Test(roundtrip, hello_ack)
{
	struct proto_msg	 in;
	struct rt		 rt;

	memset(&in, 0, sizeof(in));
	in.m_type = MSG_HELLO_ACK;
	in.m.hello.he_version = 1;
	in.m.hello.he_nonce = 42;
	in.m.hello.he_echo = 0xfeedface;
	strlcpy(in.m.hello.he_name, "", PROTO_MAX_NAME + 1);
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.hello.he_version, 1);
	cr_assert_eq(rt.out.m.hello.he_nonce, 42);
	cr_assert_eq(rt.out.m.hello.he_echo, 0xfeedface);
	cr_assert_str_eq(rt.out.m.hello.he_name, "");
	rt_free(&rt);
}

Test(roundtrip, queries)
{
	static const uint16_t	 types[] = { MSG_PING, MSG_LIST, MSG_GUESTS };
	const char		*targets[3];
	struct proto_msg	 in;
	struct rt		 rt;
	char			*longest = repeat('g', PROTO_MAX_NAME);
	size_t			 i, j;

	targets[0] = "";
	targets[1] = "vm-01";
	targets[2] = longest;
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 3; j++) {
			memset(&in, 0, sizeof(in));
			in.m_type = types[i];
			in.m_tag = 0x01020304 + (uint32_t)j;
			in.m.query.qu_id = j == 2 ? UINT32_MAX : (uint32_t)j;
			strlcpy(in.m.query.qu_target, targets[j],
			    sizeof(in.m.query.qu_target));
			if (types[i] == MSG_GUESTS)
				in.m.query.qu_start = j == 2 ? UINT32_MAX : 600;
			roundtrip(&in, &rt);
			cr_assert_eq(rt.out.m.query.qu_id, in.m.query.qu_id);
			cr_assert_eq(rt.out.m.query.qu_start,
			    in.m.query.qu_start);
			cr_assert_str_eq(rt.out.m.query.qu_target, targets[j]);
			rt_free(&rt);
		}
	}
	free(longest);
}

Test(roundtrip, refs)
{
	static const uint16_t	 types[] = { MSG_PONG, MSG_CANCEL };
	static const uint32_t	 ids[] = { 0, 1, 127, 128, 65535, 65536,
	    UINT32_MAX };
	struct proto_msg	 in;
	struct rt		 rt;
	size_t			 i, j;

	for (i = 0; i < 2; i++) {
		for (j = 0; j < sizeof(ids) / sizeof(ids[0]); j++) {
			memset(&in, 0, sizeof(in));
			in.m_type = types[i];
			in.m_tag = UINT32_MAX - (uint32_t)j;
			in.m.ref.re_id = ids[j];
			roundtrip(&in, &rt);
			cr_assert_eq(rt.out.m.ref.re_id, ids[j]);
			rt_free(&rt);
		}
	}
}

/* proto_msg_id and proto_msg_set_id reach each type's own id member. */
Test(msg_id, each_type)
{
#define ID_AT(type, member)	{ type, offsetof(struct proto_msg, m.member) }
	static const struct {
		uint16_t	 type;
		size_t		 offset;
	} ids[] = {
		ID_AT(MSG_PING, query.qu_id),
		ID_AT(MSG_PONG, ref.re_id),
		ID_AT(MSG_OPEN, open.op_id),
		ID_AT(MSG_DATA, data.da_id),
		ID_AT(MSG_CREDIT, credit.cr_id),
		ID_AT(MSG_CANCEL, ref.re_id),
		ID_AT(MSG_EXIT, exit.ex_id),
		ID_AT(MSG_LIST, query.qu_id),
		ID_AT(MSG_LIST_REPLY, names.na_id),
		ID_AT(MSG_GUESTS, query.qu_id),
		ID_AT(MSG_GUESTS_REPLY, names.na_id),
	};
#undef ID_AT
	struct proto_msg	 m;
	uint32_t		 id;
	size_t			 i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		memset(&m, 0, sizeof(m));
		m.m_type = ids[i].type;
		proto_msg_set_id(&m, 1000 + (uint32_t)i);
		memcpy(&id, (const char *)&m + ids[i].offset, sizeof(id));
		cr_assert_eq(id, 1000 + i, "%s", proto_type_name(m.m_type));
		cr_assert_eq(proto_msg_id(&m), 1000 + i);
	}
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_HELLO;
	m.m.hello.he_version = 7;
	cr_assert_eq(proto_msg_id(&m), 0, "HELLO carries no request id");
}

Test(roundtrip, open)
{
	char			*argv[] = { "disk-usage", "", "-h",
	    "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93", "", "a b\tc\nd", NULL };
	size_t			 argc = 6, i;
	struct proto_msg	 in;
	struct rt		 rt;

	memset(&in, 0, sizeof(in));
	in.m_type = MSG_OPEN;
	in.m_tag = 99;
	in.m.open.op_id = 7;
	strlcpy(in.m.open.op_target, "guest-\xc3\xa9",
	    sizeof(in.m.open.op_target));
	in.m.open.op_timeout_ms = 1500;
	in.m.open.op_flags = OPEN_STDIN;
	in.m.open.op_argc = argc;
	in.m.open.op_argv = argv;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.open.op_id, 7);
	cr_assert_str_eq(rt.out.m.open.op_target, "guest-\xc3\xa9");
	cr_assert_eq(rt.out.m.open.op_timeout_ms, 1500);
	cr_assert_eq(rt.out.m.open.op_flags, OPEN_STDIN);
	cr_assert_eq(rt.out.m.open.op_argc, argc);
	for (i = 0; i < argc; i++)
		cr_assert_str_eq(rt.out.m.open.op_argv[i], argv[i]);
	cr_assert_null(rt.out.m.open.op_argv[argc]);
	rt_free(&rt);

	/* No flags, no timeout, a single argument. */
	in.m.open.op_flags = 0;
	in.m.open.op_timeout_ms = 0;
	in.m.open.op_argc = 1;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.open.op_flags, 0);
	cr_assert_eq(rt.out.m.open.op_timeout_ms, 0);
	cr_assert_eq(rt.out.m.open.op_argc, 1);
	cr_assert_str_eq(rt.out.m.open.op_argv[0], "disk-usage");
	cr_assert_null(rt.out.m.open.op_argv[1]);
	cr_assert_eq(rt.out.m.open.op_envc, 0);
	rt_free(&rt);
}

Test(roundtrip, open_env)
{
	char			*argv[] = { "env-all", NULL };
	char			*env[] = { "FOO=bar", "EMPTY=", "NL=a\nb c",
	    NULL };
	static char		 big[PROTO_MAX_ENV_SIZE + 1];
	char			*many[PROTO_MAX_ENV + 1];
	struct proto_msg	 in;
	struct rt		 rt;
	size_t			 i;

	memset(&in, 0, sizeof(in));
	in.m_type = MSG_OPEN;
	in.m.open.op_id = 3;
	in.m.open.op_argc = 1;
	in.m.open.op_argv = argv;
	in.m.open.op_envc = 3;
	in.m.open.op_envv = env;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.open.op_envc, 3);
	for (i = 0; i < 3; i++)
		cr_assert_str_eq(rt.out.m.open.op_envv[i], env[i]);
	cr_assert_null(rt.out.m.open.op_envv[3]);
	rt_free(&rt);

	/* The limits themselves: PROTO_MAX_ENV of them, one of full size. */
	memset(big, 'x', sizeof(big) - 1);
	big[0] = 'A';
	big[1] = '=';
	for (i = 0; i < PROTO_MAX_ENV; i++)
		many[i] = i == 0 ? big : "B=1";
	many[PROTO_MAX_ENV] = NULL;
	in.m.open.op_envc = PROTO_MAX_ENV;
	in.m.open.op_envv = many;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.open.op_envc, PROTO_MAX_ENV);
	cr_assert_eq(strlen(rt.out.m.open.op_envv[0]), PROTO_MAX_ENV_SIZE);
	rt_free(&rt);
}

Test(roundtrip, open_max_args)
{
	char			*argv[PROTO_MAX_ARGS + 1], num[16];
	struct proto_msg	 in;
	struct rt		 rt;
	size_t			 i;

	for (i = 0; i < PROTO_MAX_ARGS; i++) {
		snprintf(num, sizeof(num), "arg%zu", i);
		argv[i] = strdup(num);
	}
	argv[PROTO_MAX_ARGS] = NULL;
	memset(&in, 0, sizeof(in));
	in.m_type = MSG_OPEN;
	in.m.open.op_id = UINT32_MAX;
	in.m.open.op_timeout_ms = UINT32_MAX;
	in.m.open.op_argc = PROTO_MAX_ARGS;
	in.m.open.op_argv = argv;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.open.op_id, UINT32_MAX);
	cr_assert_eq(rt.out.m.open.op_timeout_ms, UINT32_MAX);
	cr_assert_eq(rt.out.m.open.op_argc, PROTO_MAX_ARGS);
	for (i = 0; i < PROTO_MAX_ARGS; i++)
		cr_assert_str_eq(rt.out.m.open.op_argv[i], argv[i]);
	cr_assert_null(rt.out.m.open.op_argv[PROTO_MAX_ARGS]);
	rt_free(&rt);
	for (i = 0; i < PROTO_MAX_ARGS; i++)
		free(argv[i]);
}

Test(roundtrip, data)
{
	static const size_t	 lens[] = { 0, 1, 31, 32, 255, 256, 65535 %
	    PROTO_MAX_DATA, PROTO_MAX_DATA - 1, PROTO_MAX_DATA };
	uint8_t			*bytes = malloc(PROTO_MAX_DATA);
	struct proto_msg	 in;
	struct rt		 rt;
	size_t			 i;
	uint32_t		 s;

	cr_assert_not_null(bytes);
	for (i = 0; i < PROTO_MAX_DATA; i++)
		bytes[i] = (uint8_t)(i * 7 + (i >> 8));
	for (s = 0; s < STREAM_COUNT; s++) {
		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			memset(&in, 0, sizeof(in));
			in.m_type = MSG_DATA;
			in.m_tag = 5;
			in.m.data.da_id = 1000 + (uint32_t)i;
			in.m.data.da_stream = s;
			in.m.data.da_len = lens[i];
			in.m.data.da_bytes = bytes;
			roundtrip(&in, &rt);
			cr_assert_eq(rt.out.m.data.da_id, 1000 + i);
			cr_assert_eq(rt.out.m.data.da_stream, s);
			cr_assert_eq(rt.out.m.data.da_len, lens[i]);
			/* Not owned: it points into the frame. */
			cr_assert_geq(rt.out.m.data.da_bytes, rt.copy);
			cr_assert_leq(rt.out.m.data.da_bytes + lens[i],
			    rt.copy + rt.len);
			if (lens[i] > 0)
				cr_assert_arr_eq(rt.out.m.data.da_bytes,
				    bytes, lens[i]);
			rt_free(&rt);
		}
	}
	free(bytes);
}

Test(roundtrip, credit)
{
	static const uint32_t	 amounts[] = { 0, 1, PROTO_WINDOW,
	    PROTO_MAX_CREDIT };
	struct proto_msg	 in;
	struct rt		 rt;
	size_t			 i;
	uint32_t		 s;

	for (s = 0; s < STREAM_COUNT; s++) {
		for (i = 0; i < sizeof(amounts) / sizeof(amounts[0]); i++) {
			memset(&in, 0, sizeof(in));
			in.m_type = MSG_CREDIT;
			in.m_tag = 0xabcdef01;
			in.m.credit.cr_id = 3;
			in.m.credit.cr_stream = s;
			in.m.credit.cr_bytes = amounts[i];
			roundtrip(&in, &rt);
			cr_assert_eq(rt.out.m.credit.cr_id, 3);
			cr_assert_eq(rt.out.m.credit.cr_stream, s);
			cr_assert_eq(rt.out.m.credit.cr_bytes, amounts[i]);
			rt_free(&rt);
		}
	}
}

Test(roundtrip, exit)
{
	static const int32_t	 codes[] = { -1, -2, -128, -129, -32769,
	    INT32_MIN, 0, 255, INT32_MAX };
	char			*longest = repeat('m', PROTO_MAX_MESSAGE);
	struct proto_msg	 in;
	struct rt		 rt;
	uint32_t		 kind;
	size_t			 i;

	for (kind = 0; kind < EXIT_KIND_COUNT; kind++) {
		for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
			memset(&in, 0, sizeof(in));
			in.m_type = MSG_EXIT;
			in.m_tag = kind;
			in.m.exit.ex_id = 11;
			in.m.exit.ex_kind = kind;
			in.m.exit.ex_code = codes[i];
			strlcpy(in.m.exit.ex_message, i % 3 == 0 ? "" :
			    i % 3 == 1 ? "Killed \xe2\x80\x94 sorry" : longest,
			    sizeof(in.m.exit.ex_message));
			roundtrip(&in, &rt);
			cr_assert_eq(rt.out.m.exit.ex_id, 11);
			cr_assert_eq(rt.out.m.exit.ex_kind, kind);
			cr_assert_eq(rt.out.m.exit.ex_code, codes[i],
			    "kind %u code %d came back as %d", kind, codes[i],
			    rt.out.m.exit.ex_code);
			cr_assert_str_eq(rt.out.m.exit.ex_message,
			    in.m.exit.ex_message);
			rt_free(&rt);
		}
	}
	free(longest);
}

Test(roundtrip, list_reply)
{
	char			*names[] = { "alive", "disk-usage", "a.b_c-1",
	    "", NULL }, *longest = repeat('n', PROTO_MAX_NAME);
	struct proto_msg	 in;
	struct rt		 rt;
	size_t			 i;

	/* No names. */
	memset(&in, 0, sizeof(in));
	in.m_type = MSG_LIST_REPLY;
	in.m_tag = 1;
	in.m.names.na_id = 77;
	in.m.names.na_count = 0;
	in.m.names.na_names = NULL;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.names.na_id, 77);
	cr_assert_eq(rt.out.m.names.na_count, 0);
	cr_assert_null(rt.out.m.names.na_state);
	cr_assert_null(rt.out.m.names.na_quiet);
	rt_free(&rt);

	/* Several, including the longest. */
	names[3] = longest;
	in.m.names.na_count = 4;
	in.m.names.na_names = names;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.names.na_count, 4);
	for (i = 0; i < 4; i++)
		cr_assert_str_eq(rt.out.m.names.na_names[i], names[i]);
	cr_assert_null(rt.out.m.names.na_state);
	cr_assert_null(rt.out.m.names.na_quiet);
	rt_free(&rt);
	free(longest);
}

Test(roundtrip, guests_reply)
{
	char			*names[] = { "vm-a", "vm-b", "vm-c", "vm-d" };
	uint8_t			 state[] = { PEER_READY, PEER_DOWN, PEER_SILENT,
				    PEER_DOWN };
	uint32_t		 quiet[] = { 0, PROTO_QUIET_NEVER, 7,
				    UINT32_MAX - 1 };
	uint32_t		 version[] = { PROTO_VERSION, 0, 2, 0 };
	uint32_t		 calls[] = { 0, 1, UINT32_MAX, 12 };
	struct proto_msg	 in;
	struct rt		 rt;
	size_t			 i;

	memset(&in, 0, sizeof(in));
	in.m_type = MSG_GUESTS_REPLY;
	in.m_tag = 2;
	in.m.names.na_id = 8;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.names.na_id, 8);
	cr_assert_eq(rt.out.m.names.na_count, 0);
	rt_free(&rt);

	in.m.names.na_count = 4;
	in.m.names.na_total = 1000;
	in.m.names.na_names = names;
	in.m.names.na_state = state;
	in.m.names.na_quiet = quiet;
	in.m.names.na_version = version;
	in.m.names.na_calls = calls;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.names.na_count, 4);
	cr_assert_eq(rt.out.m.names.na_total, 1000);
	cr_assert_not_null(rt.out.m.names.na_state);
	cr_assert_not_null(rt.out.m.names.na_quiet);
	for (i = 0; i < 4; i++) {
		cr_assert_str_eq(rt.out.m.names.na_names[i], names[i]);
		cr_assert_eq(rt.out.m.names.na_state[i], state[i]);
		cr_assert_eq(rt.out.m.names.na_quiet[i], quiet[i]);
		cr_assert_eq(rt.out.m.names.na_version[i], version[i]);
		cr_assert_eq(rt.out.m.names.na_calls[i], calls[i]);
	}
	rt_free(&rt);
}

/*
 * The largest replies the limits allow: PROTO_MAX_LIST names of
 * PROTO_MAX_NAME bytes.  Each limit alone is respected, so the frame
 * must fit in PROTO_MAX_PAYLOAD and round-trip.
 *
 * Disabled: fails today.  1024 names of 64 bytes take 67589 bytes of
 * msgpack (66 a name), more than PROTO_MAX_PAYLOAD (65536), so the peer
 * drops the reply as an "oversized frame"; policy_list (serve.c's LIST)
 * returns up to PROTO_MAX_LIST names.  Enable once the limits agree.
 */
Test(roundtrip, largest_replies)
{
	static char		 buf[PROTO_MAX_LIST][PROTO_MAX_NAME + 1];
	char			*names[PROTO_MAX_LIST];
	uint8_t			 ready[PROTO_MAX_LIST];
	uint32_t		 quiet[PROTO_MAX_LIST];
	struct proto_msg	 in;
	struct rt		 rt;
	size_t			 i;

	for (i = 0; i < PROTO_MAX_LIST; i++) {
		memset(buf[i], 'n', PROTO_MAX_NAME);
		snprintf(buf[i], 6, "%05zu", i);
		buf[i][5] = 'n';
		names[i] = buf[i];
		ready[i] = i % 2;
		quiet[i] = UINT32_MAX - 1;	/* the widest encoding */
	}
	memset(&in, 0, sizeof(in));
	in.m_type = MSG_LIST_REPLY;
	in.m.names.na_count = PROTO_MAX_LIST;
	in.m.names.na_names = names;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.names.na_count, PROTO_MAX_LIST);
	rt_free(&rt);
	/* GUESTS_REPLY carries more per guest: pages of PROTO_GUESTS_PAGE. */
	in.m_type = MSG_GUESTS_REPLY;
	in.m.names.na_count = PROTO_GUESTS_PAGE;
	in.m.names.na_total = UINT32_MAX;
	in.m.names.na_state = ready;
	in.m.names.na_quiet = quiet;
	in.m.names.na_version = quiet;
	in.m.names.na_calls = quiet;
	roundtrip(&in, &rt);
	cr_assert_eq(rt.out.m.names.na_count, PROTO_GUESTS_PAGE);
	rt_free(&rt);
}

/* Frames packed back to back into one buffer parse one after another. */
Test(roundtrip, back_to_back)
{
	struct buf	 b = { 0 };
	uint16_t	 types[8];
	uint32_t	 tags[8];
	size_t		 left, n, i;
	uint8_t		*c;

	for (i = 0; i < 8; i++)
		pack_ref(&b, i % 2 ? MSG_PONG : MSG_CANCEL, (uint32_t)i, 0);
	c = copy_exact(b.b_data, b.b_len);
	n = parse_all(c, b.b_len, types, tags, 8, &left);
	cr_assert_eq(n, 8);
	cr_assert_eq(left, 0);
	for (i = 0; i < 8; i++) {
		cr_assert_eq(types[i], i % 2 ? MSG_PONG : MSG_CANCEL);
		cr_assert_eq(tags[i], i);
	}
	free(c);
	buf_free(&b);
}

/*
 * proto_pack appends to a send queue whose head may have been partly
 * written (b_off > 0).  Appending can then compact the buffer (buf_reserve
 * moves the pending bytes to the front), when reserving the header or
 * later while packing the payload; the frame must still come out whole
 * after what was pending.
 */
static void
pack_after_partial_write(size_t before, size_t written, size_t datalen)
{
	struct proto_msg	 in, msg;
	struct buf		 b = { 0 };
	uint8_t			*junk = malloc(before), *data = malloc(datalen);
	const char		*why;
	size_t			 consumed;

	cr_assert(junk != NULL && data != NULL);
	memset(junk, 'x', before);
	memset(data, 'd', datalen);
	buf_append(&b, junk, before);
	buf_consume(&b, written);
	memset(&in, 0, sizeof(in));
	in.m_type = MSG_DATA;
	in.m_tag = 9;
	in.m.data.da_id = 4;
	in.m.data.da_len = datalen;
	in.m.data.da_bytes = data;
	proto_pack(&b, &in);
	cr_assert_eq(buf_pending(&b), before - written + PROTO_HDR_LEN +
	    be32dec(buf_head(&b) + before - written + 12));
	cr_assert_arr_eq(buf_head(&b), junk, before - written);
	buf_consume(&b, before - written);	/* the rest is written */
	cr_assert_eq(proto_parse(buf_head(&b), buf_pending(&b), &msg,
	    &consumed, &why), PARSE_OK);
	cr_assert_eq(consumed, buf_pending(&b));
	cr_assert_eq(msg.m_type, MSG_DATA);
	cr_assert_eq(msg.m_tag, 9);
	cr_assert_eq(msg.m.data.da_id, 4);
	cr_assert_eq(msg.m.data.da_len, datalen);
	if (datalen > 0)
		cr_assert_arr_eq(msg.m.data.da_bytes, data, datalen);
	proto_msg_free(&msg);
	buf_free(&b);
	free(junk);
	free(data);
}

Test(roundtrip, pack_after_partial_write)
{
	/* Capacity 4096: the header itself does not fit without moving. */
	pack_after_partial_write(4090, 100, 0);
	/* The header fits; the payload's bytes compact the buffer. */
	pack_after_partial_write(4000, 100, 80);
	/* The payload needs compaction and then growth. */
	pack_after_partial_write(4000, 100, PROTO_MAX_DATA);
	/* Nothing was written yet: growth only. */
	pack_after_partial_write(4090, 0, 1000);
}

/* --- incomplete frames ---------------------------------------------- */

/* Every proper prefix of the frame in b is PARSE_INCOMPLETE. */
static void
expect_prefixes_incomplete(const struct buf *b)
{
	struct proto_msg	 msg;
	const char		*why;
	size_t			 k, consumed;
	uint8_t			*c;
	enum proto_parse	 r;

	for (k = 0; k < b->b_len; k++) {
		c = copy_exact(b->b_data, k);
		consumed = SENTINEL;
		r = proto_parse(c, k, &msg, &consumed, &why);
		if (r == PARSE_OK)
			proto_msg_free(&msg);
		cr_assert_eq(r, PARSE_INCOMPLETE, "prefix %zu of %zu: %d", k,
		    b->b_len, r);
		cr_assert(consumed == SENTINEL || consumed == 0,
		    "prefix %zu: consumed %zu", k, consumed);
		free(c);
	}
}

Test(incomplete, every_prefix)
{
	char			*argv[] = { "echo", "hello", "", NULL };
	uint8_t			 bytes[300];
	char			*names[] = { "a", "b" };
	uint8_t			 ready[] = { 1, 0 };
	uint32_t		 quiet[] = { 3, PROTO_QUIET_NEVER };
	struct proto_msg	 m;
	struct buf		 b = { 0 };
	int			 i;

	memset(bytes, 0x4e, sizeof(bytes));	/* 'N', as in the magic */
	for (i = 0; i < 7; i++) {
		memset(&m, 0, sizeof(m));
		m.m_tag = 0x4e45474f;	/* "NEGO" again */
		switch (i) {
		case 0:
			m.m_type = MSG_HELLO;
			m.m.hello.he_nonce = 1;
			strlcpy(m.m.hello.he_name, "h", sizeof(m.m.hello.he_name));
			break;
		case 1:
			m.m_type = MSG_PONG;
			break;
		case 2:
			m.m_type = MSG_OPEN;
			m.m.open.op_argc = 3;
			m.m.open.op_argv = argv;
			break;
		case 3:
			m.m_type = MSG_DATA;
			m.m.data.da_len = sizeof(bytes);
			m.m.data.da_bytes = bytes;
			break;
		case 4:
			m.m_type = MSG_EXIT;
			m.m.exit.ex_code = -9;
			break;
		case 5:
			m.m_type = MSG_GUESTS_REPLY;
			m.m.names.na_count = 2;
			m.m.names.na_total = 2;
			m.m.names.na_names = names;
			m.m.names.na_state = ready;
			m.m.names.na_quiet = quiet;
			m.m.names.na_version = quiet;
			m.m.names.na_calls = quiet;
			break;
		case 6:
			m.m_type = MSG_DATA;	/* empty: end of stream */
			m.m.data.da_bytes = (const uint8_t *)"";
			break;
		}
		proto_pack(&b, &m);
		expect_prefixes_incomplete(&b);
		buf_clear(&b);
	}
	buf_free(&b);
}

/* A frame announcing the largest payload waits for all of it. */
Test(incomplete, largest_payload)
{
	struct proto_msg	 msg;
	const char		*why;
	uint8_t			*p = calloc(1, PROTO_HDR_LEN +
	    PROTO_MAX_PAYLOAD);
	size_t			 consumed = SENTINEL;

	cr_assert_not_null(p);
	be32enc(p, PROTO_MAGIC);
	p[5] = MSG_DATA;
	be32enc(p + 12, PROTO_MAX_PAYLOAD);
	be32enc(p + PROTO_HDR_CHECKED, checksum_header(p));
	cr_assert_eq(proto_parse(p, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD - 1,
	    &msg, &consumed, &why), PARSE_INCOMPLETE);
	cr_assert(consumed == SENTINEL || consumed == 0);
	/* All there: now the (zero) CRC is wrong. */
	cr_assert_eq(proto_parse(p, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD,
	    &msg, &consumed, &why), PARSE_BAD);
	cr_assert_gt(consumed, 0);
	free(p);
}

/* --- malformed frames ----------------------------------------------- */

Test(malformed, bad_crc)
{
	struct buf	 b = { 0 };
	size_t		 i;
	uint16_t	 types[1];
	uint32_t	 tags[1];
	size_t		 left;

	pack_ref(&b, MSG_PONG, 1, 123456);
	/*
	 * A flipped bit anywhere but the magic and the length is caught
	 * (by the CRC, or the reserved bytes' check).  A changed length may
	 * also just ask for more bytes.
	 */
	for (i = 4; i < b.b_len; i++) {
		b.b_data[i] ^= 0x01;
		if (i < 12 || i >= 16)
			expect_bad(b.b_data, b.b_len, 0);
		/* Nothing at all comes out of the damaged frame. */
		cr_assert_eq(parse_all(b.b_data, b.b_len, types, tags, 1,
		    &left), 0, "byte %zu flipped", i);
		b.b_data[i] ^= 0x01;
	}
	buf_free(&b);
}

Test(malformed, oversized_length)
{
	static const uint32_t	 lens[] = { PROTO_MAX_PAYLOAD + 1,
	    0x7fffffff, 0x80000000, UINT32_MAX };
	struct buf		 b = { 0 };
	size_t			 i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		/* A correct CRC over what is there changes nothing. */
		hand_frame_raw(&b, MSG_PONG, 0, 1, lens[i], "\x91\x01", 2);
		expect_bad(b.b_data, b.b_len, 0);
		/* Not even the bare header waits for more. */
		expect_bad(b.b_data, PROTO_HDR_LEN, 0);
		buf_clear(&b);
	}
	buf_free(&b);
}

Test(malformed, reserved_bytes)
{
	static const uint16_t	 res[] = { 1, 0x100, 0xffff };
	struct buf		 b = { 0 };
	size_t			 i;

	for (i = 0; i < sizeof(res) / sizeof(res[0]); i++) {
		hand_frame_raw(&b, MSG_PONG, res[i], 1, 2, "\x91\x01", 2);
		expect_bad(b.b_data, b.b_len, 0);
		buf_clear(&b);
	}
	/* The same frame with reserved 0 is good: the test is fair. */
	hand_frame_raw(&b, MSG_PONG, 0, 1, 2, "\x91\x01", 2);
	{
		struct proto_msg	 m;
		const char		*why;
		size_t			 consumed;

		cr_assert_eq(proto_parse(b.b_data, b.b_len, &m, &consumed,
		    &why), PARSE_OK);
		cr_assert_eq(m.m.ref.re_id, 1);
		proto_msg_free(&m);
	}
	buf_free(&b);
}

Test(malformed, unknown_type)
{
	static const uint16_t	 types[] = { 0, 3, 15, 18, 31, 37, 47, 52,
	    0x0100, 0x2000, 0xffff };
	size_t			 i;
	struct buf		 b = { 0 };

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		/* A payload that would be a good PONG or CANCEL. */
		hand_frame(&b, types[i], "\x91\x01", 2);
		expect_bad(b.b_data, b.b_len, 1);
		buf_clear(&b);
	}
	buf_free(&b);
}

Test(malformed, not_msgpack)
{
	static const struct {
		const char	*p;
		size_t		 len;
	} payloads[] = {
		{ "", 0 },			/* empty */
		{ "\xc1", 1 },			/* never used */
		{ "\xc1\xc1\xc1\xc1", 4 },
		{ "\x91", 1 },			/* array, item missing */
		{ "\x92\x01", 2 },
		{ "\xdd\xff\xff\xff", 4 },	/* truncated array32 header */
		{ "\xa5" "ab", 3 },		/* short string */
		{ "\xc4\x10" "abc", 5 },	/* short bin */
		{ "\xcf\x00\x00", 3 },		/* short uint64 */
		/* Huge counts with nothing behind them. */
		{ "\xdd\x05\x55\x55\x55", 5 },	/* array32, 89M items */
		{ "\xdd\xff\xff\xff\xff", 5 },
		{ "\xdf\xff\xff\xff\xff", 5 },	/* map32 */
		{ "\x91\xdd\x01\x00\x00\x00", 6 },
	};
	struct buf	 b = { 0 };
	size_t		 i;

	for (i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		hand_frame(&b, MSG_PONG, payloads[i].p, payloads[i].len);
		expect_bad(b.b_data, b.b_len, 1);
		buf_clear(&b);
	}
	buf_free(&b);
}

Test(malformed, trailing_bytes)
{
	msgpack_sbuffer	 sb;

	msgpack_sbuffer_init(&sb);
	mp(&sb, "a u u", 1U, (uint64_t)1, (uint64_t)2);
	expect_bad_payload(MSG_PONG, &sb);
	mp(&sb, "a u n", 1U, (uint64_t)1);
	expect_bad_payload(MSG_CANCEL, &sb);
	mp(&sb, "a u s a", 2U, (uint64_t)1, "", 0U);
	expect_bad_payload(MSG_PING, &sb);
	/* Two whole arrays. */
	mp(&sb, "a u a u", 1U, (uint64_t)1, 1U, (uint64_t)1);
	expect_bad_payload(MSG_PONG, &sb);
	msgpack_sbuffer_destroy(&sb);
}

Test(malformed, field_count)
{
	msgpack_sbuffer	 sb;

	msgpack_sbuffer_init(&sb);
	/* Not an array at all. */
	mp(&sb, "u", (uint64_t)1);
	expect_bad_payload(MSG_PONG, &sb);
	mp(&sb, "m u u", 1U, (uint64_t)1, (uint64_t)1);
	expect_bad_payload(MSG_PONG, &sb);
	mp(&sb, "n");
	expect_bad_payload(MSG_PONG, &sb);
	/* Too few and too many. */
	mp(&sb, "a", 0U);
	expect_bad_payload(MSG_PONG, &sb);
	mp(&sb, "a u u", 2U, (uint64_t)1, (uint64_t)1);
	expect_bad_payload(MSG_CANCEL, &sb);
	mp(&sb, "a u u s", 3U, (uint64_t)1, (uint64_t)2, "h");
	expect_bad_payload(MSG_HELLO_ACK, &sb);
	mp(&sb, "a u u s u", 4U, (uint64_t)1, (uint64_t)2, "h", (uint64_t)3);
	expect_bad_payload(MSG_HELLO, &sb);
	mp(&sb, "a u", 1U, (uint64_t)1);
	expect_bad_payload(MSG_PING, &sb);
	mp(&sb, "a u s u u", 4U, (uint64_t)1, "", (uint64_t)0, (uint64_t)0);
	expect_bad_payload(MSG_OPEN, &sb);
	mp(&sb, "a u u", 2U, (uint64_t)1, (uint64_t)0);
	expect_bad_payload(MSG_DATA, &sb);
	mp(&sb, "a u u u u", 4U, (uint64_t)1, (uint64_t)0, (uint64_t)1,
	    (uint64_t)1);
	expect_bad_payload(MSG_CREDIT, &sb);
	mp(&sb, "a u u i", 3U, (uint64_t)1, (uint64_t)0, (int64_t)0);
	expect_bad_payload(MSG_EXIT, &sb);
	mp(&sb, "a u a a", 3U, (uint64_t)1, 0U, 0U);
	expect_bad_payload(MSG_LIST_REPLY, &sb);
	mp(&sb, "a u a", 2U, (uint64_t)1, 0U);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	msgpack_sbuffer_destroy(&sb);
}

Test(malformed, field_types)
{
	msgpack_sbuffer	 sb;
	size_t		 i;

	msgpack_sbuffer_init(&sb);
	/* A string, a negative, a float, nil, a bool where an id goes. */
	mp(&sb, "a s", 1U, "1");
	expect_bad_payload(MSG_PONG, &sb);
	mp(&sb, "a i", 1U, (int64_t)-1);
	expect_bad_payload(MSG_CANCEL, &sb);
	mp(&sb, "a f", 1U);
	expect_bad_payload(MSG_PONG, &sb);
	mp(&sb, "a n", 1U);
	expect_bad_payload(MSG_PONG, &sb);
	mp(&sb, "a t", 1U);
	expect_bad_payload(MSG_PONG, &sb);
	/* HELLO: string version, int name. */
	mp(&sb, "a s u s", 3U, "1", (uint64_t)1, "h");
	expect_bad_payload(MSG_HELLO, &sb);
	mp(&sb, "a u u u", 3U, (uint64_t)1, (uint64_t)1, (uint64_t)1);
	expect_bad_payload(MSG_HELLO, &sb);
	mp(&sb, "a u u s s", 4U, (uint64_t)1, (uint64_t)1, "h", "1");
	expect_bad_payload(MSG_HELLO_ACK, &sb);
	/* Query target as bin, not str. */
	mp(&sb, "a u b", 2U, (uint64_t)1, "vm", (size_t)2);
	expect_bad_payload(MSG_PING, &sb);
	/* DATA bytes as str, not bin; stream as string. */
	mp(&sb, "a u u s", 3U, (uint64_t)1, (uint64_t)1, "abc");
	expect_bad_payload(MSG_DATA, &sb);
	mp(&sb, "a u s b", 3U, (uint64_t)1, "1", "abc", (size_t)3);
	expect_bad_payload(MSG_DATA, &sb);
	/* CREDIT bytes negative. */
	mp(&sb, "a u u i", 3U, (uint64_t)1, (uint64_t)1, (int64_t)-1);
	expect_bad_payload(MSG_CREDIT, &sb);
	/* EXIT: code a string, message an int. */
	mp(&sb, "a u u s s", 4U, (uint64_t)1, (uint64_t)0, "0", "");
	expect_bad_payload(MSG_EXIT, &sb);
	mp(&sb, "a u u i u", 4U, (uint64_t)1, (uint64_t)0, (int64_t)0,
	    (uint64_t)0);
	expect_bad_payload(MSG_EXIT, &sb);
	/* OPEN: argv not an array; timeout a string. */
	mp(&sb, "a u s u u s a", 6U, (uint64_t)1, "", (uint64_t)0, (uint64_t)0,
	    "echo", 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	mp(&sb, "a u s s u a s a", 6U, (uint64_t)1, "", "0", (uint64_t)0, 1U,
	    "echo", 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	/* OPEN of protocol 6: no environment. */
	mp(&sb, "a u s u u a s", 5U, (uint64_t)1, "", (uint64_t)0, (uint64_t)0,
	    1U, "echo");
	expect_bad_payload(MSG_OPEN, &sb);
	/* The environment not an array, not strings, too many, too long. */
	mp(&sb, "a u s u u a s s", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)0, 1U, "echo", "A=1");
	expect_bad_payload(MSG_OPEN, &sb);
	mp(&sb, "a u s u u a s a u", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)0, 1U, "echo", 1U, (uint64_t)1);
	expect_bad_payload(MSG_OPEN, &sb);
	mp(&sb, "a u s u u a s a S", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)0, 1U, "echo", 1U, "A=\0b", (size_t)4);
	expect_bad_payload(MSG_OPEN, &sb);
	mp(&sb, "a u s u u a s a", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)0, 1U, "echo", (unsigned)PROTO_MAX_ENV + 1);
	for (i = 0; i < PROTO_MAX_ENV + 1; i++)
		mp(&sb, "s", "A=1");
	expect_bad_payload(MSG_OPEN, &sb);
	{
		static char	 big[PROTO_MAX_ENV_SIZE + 2];

		memset(big, 'x', sizeof(big) - 1);
		big[0] = 'A';
		big[1] = '=';
		mp(&sb, "a u s u u a s a s", 6U, (uint64_t)1, "", (uint64_t)0,
		    (uint64_t)0, 1U, "echo", 1U, big);
		expect_bad_payload(MSG_OPEN, &sb);
	}
	/* Names: not an array, or not strings. */
	mp(&sb, "a u s", 2U, (uint64_t)1, "a");
	expect_bad_payload(MSG_LIST_REPLY, &sb);
	mp(&sb, "a u a s u", 2U, (uint64_t)1, 2U, "a", (uint64_t)1);
	expect_bad_payload(MSG_LIST_REPLY, &sb);
	msgpack_sbuffer_destroy(&sb);
}

Test(malformed, out_of_range)
{
	msgpack_sbuffer	 sb;
	char		*name = repeat('x', PROTO_MAX_NAME + 1);
	char		*message = repeat('m', PROTO_MAX_MESSAGE + 1);
	uint8_t		*big = calloc(1, PROTO_MAX_DATA + 1);

	cr_assert_not_null(big);
	msgpack_sbuffer_init(&sb);
	/* HELLO: nonce 0 (in HELLO and HELLO_ACK), version too big. */
	mp(&sb, "a u u s", 3U, (uint64_t)1, (uint64_t)0, "h");
	expect_bad_payload(MSG_HELLO, &sb);
	mp(&sb, "a u u s u", 4U, (uint64_t)1, (uint64_t)0, "h", (uint64_t)1);
	expect_bad_payload(MSG_HELLO_ACK, &sb);
	mp(&sb, "a u u s", 3U, (uint64_t)UINT32_MAX + 1, (uint64_t)1, "h");
	expect_bad_payload(MSG_HELLO, &sb);
	mp(&sb, "a u u s", 3U, UINT64_MAX, (uint64_t)1, "h");
	expect_bad_payload(MSG_HELLO, &sb);
	mp(&sb, "a u u s", 3U, (uint64_t)1, (uint64_t)UINT32_MAX + 1, "h");
	expect_bad_payload(MSG_HELLO, &sb);
	mp(&sb, "a u u s u", 4U, (uint64_t)1, (uint64_t)1, "h",
	    (uint64_t)UINT32_MAX + 1);
	expect_bad_payload(MSG_HELLO_ACK, &sb);
	/* Names one byte too long, or with a NUL. */
	mp(&sb, "a u u s", 3U, (uint64_t)1, (uint64_t)1, name);
	expect_bad_payload(MSG_HELLO, &sb);
	mp(&sb, "a u S", 2U, (uint64_t)1, "a\0b", (size_t)3);
	expect_bad_payload(MSG_PING, &sb);
	mp(&sb, "a u s", 2U, (uint64_t)1, name);
	expect_bad_payload(MSG_PING, &sb);
	mp(&sb, "a u s", 2U, (uint64_t)1, name);
	expect_bad_payload(MSG_LIST, &sb);
	mp(&sb, "a u s", 2U, (uint64_t)1, name);
	expect_bad_payload(MSG_GUESTS, &sb);
	mp(&sb, "a u s u u a s a", 6U, (uint64_t)1, name, (uint64_t)0,
	    (uint64_t)0, 1U, "echo", 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	/* An id too big. */
	mp(&sb, "a u", 1U, (uint64_t)UINT32_MAX + 1);
	expect_bad_payload(MSG_PONG, &sb);
	/* DATA: stream out of range, too many bytes. */
	mp(&sb, "a u u b", 3U, (uint64_t)1, (uint64_t)STREAM_COUNT, "x",
	    (size_t)1);
	expect_bad_payload(MSG_DATA, &sb);
	mp(&sb, "a u u b", 3U, (uint64_t)1, (uint64_t)UINT32_MAX, "x",
	    (size_t)1);
	expect_bad_payload(MSG_DATA, &sb);
	mp(&sb, "a u u b", 3U, (uint64_t)1, (uint64_t)1, big,
	    (size_t)PROTO_MAX_DATA + 1);
	expect_bad_payload(MSG_DATA, &sb);
	/* CREDIT: too much, bad stream. */
	mp(&sb, "a u u u", 3U, (uint64_t)1, (uint64_t)0,
	    (uint64_t)PROTO_MAX_CREDIT + 1);
	expect_bad_payload(MSG_CREDIT, &sb);
	mp(&sb, "a u u u", 3U, (uint64_t)1, (uint64_t)0, (uint64_t)UINT32_MAX);
	expect_bad_payload(MSG_CREDIT, &sb);
	mp(&sb, "a u u u", 3U, (uint64_t)1, (uint64_t)STREAM_COUNT,
	    (uint64_t)1);
	expect_bad_payload(MSG_CREDIT, &sb);
	/* EXIT: unknown kind, code out of int32, message too long. */
	mp(&sb, "a u u i s", 4U, (uint64_t)1, (uint64_t)EXIT_KIND_COUNT,
	    (int64_t)0, "");
	expect_bad_payload(MSG_EXIT, &sb);
	mp(&sb, "a u u i s", 4U, (uint64_t)1, (uint64_t)0,
	    (int64_t)INT32_MIN - 1, "");
	expect_bad_payload(MSG_EXIT, &sb);
	mp(&sb, "a u u u s", 4U, (uint64_t)1, (uint64_t)0,
	    (uint64_t)INT32_MAX + 1, "");
	expect_bad_payload(MSG_EXIT, &sb);
	mp(&sb, "a u u i s", 4U, (uint64_t)1, (uint64_t)0, (int64_t)0,
	    message);
	expect_bad_payload(MSG_EXIT, &sb);
	mp(&sb, "a u u i S", 4U, (uint64_t)1, (uint64_t)0, (int64_t)0,
	    "bye\0", (size_t)4);
	expect_bad_payload(MSG_EXIT, &sb);
	msgpack_sbuffer_destroy(&sb);
	free(name);
	free(message);
	free(big);
}

Test(malformed, open_argv)
{
	msgpack_sbuffer	 sb;
	size_t		 i;

	msgpack_sbuffer_init(&sb);
	/* Empty argv. */
	mp(&sb, "a u s u u a a", 6U, (uint64_t)1, "", (uint64_t)0, (uint64_t)0,
	    0U, 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	/* One argument too many. */
	mp(&sb, "a u s u u a", 6U, (uint64_t)1, "", (uint64_t)0, (uint64_t)0,
	    (unsigned)PROTO_MAX_ARGS + 1);
	for (i = 0; i < PROTO_MAX_ARGS + 1; i++)
		mp(&sb, "s", "x");
	mp(&sb, "a", 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	/* A NUL byte in the first, middle or last argument. */
	mp(&sb, "a u s u u a S s s a", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)0, 3U, "ec\0ho", (size_t)5, "a", "b", 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	mp(&sb, "a u s u u a s S s a", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)0, 3U, "echo", "a\0", (size_t)2, "b", 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	mp(&sb, "a u s u u a s s S a", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)0, 3U, "echo", "a", "\0", (size_t)1, 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	/* A non-string argument after good ones (frees those). */
	mp(&sb, "a u s u u a s s u a", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)0, 3U, "echo", "a", (uint64_t)1, 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	mp(&sb, "a u s u u a s b a", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)0, 2U, "echo", "a", (size_t)1, 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	/* Unknown flag bits. */
	mp(&sb, "a u s u u a s a", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)0x2, 1U, "echo", 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	mp(&sb, "a u s u u a s a", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)(OPEN_STDIN | 0x80000000U), 1U, "echo", 0U);
	expect_bad_payload(MSG_OPEN, &sb);
	/* The same frame with good flags parses: the test is fair. */
	mp(&sb, "a u s u u a s a", 6U, (uint64_t)1, "", (uint64_t)0,
	    (uint64_t)OPEN_STDIN, 1U, "echo", 0U);
	{
		struct proto_msg	 m;
		const char		*why;

		cr_assert_eq(proto_unpack(MSG_OPEN, (const uint8_t *)sb.data,
		    sb.size, &m, &why), 0);
		cr_assert_str_eq(m.m.open.op_argv[0], "echo");
		proto_msg_free(&m);
	}
	msgpack_sbuffer_destroy(&sb);
}

Test(malformed, names)
{
	msgpack_sbuffer	 sb;
	char		*name = repeat('n', PROTO_MAX_NAME + 1);
	size_t		 i;

	msgpack_sbuffer_init(&sb);
	/* A name too long, or with a NUL, after good ones. */
	mp(&sb, "a u a s s", 2U, (uint64_t)1, 2U, "a", name);
	expect_bad_payload(MSG_LIST_REPLY, &sb);
	mp(&sb, "a u a s S", 2U, (uint64_t)1, 2U, "a", "b\0", (size_t)2);
	expect_bad_payload(MSG_LIST_REPLY, &sb);
	/* More names than PROTO_MAX_LIST. */
	mp(&sb, "a u a", 2U, (uint64_t)1, (unsigned)PROTO_MAX_LIST + 1);
	for (i = 0; i < PROTO_MAX_LIST + 1; i++)
		mp(&sb, "s", "n");
	expect_bad_payload(MSG_LIST_REPLY, &sb);
	/*
	 * GUESTS_REPLY: states or quiet times missing, too many, a state
	 * out of range, a time that is not a u32; the old three-field form.
	 */
	mp(&sb, "a u a s s a u a u u", 4U, (uint64_t)1, 2U, "a", "b", 1U,
	    (uint64_t)1, 2U, (uint64_t)0, (uint64_t)0);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	mp(&sb, "a u a s a u u a u", 4U, (uint64_t)1, 1U, "a", 2U,
	    (uint64_t)1, (uint64_t)0, 1U, (uint64_t)0);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	mp(&sb, "a u a s s a u u a u u", 4U, (uint64_t)1, 2U, "a", "b", 2U,
	    (uint64_t)1, (uint64_t)PEER_STATE_COUNT, 2U, (uint64_t)0,
	    (uint64_t)0);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	mp(&sb, "a u a s s a u u a u", 4U, (uint64_t)1, 2U, "a", "b", 2U,
	    (uint64_t)1, (uint64_t)2, 1U, (uint64_t)0);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	mp(&sb, "a u a s a u a i", 4U, (uint64_t)1, 1U, "a", 1U,
	    (uint64_t)1, 1U, (int64_t)-1);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	mp(&sb, "a u a s a u a u", 4U, (uint64_t)1, 1U, "a", 1U,
	    (uint64_t)1, 1U, (uint64_t)UINT32_MAX + 1);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	mp(&sb, "a u a s s a u t", 4U, (uint64_t)1, 2U, "a", "b", 2U,
	    (uint64_t)1);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	mp(&sb, "a u a s a u", 3U, (uint64_t)1, 1U, "a", 1U, (uint64_t)1);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	/*
	 * The paged form: a total below the page's count, versions or call
	 * counts missing or not u32.
	 */
	mp(&sb, "a u a s a u a u u a u a u", 7U, (uint64_t)1, 1U, "a", 1U,
	    (uint64_t)1, 1U, (uint64_t)0, (uint64_t)0, 1U, (uint64_t)3, 1U,
	    (uint64_t)0);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	mp(&sb, "a u a s a u a u u a a u", 7U, (uint64_t)1, 1U, "a", 1U,
	    (uint64_t)1, 1U, (uint64_t)0, (uint64_t)1, 0U, 1U, (uint64_t)0);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	mp(&sb, "a u a s a u a u u a i a u", 7U, (uint64_t)1, 1U, "a", 1U,
	    (uint64_t)1, 1U, (uint64_t)0, (uint64_t)1, 1U, (int64_t)-3, 1U,
	    (uint64_t)0);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	mp(&sb, "a u a s a u a u u a u a u", 7U, (uint64_t)1, 1U, "a", 1U,
	    (uint64_t)1, 1U, (uint64_t)0, (uint64_t)1, 1U, (uint64_t)3, 1U,
	    (uint64_t)UINT32_MAX + 1);
	expect_bad_payload(MSG_GUESTS_REPLY, &sb);
	msgpack_sbuffer_destroy(&sb);
	free(name);
}

/* proto_unpack alone: type checked first, and *why always set. */
Test(malformed, unpack_direct)
{
	struct proto_msg	 m;
	const char		*why = NULL;

	cr_assert_eq(proto_unpack(0x7777, (const uint8_t *)"\x91\x01", 2, &m,
	    &why), -1);
	cr_assert_not_null(why);
	why = NULL;
	cr_assert_eq(proto_unpack(MSG_PONG, (const uint8_t *)"\x91\xa1x", 3,
	    &m, &why), -1);
	cr_assert_not_null(why);
	cr_assert_eq(proto_unpack(MSG_PONG, (const uint8_t *)"\x91\x05", 2,
	    &m, &why), 0);
	cr_assert_eq(m.m.ref.re_id, 5);
	proto_msg_free(&m);
}

/* Garbage with no magic: consumed, keeping a tail that may start one. */
Test(malformed, garbage)
{
	struct proto_msg	 msg;
	const char		*why;
	uint8_t			 g[64];
	size_t			 consumed, i;

	for (i = 0; i < sizeof(g); i++)
		g[i] = (uint8_t)(i * 37 + 1) == 'N' ? 0 : (uint8_t)(i * 37 + 1);
	consumed = SENTINEL;
	cr_assert_eq(proto_parse(g, sizeof(g), &msg, &consumed, &why),
	    PARSE_BAD);
	cr_assert_eq(consumed, sizeof(g) - 3);
	/* A magic whose header fails its check is garbage too. */
	memcpy(g + 10, "NEGO", 4);
	cr_assert_eq(proto_parse(g, sizeof(g), &msg, &consumed, &why),
	    PARSE_BAD);
	cr_assert_eq(consumed, sizeof(g) - 3);
	/* Garbage, then a magic too near the end to check: up to it. */
	memcpy(g + 10, "xxxx", 4);
	memcpy(g + 50, "NEGO", 4);
	cr_assert_eq(proto_parse(g, sizeof(g), &msg, &consumed, &why),
	    PARSE_BAD);
	cr_assert_eq(consumed, 50);
	memcpy(g + 50, "xxxx", 4);
	/* A partial magic at the end is kept. */
	memcpy(g + sizeof(g) - 3, "NEG", 3);
	cr_assert_eq(proto_parse(g, sizeof(g), &msg, &consumed, &why),
	    PARSE_BAD);
	cr_assert_eq(consumed, sizeof(g) - 3);
	/* Fewer than 4 bytes of garbage: wait. */
	consumed = SENTINEL;
	cr_assert_eq(proto_parse(g, 3, &msg, &consumed, &why),
	    PARSE_INCOMPLETE);
	cr_assert(consumed == SENTINEL || consumed == 0);
}

/* --- resynchronisation ---------------------------------------------- */

/* Random bytes that contain no 'N', so no magic by chance. */
static void
append_garbage(struct buf *b, size_t n, unsigned *seed)
{
	uint8_t	 c;
	size_t	 i;

	for (i = 0; i < n; i++) {
		*seed = *seed * 1103515245U + 12345U;
		c = (uint8_t)(*seed >> 16);
		if (c == 'N')
			c = 'n';
		buf_append(b, &c, 1);
	}
}

/*
 * [garbage with "NEGO"s][frame A][a truncated frame][garbage][frame B]
 * The fake magics are followed by a huge length, by nonzero reserved
 * bytes, and by a plausible header with a bad CRC.
 */
static void
build_resync(struct buf *b)
{
	struct proto_msg	 m;
	struct buf		 c = { 0 };
	uint8_t			 hdr[16];
	unsigned		 seed = 12345;
	char			*argv[] = { "echo", "hi", NULL };

	append_garbage(b, 50, &seed);
	buf_append(b, "NEGO", 4);
	append_garbage(b, 30, &seed);
	/* A magic with a huge length and otherwise a clean header. */
	be32enc(hdr, PROTO_MAGIC);
	be32enc(hdr + 4, MSG_PONG << 16);
	be32enc(hdr + 8, 0);
	be32enc(hdr + 12, UINT32_MAX);
	buf_append(b, hdr, 16);
	append_garbage(b, 10, &seed);
	/* Nonzero reserved bytes. */
	be32enc(hdr + 4, MSG_PONG << 16 | 1);
	be32enc(hdr + 12, 4);
	buf_append(b, hdr, 16);
	append_garbage(b, 10, &seed);
	/* A plausible header with a short length and a bad CRC. */
	be32enc(hdr + 4, MSG_PONG << 16);
	be32enc(hdr + 12, 2);
	buf_append(b, hdr, 16);
	buf_append(b, "\0\0\0\0\x91\x01", 6);

	/* Frame A. */
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_OPEN;
	m.m_tag = 0xaaaa;
	m.m.open.op_argc = 2;
	m.m.open.op_argv = argv;
	proto_pack(b, &m);

	/* A copy of a frame, cut short in its payload. */
	pack_ref(&c, MSG_CANCEL, 0xcccc, 0x12345678);
	buf_append(b, c.b_data, c.b_len - 2);
	buf_free(&c);

	append_garbage(b, 40, &seed);
	buf_append(b, "NEGONEGO", 8);
	append_garbage(b, 40, &seed);

	/* Frame B. */
	pack_ref(b, MSG_PONG, 0xbbbb, 1);
}

Test(resync, finds_frames_after_garbage)
{
	struct buf	 b = { 0 };
	uint16_t	 types[2];
	uint32_t	 tags[2];
	size_t		 left, n;
	uint8_t		*c;

	build_resync(&b);
	c = copy_exact(b.b_data, b.b_len);
	n = parse_all(c, b.b_len, types, tags, 2, &left);
	cr_assert_eq(n, 2, "got %zu frames", n);
	cr_assert_eq(types[0], MSG_OPEN);
	cr_assert_eq(tags[0], 0xaaaa);
	cr_assert_eq(types[1], MSG_PONG);
	cr_assert_eq(tags[1], 0xbbbb);
	cr_assert_eq(left, 0);
	free(c);
	buf_free(&b);
}

/* The same bytes arriving in pieces of every size, as from a pipe. */
Test(resync, streamed_in_pieces)
{
	struct proto_msg	 msg;
	struct buf		 all = { 0 }, in = { 0 };
	const char		*why;
	size_t			 step, off, n, consumed;
	uint16_t		 types[2];
	uint32_t		 tags[2];
	enum proto_parse	 r;

	build_resync(&all);
	for (step = 1; step <= 64; step++) {
		n = 0;
		for (off = 0; off < all.b_len; off += step) {
			buf_append(&in, all.b_data + off, all.b_len - off <
			    step ? all.b_len - off : step);
			while (buf_pending(&in) > 0) {
				r = proto_parse(buf_head(&in), buf_pending(&in),
				    &msg, &consumed, &why);
				if (r == PARSE_INCOMPLETE)
					break;
				if (r == PARSE_OK) {
					cr_assert_lt(n, 2);
					types[n] = msg.m_type;
					tags[n++] = msg.m_tag;
					proto_msg_free(&msg);
				}
				buf_consume(&in, consumed);
			}
		}
		cr_assert_eq(n, 2, "step %zu: %zu frames", step, n);
		cr_assert_eq(tags[0], 0xaaaa);
		cr_assert_eq(types[0], MSG_OPEN);
		cr_assert_eq(tags[1], 0xbbbb);
		cr_assert_eq(types[1], MSG_PONG);
		cr_assert_eq(buf_pending(&in), 0);
		buf_clear(&in);
	}
	buf_free(&in);
	buf_free(&all);
}

/* A huge fake length right after a real magic swallows nothing. */
Test(resync, huge_length_does_not_swallow)
{
	struct buf	 b = { 0 };
	uint8_t		 hdr[PROTO_HDR_LEN];
	uint16_t	 types[1];
	uint32_t	 tags[1];
	size_t		 left, i;
	uint32_t	 lens[] = { PROTO_MAX_PAYLOAD + 1, UINT32_MAX };

	for (i = 0; i < 2; i++) {
		memset(hdr, 0, sizeof(hdr));
		be32enc(hdr, PROTO_MAGIC);
		hdr[5] = MSG_DATA;
		be32enc(hdr + 12, lens[i]);
		buf_append(&b, hdr, sizeof(hdr));
		pack_ref(&b, MSG_CANCEL, 0x1111, 2);
		cr_assert_eq(parse_all(b.b_data, b.b_len, types, tags, 1,
		    &left), 1);
		cr_assert_eq(types[0], MSG_CANCEL);
		cr_assert_eq(tags[0], 0x1111);
		cr_assert_eq(left, 0);
		/* Even with the fake header cut to its first 16 bytes. */
		buf_clear(&b);
		buf_append(&b, hdr, 16);
		pack_ref(&b, MSG_CANCEL, 0x2222, 2);
		cr_assert_eq(parse_all(b.b_data, b.b_len, types, tags, 1,
		    &left), 1);
		cr_assert_eq(tags[0], 0x2222);
		buf_clear(&b);
	}
	buf_free(&b);
}

/*
 * A frame whose header is intact but whose check fails is skipped whole:
 * a good frame inside its claimed payload is not looked for (what a
 * command prints may look like a frame), and costs nothing.
 */
Test(resync, frame_inside_bad_frame_is_skipped)
{
	struct buf	 b = { 0 }, inner = { 0 };
	uint16_t	 types[2];
	uint32_t	 tags[2];
	size_t		 left;

	pack_ref(&inner, MSG_PONG, 0x3333, 3);
	/* A header claiming the inner frame as its payload, bad CRC. */
	hand_frame_raw(&b, MSG_DATA, 0, 0, (uint32_t)inner.b_len,
	    "wrong", 5);
	b.b_len -= 5;
	buf_append(&b, inner.b_data, inner.b_len);
	pack_ref(&b, MSG_PONG, 0x4444, 4);
	cr_assert_eq(parse_all(b.b_data, b.b_len, types, tags, 2, &left), 1);
	cr_assert_eq(types[0], MSG_PONG);
	cr_assert_eq(tags[0], 0x4444);
	cr_assert_eq(left, 0);
	buf_free(&b);
	buf_free(&inner);
}

/* A header that fails its own check is garbage: the search goes on. */
Test(resync, frame_after_bad_header_is_found)
{
	struct buf	 b = { 0 }, inner = { 0 };
	uint16_t	 types[1];
	uint32_t	 tags[1];
	size_t		 left;

	pack_ref(&inner, MSG_PONG, 0x3333, 3);
	hand_frame_raw(&b, MSG_DATA, 0, 0, (uint32_t)inner.b_len,
	    "wrong", 5);
	b.b_len -= 5;
	b.b_data[PROTO_HDR_CHECKED] ^= 0x80;	/* the header check */
	buf_append(&b, inner.b_data, inner.b_len);
	cr_assert_eq(parse_all(b.b_data, b.b_len, types, tags, 1, &left), 1);
	cr_assert_eq(types[0], MSG_PONG);
	cr_assert_eq(tags[0], 0x3333);
	cr_assert_eq(left, 0);
	buf_free(&b);
	buf_free(&inner);
}

/* --- names and checksums -------------------------------------------- */

Test(misc, type_names)
{
	static const struct {
		uint16_t	 type;
		const char	*name;
	} known[] = {
		{ MSG_HELLO, "HELLO" }, { MSG_HELLO_ACK, "HELLO_ACK" },
		{ MSG_PING, "PING" }, { MSG_PONG, "PONG" },
		{ MSG_OPEN, "OPEN" }, { MSG_DATA, "DATA" },
		{ MSG_CREDIT, "CREDIT" }, { MSG_CANCEL, "CANCEL" },
		{ MSG_EXIT, "EXIT" }, { MSG_LIST, "LIST" },
		{ MSG_LIST_REPLY, "LIST_REPLY" }, { MSG_GUESTS, "GUESTS" },
		{ MSG_GUESTS_REPLY, "GUESTS_REPLY" }, { MSG_TTY, "TTY" },
	};
	static const uint16_t	 unknown[] = { 0, 3, 16 + 2, 38, 52, 0xffff };
	size_t			 i;

	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		cr_assert_str_eq(proto_type_name(known[i].type),
		    known[i].name);
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		cr_assert_str_eq(proto_type_name(unknown[i]), "UNKNOWN");
}

/*
 * The frame check is zlib's CRC-32 of the first 16 header bytes and the
 * payload (a DATA payload's first PROTO_DATA_HEAD bytes); the vector is
 * CRC-32's own ("123456789").
 */
Test(misc, frame_check_is_zlib_crc32)
{
	uint8_t		 hdr[16] = { 'N', 'E', 'G', 'O', 0, MSG_PONG };
	uint8_t		 data[16] = { 'N', 'E', 'G', 'O', 0, MSG_DATA };
	const char	*p = "123456789";

	cr_assert_eq(crc32(0, (const Bytef *)p, 9), 0xcbf43926U);
	cr_assert_eq(checksum_frame(hdr, p, 9), crc32(crc32(0, hdr, 16),
	    (const Bytef *)p, 9));
	cr_assert_eq(checksum_frame(hdr, NULL, 0), crc32(0, hdr, 16));
	cr_assert_eq(checksum_frame(data, p, 9), crc32(crc32(0, data, 16),
	    (const Bytef *)p, PROTO_DATA_HEAD));
}

/*
 * The header check is the low 32 bits of libxxhash's XXH3-64, seeded with
 * the magic: the library's own vector (XXH3 of nothing), then the library
 * as the reference at every offset.
 */
Test(misc, header_check_is_xxh3)
{
	static const char	 spam[] = "Nobody inspects the spammish repetition";

	cr_assert_eq(XXH3_64bits("", 0), 0x2d06800538d394c2ULL);
	cr_assert_eq(XXH3_64bits_withSeed(spam, PROTO_HDR_CHECKED,
	    PROTO_MAGIC), 0x6f9ff96e9b782182ULL);
	for (size_t i = 0; i + PROTO_HDR_CHECKED <= sizeof(spam); i++)
		cr_assert_eq(checksum_header((const uint8_t *)spam + i),
		    (uint32_t)XXH3_64bits_withSeed(spam + i, PROTO_HDR_CHECKED,
		    PROTO_MAGIC));
}

/*
 * A DATA frame's check covers its header and its id and stream, and its
 * trailer is its own header check inverted (proto.h): a flipped bit there
 * is caught, a DATA frame carrying a whole-payload CRC-32 is rejected, the
 * bytes themselves are not looked at, and a DATA frame cut short whose
 * claimed length runs into the next frame is rejected rather than taken
 * with that frame as its tail.
 */
Test(malformed, data_check)
{
	struct buf		 b = { 0 };
	struct proto_msg	 m, got;
	uint8_t			 bytes[1000];
	const char		*why;
	size_t			 i, plen, used;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)(i * 7);
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_DATA;
	m.m.data.da_id = 7;
	m.m.data.da_stream = STREAM_STDERR;
	m.m.data.da_bytes = bytes;
	m.m.data.da_len = sizeof(bytes);
	proto_pack(&b, &m);
	plen = b.b_len - PROTO_HDR_LEN;
	cr_assert_eq(plen, PROTO_DATA_HEAD + sizeof(bytes) + PROTO_DATA_TRAILER);
	cr_assert_eq(be32dec(b.b_data + 16), crc32(crc32(0, b.b_data, 16),
	    b.b_data + PROTO_HDR_LEN, PROTO_DATA_HEAD));
	cr_assert_eq(be32dec(b.b_data + b.b_len - 4),
	    ~be32dec(b.b_data + PROTO_HDR_CHECKED));
	for (i = 4; i < b.b_len; i += 3) {
		if (i >= 12 && i < 16)
			continue;	/* the length: may ask for more */
		if (i >= PROTO_HDR_LEN + PROTO_DATA_HEAD && i < b.b_len - 4)
			continue;	/* the bytes: not checked */
		b.b_data[i] ^= 0x10;
		expect_bad(b.b_data, b.b_len, 0);
		b.b_data[i] ^= 0x10;
	}
	/* The bytes are delivered as they are, unexamined. */
	b.b_data[PROTO_HDR_LEN + PROTO_DATA_HEAD + 5] ^= 0x10;
	cr_assert_eq(proto_parse(b.b_data, b.b_len, &got, &used, &why),
	    PARSE_OK);
	cr_assert_eq(used, b.b_len);
	cr_assert_eq(got.m.data.da_id, 7);
	cr_assert_eq(got.m.data.da_stream, STREAM_STDERR);
	cr_assert_eq(got.m.data.da_len, sizeof(bytes));
	cr_assert_eq(got.m.data.da_bytes[5], bytes[5] ^ 0x10);
	b.b_data[PROTO_HDR_LEN + PROTO_DATA_HEAD + 5] ^= 0x10;
	be32enc(b.b_data + 16, crc32(crc32(0, b.b_data, 16),
	    b.b_data + PROTO_HDR_LEN, plen));
	expect_bad(b.b_data, b.b_len, 0);
	be32enc(b.b_data + 16, checksum_frame(b.b_data,
	    b.b_data + PROTO_HDR_LEN, plen));

	/* Cut after 600 bytes; PONGs follow until the claimed length. */
	b.b_len = 600;
	while (b.b_len < PROTO_HDR_LEN + plen)
		pack_ref(&b, MSG_PONG, 1, 99);
	expect_bad(b.b_data, b.b_len, 0);
	buf_free(&b);
}

/*
 * An ext8 item (length, type byte, data) followed by an array32 that
 * declares 2^32-1 items: the declared count must be caught without
 * msgpack-c allocating for it, which needs the ext's type byte counted.
 */
Test(malformed, array_count_after_ext)
{
	static const uint8_t	 payload[] = {
		0x92,			/* array of 2 */
		0xc7, 0x01, 0x05, 0xaa,	/* ext8: 1 byte of type 5 */
		0xdd, 0xff, 0xff, 0xff, 0xff, 0x01,
	};
	struct proto_msg	 m;
	const char		*why = NULL;

	cr_assert_eq(proto_unpack(MSG_PONG, payload, sizeof(payload), &m,
	    &why), -1);
	cr_assert_str_eq(why, "malformed msgpack");
}

/* --- the cost of decoding (proto.h): bytes examined per input byte -- */

/*
 * The daemons' loop as channel.c runs it, fed (p, len) in reads of chunk
 * bytes: after each read, parse at the head until PARSE_INCOMPLETE.
 * Returns the bytes proto_parse examined; *reads the number of reads.
 */
static uint64_t
cost_of(const uint8_t *p, size_t len, size_t chunk, size_t *reads,
    size_t *frames)
{
	struct buf		 in = { 0 };
	struct proto_msg	 msg;
	const char		*why;
	size_t			 off, used, n;
	uint64_t		 before = proto_bytes_examined();
	enum proto_parse	 r;

	*reads = *frames = 0;
	for (off = 0; off < len; off += n) {
		n = len - off < chunk ? len - off : chunk;
		buf_append(&in, p + off, n);
		(*reads)++;
		while ((r = proto_parse(buf_head(&in), buf_pending(&in), &msg,
		    &used, &why)) != PARSE_INCOMPLETE) {
			if (r == PARSE_OK) {
				proto_msg_free(&msg);
				(*frames)++;
			}
			buf_consume(&in, used);
		}
	}
	buf_free(&in);
	return proto_bytes_examined() - before;
}

static void
put_header(uint8_t *h, uint16_t type, uint32_t len)
{
	memset(h, 0, PROTO_HDR_LEN);
	be32enc(h, PROTO_MAGIC);
	h[4] = type >> 8;
	h[5] = type & 0xff;
	be32enc(h + 12, len);
	be32enc(h + 16, 0x12345678);	/* a payload check that fails */
	be32enc(h + PROTO_HDR_CHECKED, checksum_header(h));
}

#define COST_LEN	(10 * 1000 * 1000)

/* Fills p with COST_LEN bytes of the given adversarial kind. */
static void
adversarial(uint8_t *p, int kind)
{
	static const uint8_t	 fake[8] = { 'N', 'E', 'G', 'O', 0, 1, 0, 0 };
	size_t			 off, i;
	struct buf		 v = { 0 };
	struct proto_msg	 m;

	switch (kind) {
	case 0:		/* the candidate header of issue 9, repeated */
		for (off = 0; off + 8 <= COST_LEN; off += 8)
			memcpy(p + off, fake, 8);
		break;
	case 1:		/* the magic alone, repeated */
		for (off = 0; off + 4 <= COST_LEN; off += 4)
			memcpy(p + off, "NEGO", 4);
		break;
	case 2:		/* its first byte, repeated */
		memset(p, 'N', COST_LEN);
		break;
	case 3:		/* random bytes with planted magics */
		for (off = 0; off < COST_LEN; off++)
			p[off] = (uint8_t)arc4random();
		for (off = 0; off + 4 <= COST_LEN; off += 8 + arc4random() % 24)
			be32enc(p + off, PROTO_MAGIC);
		break;
	case 4:		/* good headers of the largest length, bad payloads */
		memset(p, 'x', COST_LEN);
		for (off = 0; off + PROTO_HDR_LEN <= COST_LEN;
		    off += PROTO_HDR_LEN + PROTO_MAX_PAYLOAD)
			put_header(p + off, MSG_DATA, PROTO_MAX_PAYLOAD);
		break;
	case 5:		/* good headers nested a header apart */
		for (off = 0; off + PROTO_HDR_LEN <= COST_LEN;
		    off += PROTO_HDR_LEN)
			put_header(p + off, MSG_OPEN, PROTO_MAX_PAYLOAD);
		memset(p + off, 0, COST_LEN - off);
		break;
	case 6:		/* oversized requests, each with its id */
		memset(p, 'y', COST_LEN);
		for (off = 0; off + PROTO_HDR_LEN + 6 <= COST_LEN;
		    off += PROTO_HDR_LEN + 6 + arc4random() % 64) {
			put_header(p + off, MSG_OPEN, UINT32_MAX);
			memcpy(p + off + PROTO_HDR_LEN, "\x95\xce\0\0\0\x07", 6);
		}
		break;
	case 7:		/* valid frames between bursts of garbage */
		memset(&m, 0, sizeof(m));
		m.m_type = MSG_PONG;
		for (off = 0; off < COST_LEN;) {
			m.m.ref.re_id = (uint32_t)off;
			buf_clear(&v);
			proto_pack(&v, &m);
			if (off + v.b_len > COST_LEN)
				break;
			memcpy(p + off, v.b_data, v.b_len);
			off += v.b_len;
			for (i = arc4random() % 200; i > 0 && off < COST_LEN;
			    i--)
				p[off++] = i % 7 == 0 ? 'N' : (uint8_t)i;
		}
		memset(p + off, 0, COST_LEN - off);
		buf_free(&v);
		break;
	}
}

/*
 * Every adversarial stream costs at most 6 bytes examined per input byte
 * (3 times what valid traffic costs: its payload checked, then decoded),
 * plus one header per read; never a payload checked twice.  Issue 9's
 * pattern used to cost 8 KiB of checksum per input byte.
 */
Test(cost, adversarial_streams_cost_o_input)
{
	static const char	*names[] = { "NEGO\\0\\1\\0\\0 repeated",
				    "NEGO repeated", "N repeated",
				    "random with planted magics",
				    "good headers, bad payloads",
				    "nested good headers", "oversized requests",
				    "valid frames in garbage" };
	static const size_t	 chunks[] = { 65536 + PROTO_HDR_LEN, 4096, 7 };
	uint8_t			*p = malloc(COST_LEN);
	struct buf		 valid = { 0 };
	struct proto_msg	 m;
	static uint8_t		 bytes[32 * 1024];
	uint64_t		 work, base;
	size_t			 reads, frames, k, c;

	cr_assert_not_null(p);
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_DATA;
	m.m.data.da_bytes = bytes;
	m.m.data.da_len = sizeof(bytes);
	while (valid.b_len < COST_LEN)
		proto_pack(&valid, &m);
	base = cost_of(valid.b_data, valid.b_len, chunks[0], &reads, &frames);
	cr_assert_gt(frames, 300);
	cr_assert_leq(base, 2 * (uint64_t)valid.b_len + 28 * reads);
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		adversarial(p, (int)k);
		for (c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			/* A byte at a time is slow to run: 1 MB of it. */
			size_t	 len = chunks[c] < 100 ? COST_LEN / 10 :
				    COST_LEN;

			work = cost_of(p, len, chunks[c], &reads, &frames);
			cr_assert_leq(work, 6 * (uint64_t)len + 28 * reads,
			    "%s in reads of %zu: %llu bytes examined for "
			    "%zu (%zu reads)", names[k], chunks[c],
			    (unsigned long long)work, len, reads);
		}
	}
	free(p);
	buf_free(&valid);
}

/* A max-length frame with a good header, then a dribble: O(header) a read. */
Test(cost, a_dribble_into_a_good_header_costs_a_header_a_read)
{
	uint8_t		*p = calloc(1, PROTO_HDR_LEN + PROTO_MAX_PAYLOAD);
	uint64_t	 work;
	size_t		 reads, frames, len = PROTO_HDR_LEN + PROTO_MAX_PAYLOAD;

	cr_assert_not_null(p);
	put_header(p, MSG_DATA, PROTO_MAX_PAYLOAD);
	work = cost_of(p, len, 1, &reads, &frames);
	cr_assert_eq(reads, len);
	cr_assert_eq(frames, 0);
	/* The header on every read, the payload once at the end. */
	cr_assert_leq(work, 28 * (uint64_t)reads + PROTO_MAX_PAYLOAD);
	free(p);
}

/* --- requests refused with an answer (PARSE_REFUSED) ------------------ */

/* Parses the frame in b, which must be refused with id and a reason. */
static void
expect_refused(struct buf *b, uint16_t type, uint32_t id, const char *why_is)
{
	struct proto_msg	 msg;
	const char		*why = NULL;
	size_t			 consumed = SENTINEL;
	uint8_t			*c = copy_exact(b->b_data, b->b_len);

	cr_assert_eq(proto_parse(c, b->b_len, &msg, &consumed, &why),
	    PARSE_REFUSED);
	cr_assert_eq(msg.m_type, type);
	cr_assert_eq(msg.m_tag, 7);
	cr_assert_eq(type == MSG_OPEN ? msg.m.open.op_id : msg.m.query.qu_id,
	    id);
	cr_assert_not_null(why);
	cr_assert_str_eq(why, why_is);
	cr_assert_gt(consumed, 0);
	cr_assert_leq(consumed, b->b_len);
	free(c);
}

/* An OPEN payload [id, "", 0, 0, argv, []] with n copies of arg. */
static void
open_with(struct buf *b, uint32_t id, size_t n, const char *arg, size_t len)
{
	msgpack_sbuffer	 sb;
	msgpack_packer	 pk;
	size_t		 i;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, 6);
	msgpack_pack_uint32(&pk, id);
	msgpack_pack_str(&pk, 0);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_uint32(&pk, 0);
	msgpack_pack_array(&pk, n);
	for (i = 0; i < n; i++) {
		msgpack_pack_str(&pk, len);
		msgpack_pack_str_body(&pk, arg, len);
	}
	msgpack_pack_array(&pk, 0);	/* no environment */
	buf_clear(b);
	hand_frame(b, MSG_OPEN, sb.data, sb.size);
	msgpack_sbuffer_destroy(&sb);
}

Test(refused, malformed_open_has_its_id_and_reason)
{
	struct buf	 b = { 0 };

	open_with(&b, 41, 2, "a\0b", 3);
	expect_refused(&b, MSG_OPEN, 41, "NUL byte in an argument");
	open_with(&b, 42, 0, "", 0);
	expect_refused(&b, MSG_OPEN, 42, "empty argument vector");
	open_with(&b, 70000, PROTO_MAX_ARGS + 1, "x", 1);
	expect_refused(&b, MSG_OPEN, 70000, "more than 256 arguments");
	/* The limit itself is fine. */
	open_with(&b, 43, PROTO_MAX_ARGS, "x", 1);
	{
		struct proto_msg	 m;
		const char		*why;
		size_t			 consumed;

		cr_assert_eq(proto_parse(b.b_data, b.b_len, &m, &consumed,
		    &why), PARSE_OK);
		cr_assert_eq(m.m.open.op_argc, PROTO_MAX_ARGS);
		proto_msg_free(&m);
	}
	/* msgpack cut short: the id is read from the raw bytes. */
	open_with(&b, 44, 1, "echo", 4);
	b.b_len -= 2;
	be32enc(b.b_data + 12, (uint32_t)(b.b_len - PROTO_HDR_LEN));
	be32enc(b.b_data + 16, checksum_frame(b.b_data,
	    b.b_data + PROTO_HDR_LEN, b.b_len - PROTO_HDR_LEN));
	be32enc(b.b_data + PROTO_HDR_CHECKED, checksum_header(b.b_data));
	expect_refused(&b, MSG_OPEN, 44, "malformed msgpack");
	buf_free(&b);
}

Test(refused, oversized_request_waits_for_its_id_only)
{
	struct buf		 b = { 0 };
	struct proto_msg	 msg;
	const char		*why;
	size_t			 consumed = SENTINEL;
	static const uint8_t	 start[] = { 0x95, 0xce, 0, 1, 0, 0 };

	hand_frame_raw(&b, MSG_PING, 0, 7, PROTO_MAX_PAYLOAD + 1, "", 0);
	/* Not yet its id: wait for at most PROTO_ID_PEEK bytes. */
	cr_assert_eq(proto_parse(b.b_data, b.b_len, &msg, &consumed, &why),
	    PARSE_INCOMPLETE);
	buf_append(&b, start, sizeof(start));
	buf_append(&b, "zzzz", 4);
	cr_assert_eq(b.b_len, PROTO_HDR_LEN + PROTO_ID_PEEK);
	expect_refused(&b, MSG_PING, 65536,
	    "frame beyond the payload limit");
	/* Only the header is consumed: the rest is garbage to skip. */
	cr_assert_eq(proto_parse(b.b_data, b.b_len, &msg, &consumed, &why),
	    PARSE_REFUSED);
	cr_assert_eq(consumed, PROTO_HDR_LEN);
	/* Not a request: bad at once, nothing awaited. */
	buf_clear(&b);
	hand_frame_raw(&b, MSG_DATA, 0, 7, UINT32_MAX, "", 0);
	cr_assert_eq(proto_parse(b.b_data, b.b_len, &msg, &consumed, &why),
	    PARSE_BAD);
	cr_assert_str_eq(why, "frame beyond the payload limit");
	/* A request whose id cannot be read: bad. */
	buf_clear(&b);
	hand_frame_raw(&b, MSG_OPEN, 0, 7, UINT32_MAX, "", 0);
	buf_append(&b, "\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0\xc0", 10);
	cr_assert_eq(proto_parse(b.b_data, b.b_len, &msg, &consumed, &why),
	    PARSE_BAD);
	buf_free(&b);
}

/*
 * tests/commands.d/spew-cut-frame writes this header by hand (POSIX sh
 * cannot hash): its check must stay what proto_header_check gives.
 */
Test(misc, the_cut_frame_of_the_vm_test_has_a_good_header)
{
	static const uint8_t	 h[PROTO_HDR_CHECKED] = { 'N', 'E', 'G', 'O',
				    0, 0x21, 0, 0, 1, 2, 3, 4, 0, 0, 0x75, 0x30,
				    0, 0, 0, 0 };

	cr_assert_eq(checksum_header(h), 0xa5268ae2U);
}

/*
 * Protocol 8's terminal: TTY round trips at its extremes; a $TERM that
 * could name a path, or sizes beyond 16 bits, are refused where they
 * enter; OPEN_TTY goes with OPEN_STDIN only.
 */
static int
tty_unpacks(const struct proto_msg *in)
{
	struct proto_msg	 out;
	struct buf		 b;
	const char		*why;
	int			 rv;

	memset(&b, 0, sizeof(b));
	proto_pack(&b, in);
	rv = proto_unpack(in->m_type, b.b_data + PROTO_HDR_LEN,
	    b.b_len - PROTO_HDR_LEN, &out, &why);
	if (rv == 0)
		proto_msg_free(&out);
	buf_free(&b);
	return rv;
}

Test(roundtrip, tty)
{
	static const char *const bad[] = { "../../etc/passwd", "a/b", ".x",
	    "x y", "x\x1b", "t\xc3\xa9" };
	char			*argv[] = { "shell", NULL };
	struct proto_msg	 in;
	struct rt		 rt;
	char			*longest = repeat('x', PROTO_MAX_TERM);
	size_t			 i;

	memset(&in, 0, sizeof(in));
	in.m_type = MSG_TTY;
	in.m_tag = 5;
	in.m.tty.ty_id = 9;
	in.m.tty.ty_rows = 0xffff;
	in.m.tty.ty_cols = 0;
	strlcpy(in.m.tty.ty_term, longest, sizeof(in.m.tty.ty_term));
	roundtrip(&in, &rt);
	cr_assert_eq(proto_msg_id(&rt.out), 9);
	cr_assert_eq(rt.out.m.tty.ty_rows, 0xffff);
	cr_assert_eq(rt.out.m.tty.ty_cols, 0);
	cr_assert_str_eq(rt.out.m.tty.ty_term, longest);
	rt_free(&rt);
	in.m.tty.ty_term[0] = '\0';
	cr_assert_eq(tty_unpacks(&in), 0, "an unknown $TERM is \"\"");
	strlcpy(in.m.tty.ty_term, "xterm-256color", sizeof(in.m.tty.ty_term));
	in.m.tty.ty_rows = 0x10000;
	cr_assert_eq(tty_unpacks(&in), -1, "rows beyond 16 bits");
	in.m.tty.ty_rows = 24;
	in.m.tty.ty_cols = 0x10000;
	cr_assert_eq(tty_unpacks(&in), -1, "columns beyond 16 bits");
	in.m.tty.ty_cols = 80;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strlcpy(in.m.tty.ty_term, bad[i], sizeof(in.m.tty.ty_term));
		cr_assert_eq(tty_unpacks(&in), -1, "TERM %s taken", bad[i]);
	}
	free(longest);

	memset(&in, 0, sizeof(in));
	in.m_type = MSG_OPEN;
	in.m.open.op_argc = 1;
	in.m.open.op_argv = argv;
	in.m.open.op_flags = OPEN_STDIN | OPEN_TTY;
	cr_assert_eq(tty_unpacks(&in), 0);
	in.m.open.op_flags = OPEN_TTY;
	cr_assert_eq(tty_unpacks(&in), -1, "OPEN_TTY without stdin");
	in.m.open.op_flags = 0x4;
	cr_assert_eq(tty_unpacks(&in), -1, "an unknown flag");
}
