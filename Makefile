# negotiator: build, test, install, demo.  Sources are listed explicitly.

VERSION		= 1.0.0
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
LIBDIR		?= $(PREFIX)/lib/negotiator
BUILTIN_DIR	?= $(LIBDIR)/builtin
# Where users put their own commands: the same path whatever the PREFIX, as
# the man pages say; compiled in, and created (empty) by every install.
COMMANDS_DIR	?= /usr/lib/negotiator/commands
MANDIR		?= $(PREFIX)/share/man
SYSCONFDIR	?= /etc
UNITDIR		?= $(PREFIX)/lib/systemd/system
LOGDIR		?= /var/log/negotiator

CC		?= cc
CFLAGS		?= -O2 -g
WARNINGS	= -Wall -Wextra -Wshadow -Wstrict-prototypes \
		  -Wmissing-prototypes -Wpointer-arith -Wformat=2
CPPFLAGS	+= -D_GNU_SOURCE -Icommon $(shell pkg-config --cflags libbsd-overlay msgpack) \
		   -DVERSION='"$(VERSION)"' -DBUILTIN_DIR='"$(BUILTIN_DIR)"' \
		   -DCOMMANDS_DIR='"$(COMMANDS_DIR)"'
LDLIBS		+= -lev $(shell pkg-config --libs libbsd-overlay msgpack)
STATIC_LDLIBS	= -lev -lm $(shell pkg-config --static --libs libbsd-overlay msgpack)

COMMON_SRCS	= common/buf.c common/channel.c common/cli.c common/conn.c \
		  common/control.c common/lifecycle.c common/log.c \
		  common/proto.c common/relay.c common/runner.c \
		  common/serve.c common/status.c common/words.c \
		  common/xmalloc.c
HOST_SRCS	= host/discover.c host/full.c host/main.c
HOSTD_SRCS	= host/discover.c host/hostd.c host/libvirt.c host/main.c
GUEST_SRCS	= guest/guestd.c guest/main.c guest/port.c

COMMON_OBJS	= $(COMMON_SRCS:.c=.o)
HOST_OBJS	= $(HOST_SRCS:.c=.o)
HOSTD_OBJS	= $(HOSTD_SRCS:.c=.o)
GUEST_OBJS	= $(GUEST_SRCS:.c=.o)
HEADERS		= $(wildcard common/*.h host/*.h guest/*.h)

TEST_NAMES	= test_proto test_words test_runner test_status
TEST_BINS	= $(TEST_NAMES:%=tests/%)

all: negotiator-host negotiator-hostd negotiator-guest tests/vserial

# The host CLI does not load libvirt: the daemon and libvirt discovery are
# negotiator-hostd, which it runs in its place (host/full.c).  Only that
# links libvirt (and libxml2, to read domain XML).
negotiator-host: $(HOST_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -static -o $@ $^ $(STATIC_LDLIBS)

host/libvirt.o: CPPFLAGS += $(shell pkg-config --cflags libvirt libxml-2.0)
host/full.o: CPPFLAGS += -DLIBEXEC_DIR='"$(LIBDIR)"'
negotiator-hostd: $(HOSTD_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -pthread -o $@ $^ $(LDLIBS) \
	    $(shell pkg-config --libs libvirt libxml-2.0)

# The CLI binaries are static: under emulation the dynamic loader costs a
# TCG guest ~56 ms per process (and the host CLI ~0.4 ms), and a guest's
# libraries may differ from the build host's.  They do no NSS look-ups (no
# getpwnam, no getaddrinfo), which static glibc could not serve.
negotiator-guest: $(GUEST_OBJS) $(COMMON_OBJS)
	$(CC) $(LDFLAGS) -static -o $@ $^ $(STATIC_LDLIBS)

%.o: %.c $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -c -o $@ $<

# The command directories are compiled in: a new PREFIX rebuilds what uses
# them.
.build-flags: FORCE
	@echo '$(BUILTIN_DIR) $(COMMANDS_DIR) $(VERSION)' | cmp -s - $@ || \
	    echo '$(BUILTIN_DIR) $(COMMANDS_DIR) $(VERSION)' > $@
host/main.o host/full.o guest/main.o common/cli.o: .build-flags

tests/vserial: tests/vserial.c
	$(CC) $(CFLAGS) $(WARNINGS) -o $@ $<

tests/test_%: tests/test_%.c $(COMMON_OBJS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ $^ \
	    $(shell pkg-config --cflags --libs criterion) $(LDLIBS)

# Installs what a fresh Debian 12 machine lacks to build and test.
deps:
	@sh tests/deps.sh

unit: $(TEST_BINS)
	@for t in $(TEST_BINS); do ./$$t || exit 1; done

# Each runs make again after deps, so that pkg-config answers for packages
# deps has just installed.
check: deps
	@$(MAKE) --no-print-directory all $(TEST_BINS)
	@sh tests/check.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tests/vm/demo.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(BUILTIN_DIR) \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/supervisor/conf.d $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(LOGDIR)
	install -m 755 negotiator-host negotiator-guest $(DESTDIR)$(BINDIR)
	install -m 755 negotiator-hostd $(DESTDIR)$(LIBDIR)
	install -m 555 commands/* $(DESTDIR)$(BUILTIN_DIR)
	install -m 644 man/*.8 $(DESTDIR)$(MANDIR)/man8
	install -m 644 man/*.7 $(DESTDIR)$(MANDIR)/man7
	for f in supervisor/*.conf; do \
	    sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|/var/log/negotiator|$(LOGDIR)|g' $$f > \
	    $(DESTDIR)$(SYSCONFDIR)/supervisor/conf.d/$${f#supervisor/}; done
	for f in supervisor/*.service; do \
	    sed 's|@BINDIR@|$(BINDIR)|g' $$f > \
	    $(DESTDIR)$(UNITDIR)/$${f#supervisor/}; done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/negotiator-host \
	    $(DESTDIR)$(BINDIR)/negotiator-guest \
	    $(DESTDIR)$(LIBDIR)/negotiator-hostd
	for f in commands/*; do rm -f $(DESTDIR)$(BUILTIN_DIR)/$${f#commands/}; done
	-rmdir $(DESTDIR)$(BUILTIN_DIR) $(DESTDIR)$(LIBDIR)
	for f in man/*.8; do rm -f $(DESTDIR)$(MANDIR)/man8/$${f#man/}; done
	for f in man/*.7; do rm -f $(DESTDIR)$(MANDIR)/man7/$${f#man/}; done
	for f in supervisor/*.conf; do \
	    rm -f $(DESTDIR)$(SYSCONFDIR)/supervisor/conf.d/$${f#supervisor/}; done
	for f in supervisor/*.service; do \
	    rm -f $(DESTDIR)$(UNITDIR)/$${f#supervisor/}; done
	-rmdir $(DESTDIR)$(LOGDIR)

clean:
	rm -f negotiator-host negotiator-hostd negotiator-guest tests/vserial $(TEST_BINS) .build-flags \
	    $(COMMON_OBJS) $(HOST_OBJS) $(HOSTD_OBJS) $(GUEST_OBJS)

.PHONY: all deps unit check demo install uninstall clean FORCE
