/*
 * libFuzzer target for the wire protocol: arbitrary bytes go through the
 * daemons' parse loop (channel.c): parse, skip *consumed on PARSE_BAD,
 * stop on PARSE_INCOMPLETE.  Every message decoded is packed again and
 * must parse back to the same type and tag, and packing that must give
 * the very same bytes.  Everything is freed, so the leak checker of
 * -fsanitize=address sees any leak.
 *
 * The input goes through the loop twice: as it is, and with both checks
 * of every frame in it made right, so that mutated payloads reach the
 * msgpack decoder instead of stopping at a checksum.
 *
 * Built with -DFUZZ_SEEDS instead, it is a program that writes a few
 * valid frames, one a file, into the directory given, to seed a corpus
 * (tests/fuzz.sh does both).
 */
#include <sys/endian.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "checksum.h"
#include "proto.h"
#include "util.h"

/* Packs m, parses it back, and checks what a round trip must keep. */
static void
repack(const struct proto_msg *m)
{
	struct proto_msg	 again;
	struct buf		 b = { 0 }, b2 = { 0 };
	const char		*why = NULL;
	size_t			 consumed = 0;

	proto_pack(&b, m);
	CHECK(b.b_len >= PROTO_HDR_LEN);
	CHECK(b.b_len - PROTO_HDR_LEN <= PROTO_MAX_PAYLOAD);
	if (proto_parse(b.b_data, b.b_len, &again, &consumed, &why) !=
	    PARSE_OK) {
		fprintf(stderr, "%s does not parse again: %s\n",
		    proto_type_name(m->m_type), why);
		abort();
	}
	CHECK(consumed == b.b_len);
	CHECK(again.m_type == m->m_type);
	CHECK(again.m_tag == m->m_tag);
	proto_pack(&b2, &again);
	CHECK(b2.b_len == b.b_len);
	CHECK(memcmp(b2.b_data, b.b_data, b.b_len) == 0);
	proto_msg_free(&again);
	buf_free(&b2);
	buf_free(&b);
}

/*
 * Makes the CRC of every frame in (p, len) right, from the last to the
 * first, since a frame's payload may hold a later one.
 */
static void
fix_crcs(uint8_t *p, size_t len)
{
	size_t		 off;
	uint32_t	 plen;

	if (len < PROTO_HDR_LEN)
		return;
	for (off = len - PROTO_HDR_LEN + 1; off-- > 0;) {
		if (be32dec(p + off) != PROTO_MAGIC)
			continue;
		plen = be32dec(p + off + 12);
		if (plen > len - off - PROTO_HDR_LEN)
			continue;
		be32enc(p + off + 16, checksum_frame(p + off,
		    p + off + PROTO_HDR_LEN, plen));
		be32enc(p + off + PROTO_HDR_CHECKED, checksum_header(p + off));
	}
}

/* The daemons' loop over (copy, size). */
static void
parse_loop(const uint8_t *copy, size_t size)
{
	struct proto_msg	 msg;
	const char		*why;
	size_t			 off = 0, consumed;

	while (off < size) {
		consumed = (size_t)-1;
		why = NULL;
		switch (proto_parse(copy + off, size - off, &msg, &consumed,
		    &why)) {
		case PARSE_INCOMPLETE:
			/* Nothing consumed; wait for bytes that never come. */
			CHECK(consumed == (size_t)-1 || consumed == 0);
			off = size;
			break;
		case PARSE_REFUSED:
			CHECK(msg.m_type == MSG_OPEN || msg.m_type == MSG_PING ||
			    msg.m_type == MSG_LIST || msg.m_type == MSG_GUESTS);
			/* FALLTHROUGH */
		case PARSE_BAD:
			CHECK(why != NULL);
			CHECK(consumed > 0 && consumed <= size - off);
			off += consumed;
			break;
		case PARSE_OK:
			CHECK(consumed >= PROTO_HDR_LEN &&
			    consumed <= size - off);
			repack(&msg);
			proto_msg_free(&msg);
			off += consumed;
			break;
		default:
			CHECK(!"proto_parse returned nonsense");
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t	*copy;

	/* An exact copy, so that reading past the end is caught. */
	if ((copy = malloc(size > 0 ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	parse_loop(copy, size);
	fix_crcs(copy, size);
	parse_loop(copy, size);
	free(copy);
	return 0;
}

#ifdef FUZZ_SEEDS
static void
seed(const char *dir, const char *name, const struct proto_msg *m)
{
	struct buf	 b = { 0 };
	char		 path[4096];
	FILE		*f;

	proto_pack(&b, m);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    fwrite(b.b_data, 1, b.b_len, f) != b.b_len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	buf_free(&b);
}

int
main(int argc, char *argv[])
{
	struct proto_msg	 m;
	char			*args[] = { "echo", "", "h\xc3\xa9", NULL };
	char			*envs[] = { "FOO=bar", "NL=a\nb", NULL };
	char			*names[] = { "vm-a", "vm-b" };
	uint8_t			 ready[] = { 1, 0 };
	uint32_t		 quiet[] = { 3, PROTO_QUIET_NEVER };

	if (argc != 2) {
		fprintf(stderr, "usage: %s corpus-dir\n", argv[0]);
		return 2;
	}
	memset(&m, 0, sizeof(m));
	m.m_type = MSG_HELLO;
	m.m.hello.he_version = PROTO_VERSION;
	m.m.hello.he_nonce = 0x12345678;
	strlcpy(m.m.hello.he_name, "host", sizeof(m.m.hello.he_name));
	seed(argv[1], "hello", &m);
	m.m_type = MSG_HELLO_ACK;
	m.m.hello.he_echo = 0x87654321;
	seed(argv[1], "hello_ack", &m);

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_PING;
	m.m_tag = 0x11111111;
	strlcpy(m.m.query.qu_target, "vm-a", sizeof(m.m.query.qu_target));
	seed(argv[1], "ping", &m);
	m.m_type = MSG_LIST;
	seed(argv[1], "list", &m);
	m.m_type = MSG_GUESTS;
	seed(argv[1], "guests", &m);

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_PONG;
	m.m_tag = 1;
	m.m.ref.re_id = 3;
	seed(argv[1], "pong", &m);
	m.m_type = MSG_CANCEL;
	seed(argv[1], "cancel", &m);

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_OPEN;
	m.m_tag = 2;
	m.m.open.op_id = 4;
	m.m.open.op_timeout_ms = 1000;
	m.m.open.op_flags = OPEN_STDIN;
	m.m.open.op_argc = 3;
	m.m.open.op_argv = args;
	seed(argv[1], "open", &m);
	m.m.open.op_envc = 2;
	m.m.open.op_envv = envs;
	seed(argv[1], "open-env", &m);

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_DATA;
	m.m_tag = 2;
	m.m.data.da_id = 4;
	m.m.data.da_stream = STREAM_STDOUT;
	m.m.data.da_len = 5;
	m.m.data.da_bytes = (const uint8_t *)"hello";
	seed(argv[1], "data", &m);

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_CREDIT;
	m.m.credit.cr_id = 4;
	m.m.credit.cr_bytes = PROTO_WINDOW;
	seed(argv[1], "credit", &m);

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_EXIT;
	m.m.exit.ex_id = 4;
	m.m.exit.ex_kind = EXIT_SIGNALED;
	m.m.exit.ex_code = -9;
	strlcpy(m.m.exit.ex_message, "Killed", sizeof(m.m.exit.ex_message));
	seed(argv[1], "exit", &m);

	memset(&m, 0, sizeof(m));
	m.m_type = MSG_LIST_REPLY;
	m.m.names.na_count = 2;
	m.m.names.na_names = names;
	seed(argv[1], "list_reply", &m);
	m.m_type = MSG_GUESTS_REPLY;
	m.m.names.na_total = 2;
	m.m.names.na_state = ready;
	m.m.names.na_quiet = quiet;
	m.m.names.na_version = quiet;
	m.m.names.na_calls = quiet;
	seed(argv[1], "guests_reply", &m);
	return 0;
}
#endif /* FUZZ_SEEDS */
