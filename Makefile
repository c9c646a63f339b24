# negotiator: build, test, install, demo.  Sources are listed explicitly.

VERSION		= 1.0.0
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
LIBDIR		?= $(PREFIX)/lib/negotiator
BUILTIN_DIR	?= $(LIBDIR)/builtin
# put, get and sh: shipped here, enabled nowhere until --enable links them
# into the commands directory.
AVAILABLE_DIR	?= $(LIBDIR)/available
# Where users put their own commands: the same path whatever the PREFIX, as
# the man pages say; compiled in, and created (empty) by every install.
COMMANDS_DIR	?= /usr/lib/negotiator/commands
MANDIR		?= $(PREFIX)/share/man
SYSCONFDIR	?= /etc
UNITDIR		?= $(PREFIX)/lib/systemd/system
LOGDIR		?= /var/log/negotiator
# The user QEMU runs as under libvirt, whose channel directories and
# sockets the host side trusts (negotiator-host(8)): libvirt-qemu on Debian
# and Ubuntu; "qemu" on Fedora, RHEL and Arch.  Compiled in.
QEMU_USER	?= libvirt-qemu

CC		?= cc
CFLAGS		?= -O2 -g
WARNINGS	= -Wall -Wextra -Wshadow -Wstrict-prototypes \
		  -Wmissing-prototypes -Wpointer-arith -Wformat=2
CPPFLAGS	+= -D_GNU_SOURCE -Icommon $(shell pkg-config --cflags libbsd-overlay msgpack) \
		   -DVERSION='"$(VERSION)"' -DBUILTIN_DIR='"$(BUILTIN_DIR)"' \
		   -DCOMMANDS_DIR='"$(COMMANDS_DIR)"' -DSYSCONFDIR='"$(SYSCONFDIR)"' \
		   -DAVAILABLE_DIR='"$(AVAILABLE_DIR)"' \
		   -DDISCOVER_QEMU_USER='"$(QEMU_USER)"'
LDLIBS		+= -lev $(shell pkg-config --libs libbsd-overlay msgpack libxxhash zlib)
STATIC_LDLIBS	= -lev -lm $(shell pkg-config --static --libs libbsd-overlay msgpack \
		  libxxhash zlib)
# The static programs are position-independent (glibc's static-pie): with
# the distribution's hardening flags (debian/rules) they keep PIE, RELRO
# and BIND_NOW like the dynamic ones.
STATIC_LDFLAGS	= -static-pie

COMMON_SRCS	= common/buf.c common/call.c common/channel.c common/checksum.c \
		  common/cli.c common/frame.c \
		  common/clock.c common/config.c common/conn.c common/contain.c \
		  common/control.c \
		  common/audit.c common/callenv.c common/jobqueue.c \
		  common/journal.c \
		  common/launch.c common/lifecycle.c common/log.c \
		  common/policy.c common/proto.c common/relay.c common/request.c \
		  common/runner.c common/serve.c common/status.c \
		  common/sibling.c common/stdfds.c common/unix.c common/words.c \
		  common/xmalloc.c
# What a CLI writes: the one writer of stdout and stderr, and peer text
# made safe for a terminal or JSON.
COMMON_SRCS	+= common/escape.c common/output.c
# --copy and its stream, and --enable of the management commands.
COMMON_SRCS	+= common/copy.c common/copycli.c common/enable.c
# --tty: the command's pseudo-terminal, and the caller's terminal.
COMMON_SRCS	+= common/pty.c common/tty.c
HOST_SRCS	= host/discover.c host/fanout.c host/full.c host/main.c \
		  host/report.c host/table.c
HOSTD_SRCS	= host/attach.c host/discover.c host/fanout.c host/hostd.c \
		  host/libvirt.c host/main.c host/report.c host/table.c
GUEST_SRCS	= guest/full.c guest/main.c guest/port.c
GUESTD_SRCS	= guest/guestd.c guest/main.c guest/port.c

COMMON_OBJS	= $(COMMON_SRCS:.c=.o)
HOST_OBJS	= $(HOST_SRCS:.c=.o)
HOSTD_OBJS	= $(HOSTD_SRCS:.c=.o)
GUEST_OBJS	= $(GUEST_SRCS:.c=.o)
GUESTD_OBJS	= $(GUESTD_SRCS:.c=.o)
HEADERS		= $(wildcard common/*.h host/*.h guest/*.h)

TEST_NAMES	= test_proto test_words test_runner test_status test_log \
		  test_conn test_relay
TEST_NAMES	+= test_config
TEST_NAMES	+= test_escape
TEST_NAMES	+= test_journal test_jobqueue
TEST_NAMES	+= test_tty
TEST_BINS	= $(TEST_NAMES:%=tests/%)

all: negotiator-host negotiator-hostd negotiator-guest negotiator-guestd \
     tests/vserial tests/flood \
     tests/fleet tests/hostile tests/loadgen tests/ignoring tests/swapper \
     tests/envcall

# The host CLI does not load libvirt: the daemon and libvirt discovery are
# negotiator-hostd, which it runs in its place (host/full.c).  Only that
# links libvirt (and libxml2, to read domain XML).
negotiator-host: $(HOST_OBJS) $(COMMON_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $(STATIC_LDFLAGS) -o $@ $^ $(STATIC_LDLIBS)

host/libvirt.o host/attach.o: CPPFLAGS += $(shell pkg-config --cflags libvirt libxml-2.0)
host/full.o: CPPFLAGS += -DLIBEXEC_DIR='"$(LIBDIR)"'
negotiator-hostd: $(HOSTD_OBJS) $(COMMON_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -pthread -o $@ $^ $(LDLIBS) \
	    $(shell pkg-config --libs libvirt libxml-2.0)

# The CLI binaries are static: a dynamic program costs a TCG guest ~30 ms
# more per process (and the host CLI ~0.4 ms), and a guest's libraries may
# differ from the build host's.  They do no NSS look-ups (no getpwnam, no
# getaddrinfo), which static glibc could not serve.
#
# The guest CLI is linked at a fixed address (-no-pie): QEMU 7.2's TCG
# translates the code of a program anew at each address ASLR loads it at,
# 25-45 ms a guest CLI call, and code at one address once for all its runs
# (docs/benchmarks.md); under KVM nothing is translated.  Its stack, heap
# and mappings are still randomised; what is not is the code of a
# short-lived client whose one peer is its own root daemon, behind a
# socket of mode 0660.  That daemon, negotiator-guestd (the same sources
# with guest/guestd.c), runs as root as long as the guest does, fed by the
# host and the control socket: it stays static-pie, and `negotiator-guest
# -d` runs it in its own place (guest/full.c).
negotiator-guest: $(GUEST_OBJS) $(COMMON_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -static -no-pie -o $@ $^ $(STATIC_LDLIBS)

guest/full.o: CPPFLAGS += -DLIBEXEC_DIR='"$(LIBDIR)"'
negotiator-guestd: $(GUESTD_OBJS) $(COMMON_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) $(STATIC_LDFLAGS) -o $@ $^ $(STATIC_LDLIBS)

%.o: %.c $(HEADERS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -c -o $@ $<

# The command directories and SYSCONFDIR are compiled in: a new PREFIX
# rebuilds what uses them.
.build-flags: FORCE
	@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' > $@
BUILD_FLAGS	= $(BUILTIN_DIR) $(COMMANDS_DIR) $(SYSCONFDIR) $(AVAILABLE_DIR) \
		  $(VERSION) $(QEMU_USER)
host/main.o host/full.o guest/main.o guest/full.o common/cli.o \
    host/discover.o: .build-flags

tests/vserial: tests/vserial.c
	$(CC) $(CFLAGS) $(WARNINGS) -o $@ $<

# Runs a program with signals ignored, for tests/integration.sh.
tests/ignoring: tests/ignoring.c
	$(CC) $(CFLAGS) $(WARNINGS) -o $@ $<

# tests/policy.sh's race driver, and a static program to run as a command.
tests/swapper: tests/swapper.c
	$(CC) $(CFLAGS) $(WARNINGS) -static -o $@ $<

# A hostile caller for tests/hardening.sh: many requests on one session.
tests/flood: tests/flood.c $(COMMON_OBJS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ $^ $(LDLIBS)

# A fake peer doing the attacks of issue 9, for tests/hostile.sh, and the
# fake guest and call generator of tests/load.sh, and the hand-made caller
# of tests/daemon.sh (envcall); all speak through
# tests/peer.c.
tests/hostile tests/loadgen tests/envcall: tests/%: tests/%.c tests/peer.c tests/peer.h $(COMMON_OBJS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ $(filter %.c %.o,$^) $(LDLIBS)

# Many simulated guests in one process, for make bench-scale.
tests/fleet: tests/fleet.c $(COMMON_OBJS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(WARNINGS) -o $@ $^ $(LDLIBS)

tests/qga: tests/qga.c
	$(CC) $(CFLAGS) $(WARNINGS) -o $@ $<

tests/test_%: tests/test_%.c $(COMMON_OBJS)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $(WARNINGS) -o $@ $(filter %.c %.o,$^) \
	    $(shell pkg-config --cflags --libs criterion) $(LDLIBS)

# The unit tests that run conns in their own loop share tests/evloop.c.
tests/test_conn tests/test_relay: tests/evloop.c tests/evloop.h

# make sanitize: the programs and unit tests again, with AddressSanitizer
# and UndefinedBehaviorSanitizer (undefined behaviour aborts), into
# build/asan/ (linked dynamically: the sanitizers need it).  make check
# runs the unit tests and tests/integration.sh against them
# (tests/sanitized.sh).
ASAN_DIR	= build/asan
ASAN_CFLAGS	= -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
		  -fno-sanitize-recover=undefined
ASAN_COMMON	= $(COMMON_SRCS:%.c=$(ASAN_DIR)/%.o)
ASAN_PROGS	= $(ASAN_DIR)/negotiator-host $(ASAN_DIR)/negotiator-hostd \
		  $(ASAN_DIR)/negotiator-guest $(ASAN_DIR)/negotiator-guestd
ASAN_TESTS	= $(TEST_NAMES:%=$(ASAN_DIR)/tests/%)

sanitize: $(ASAN_PROGS) $(ASAN_TESTS)

$(ASAN_DIR)/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ASAN_CFLAGS) $(WARNINGS) -c -o $@ $<
$(ASAN_DIR)/host/libvirt.o $(ASAN_DIR)/host/attach.o: CPPFLAGS += $(shell pkg-config --cflags libvirt libxml-2.0)
$(ASAN_DIR)/host/full.o $(ASAN_DIR)/guest/full.o: CPPFLAGS += -DLIBEXEC_DIR='"$(LIBDIR)"'
$(ASAN_DIR)/host/main.o $(ASAN_DIR)/host/full.o $(ASAN_DIR)/guest/main.o \
    $(ASAN_DIR)/guest/full.o $(ASAN_DIR)/common/cli.o \
    $(ASAN_DIR)/host/discover.o: .build-flags
$(ASAN_DIR)/negotiator-host: $(HOST_OBJS:%=$(ASAN_DIR)/%) $(ASAN_COMMON)
	$(CC) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm
$(ASAN_DIR)/negotiator-hostd: $(HOSTD_OBJS:%=$(ASAN_DIR)/%) $(ASAN_COMMON)
	$(CC) $(ASAN_CFLAGS) $(LDFLAGS) -pthread -o $@ $^ $(LDLIBS) \
	    $(shell pkg-config --libs libvirt libxml-2.0)
$(ASAN_DIR)/negotiator-guest: $(GUEST_OBJS:%=$(ASAN_DIR)/%) $(ASAN_COMMON)
	$(CC) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm
$(ASAN_DIR)/negotiator-guestd: $(GUESTD_OBJS:%=$(ASAN_DIR)/%) $(ASAN_COMMON)
	$(CC) $(ASAN_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lm
$(ASAN_DIR)/tests/test_%: tests/test_%.c $(ASAN_COMMON)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(ASAN_CFLAGS) $(WARNINGS) -o $@ \
	    $(filter %.c %.o,$^) \
	    $(shell pkg-config --cflags --libs criterion) $(LDLIBS)
$(ASAN_DIR)/tests/test_conn $(ASAN_DIR)/tests/test_relay: tests/evloop.c \
    tests/evloop.h

# Installs what a fresh Debian 12 machine lacks to build and test.
deps:
	@sh tests/deps.sh

# The unit tests' names, for tests/check.sh and tests/sanitized.sh.
list-tests:
	@echo $(TEST_NAMES)

unit: $(TEST_BINS)
	@for t in $(TEST_BINS); do ./$$t || exit 1; done

# Each runs make again after deps, so that pkg-config answers for packages
# deps has just installed.
check: deps
	@$(MAKE) --no-print-directory -j$$(nproc) all $(TEST_BINS) sanitize
	@sh tests/check.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@bash tests/vm/demo.sh

# One table: negotiator, qemu-ga and a bare port in one booted TCG guest.
bench: deps
	@$(MAKE) --no-print-directory all tests/qga
	@bash tests/bench.sh vm

# 1,000 simulated guests (tests/fleet) on one host daemon: its RSS, fds,
# idle wake-ups, and the wall time of --all --ping and --all -e.
bench-scale: deps
	@$(MAKE) --no-print-directory all tests/fleet
	@bash tests/bench-scale.sh

# What each side installs: its programs in BINDIR, its helpers in LIBDIR,
# its man page, systemd unit and supervisord program; both sides also get
# what they share (install-common): the built-ins, negotiator-commands(7)
# and the empty user commands directory.  install does both sides.
HOST_PROGS	= negotiator-host
HOST_HELPERS	= negotiator-hostd
GUEST_PROGS	= negotiator-guest
GUEST_HELPERS	= negotiator-guestd

# The installed man pages name this installation's prefix where the
# source says "(/usr/local by default)".
SED_MAN		= sed 's|^\.Pq Pa /usr/local No by default \.$$|.Pq Pa $(PREFIX) No here .|'

# A daemon's configuration file, as installed: written only where there is
# none (an admin's is kept), removed by uninstall only if unchanged.
SED_CONF	= sed 's|@BUILTIN_DIR@|$(BUILTIN_DIR)|g'

# $(call install_side,SIDE,PROGS,HELPERS)
define install_side
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/supervisor/conf.d $(DESTDIR)$(UNITDIR) \
	    $(DESTDIR)$(LOGDIR)
	install -m 755 $(2) $(DESTDIR)$(BINDIR)
	$(if $(3),install -d $(DESTDIR)$(LIBDIR))
	$(if $(3),install -m 755 $(3) $(DESTDIR)$(LIBDIR))
	$(SED_MAN) man/negotiator-$(1).8 > $(DESTDIR)$(MANDIR)/man8/negotiator-$(1).8
	chmod 644 $(DESTDIR)$(MANDIR)/man8/negotiator-$(1).8
	sed -e '/^;@/d' -e 's|@BINDIR@|$(BINDIR)|g' \
	    -e 's|/var/log/negotiator|$(LOGDIR)|g' \
	    supervisor/negotiator-$(1).conf \
	    > $(DESTDIR)$(SYSCONFDIR)/supervisor/conf.d/negotiator-$(1).conf
	sed -e '/^#@/d' -e 's|@BINDIR@|$(BINDIR)|g' \
	    supervisor/negotiator-$(1).service \
	    > $(DESTDIR)$(UNITDIR)/negotiator-$(1).service
	$(MAKE) --no-print-directory install-completion COMPLETION_SIDES=$(1)
	install -d $(DESTDIR)$(SYSCONFDIR)/negotiator
	$(SED_CONF) supervisor/$(1).conf.in > $(DESTDIR)$(SYSCONFDIR)/negotiator/$(1).conf.new
	if [ -e $(DESTDIR)$(SYSCONFDIR)/negotiator/$(1).conf ]; then \
	    rm $(DESTDIR)$(SYSCONFDIR)/negotiator/$(1).conf.new; \
	    echo "kept $(DESTDIR)$(SYSCONFDIR)/negotiator/$(1).conf"; else \
	    chmod 644 $(DESTDIR)$(SYSCONFDIR)/negotiator/$(1).conf.new && \
	    mv $(DESTDIR)$(SYSCONFDIR)/negotiator/$(1).conf.new \
	    $(DESTDIR)$(SYSCONFDIR)/negotiator/$(1).conf; fi
endef

# $(call uninstall_side,SIDE,PROGS,HELPERS): then the shared files, unless
# the other side is still installed.
define uninstall_side
	rm -f $(2:%=$(DESTDIR)$(BINDIR)/%) $(3:%=$(DESTDIR)$(LIBDIR)/%) \
	    $(DESTDIR)$(MANDIR)/man8/negotiator-$(1).8 \
	    $(DESTDIR)$(SYSCONFDIR)/supervisor/conf.d/negotiator-$(1).conf \
	    $(DESTDIR)$(UNITDIR)/negotiator-$(1).service \
	    $(DESTDIR)$(COMPLETIONDIR)/negotiator-$(1)
	-rmdir -p $(DESTDIR)$(COMPLETIONDIR) 2>/dev/null
	@f=$(DESTDIR)$(SYSCONFDIR)/negotiator/$(1).conf; \
	    if $(SED_CONF) supervisor/$(1).conf.in | cmp -s - $$f; then \
	    rm -f $$f; elif [ -e $$f ]; then echo "kept $$f (changed)"; fi; \
	    rmdir $(DESTDIR)$(SYSCONFDIR)/negotiator 2>/dev/null || true
	@set -e; for p in $(HOST_PROGS) $(GUEST_PROGS); do \
	    [ ! -e $(DESTDIR)$(BINDIR)/$$p ] || exit 0; done; \
	    $(MAKE) --no-print-directory uninstall-common
endef

install: install-host install-guest

install-host: $(HOST_PROGS) $(HOST_HELPERS) install-common install-ansible
	$(call install_side,host,$(HOST_PROGS),$(HOST_HELPERS))

install-guest: $(GUEST_PROGS) $(GUEST_HELPERS) install-common
	$(call install_side,guest,$(GUEST_PROGS),$(GUEST_HELPERS))

# Debian's bash-completion loads completions/negotiator-host (or -guest)
# from here the first time the command is completed.
COMPLETIONDIR	?= $(PREFIX)/share/bash-completion/completions
COMPLETION_SIDES ?= host guest
install-completion:
	install -d $(DESTDIR)$(COMPLETIONDIR)
	for s in $(COMPLETION_SIDES); do install -m 644 \
	    common/negotiator-completion.bash \
	    $(DESTDIR)$(COMPLETIONDIR)/negotiator-$$s || exit 1; done

# The Ansible plugins (ansible/), where ansible-core looks with no
# configuration: the same path whatever the PREFIX, like COMMANDS_DIR.
ANSIBLE_PLUGINS_DIR ?= /usr/share/ansible/plugins
install-ansible:
	install -d $(DESTDIR)$(ANSIBLE_PLUGINS_DIR)/connection \
	    $(DESTDIR)$(ANSIBLE_PLUGINS_DIR)/inventory
	install -m 644 ansible/plugins/connection/negotiator.py \
	    $(DESTDIR)$(ANSIBLE_PLUGINS_DIR)/connection/negotiator.py
	install -m 644 ansible/plugins/inventory/negotiator.py \
	    $(DESTDIR)$(ANSIBLE_PLUGINS_DIR)/inventory/negotiator.py

uninstall-ansible:
	rm -f $(DESTDIR)$(ANSIBLE_PLUGINS_DIR)/connection/negotiator.py \
	    $(DESTDIR)$(ANSIBLE_PLUGINS_DIR)/inventory/negotiator.py
	-rmdir $(DESTDIR)$(ANSIBLE_PLUGINS_DIR)/connection \
	    $(DESTDIR)$(ANSIBLE_PLUGINS_DIR)/inventory \
	    $(DESTDIR)$(ANSIBLE_PLUGINS_DIR) \
	    $(DESTDIR)$(dir $(ANSIBLE_PLUGINS_DIR)) 2>/dev/null

# The built-ins are the files of commands/; commands/available/ holds the
# management set, installed apart.
BUILTINS	= $(filter-out commands/available,$(wildcard commands/*))
AVAILABLE	= $(wildcard commands/available/*)

install-common:
	install -d $(DESTDIR)$(BUILTIN_DIR) $(DESTDIR)$(COMMANDS_DIR) \
	    $(DESTDIR)$(MANDIR)/man7
	install -m 555 $(BUILTINS) $(DESTDIR)$(BUILTIN_DIR)
	install -d $(DESTDIR)$(AVAILABLE_DIR)
	for f in $(AVAILABLE); do sed 's|@BINDIR@|$(BINDIR)|g' $$f \
	    > $(DESTDIR)$(AVAILABLE_DIR)/$${f#commands/available/} && \
	    chmod 555 $(DESTDIR)$(AVAILABLE_DIR)/$${f#commands/available/} || \
	    exit 1; done
	$(SED_MAN) man/negotiator-commands.7 \
	    > $(DESTDIR)$(MANDIR)/man7/negotiator-commands.7
	chmod 644 $(DESTDIR)$(MANDIR)/man7/negotiator-commands.7

uninstall: uninstall-host uninstall-guest

uninstall-host: uninstall-ansible
	$(call uninstall_side,host,$(HOST_PROGS),$(HOST_HELPERS))

uninstall-guest:
	$(call uninstall_side,guest,$(GUEST_PROGS),$(GUEST_HELPERS))

# Directories go only when empty: users' commands and logs stay.
uninstall-common:
	for f in $(BUILTINS); do rm -f $(DESTDIR)$(BUILTIN_DIR)/$${f#commands/}; done
	for f in $(AVAILABLE); do \
	    rm -f $(DESTDIR)$(AVAILABLE_DIR)/$${f#commands/available/}; done
	rm -f $(DESTDIR)$(MANDIR)/man7/negotiator-commands.7
	-rmdir $(DESTDIR)$(BUILTIN_DIR) $(DESTDIR)$(AVAILABLE_DIR) \
	    $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(COMMANDS_DIR) $(DESTDIR)$(dir $(COMMANDS_DIR)) \
	    $(DESTDIR)$(LOGDIR) 2>/dev/null

# Debian packages negotiator-host, negotiator-guest and negotiator-common
# (what both share), from debian/ (debhelper): dpkg-buildpackage -b, then
# the source package with -S, in a private copy of the tree (the build
# starts with "make clean", which must not touch this one).  The files, the
# .changes and the build logs land in DEBDIR.  debian/changelog's version
# must be $(VERSION), which the programs report.
DEBDIR		?= .
# The build runs without our make's flags (MAKEFLAGS is cleared): a `make -s
# deb` would otherwise silence the compiler lines that blhc reads in the log.
deb:
	@v=$$(dpkg-parsechangelog -S Version) && [ "$$v" = $(VERSION) ] || \
	    { echo "deb: debian/changelog says $$v, the Makefile $(VERSION)" >&2; \
	    exit 1; }
	@set -e; out=$$(cd $(DEBDIR) && pwd); \
	    w=$$(mktemp -d /tmp/negotiator-deb.XXXXXX); \
	    trap 'rm -rf "$$w"' EXIT INT TERM; \
	    mkdir $$w/negotiator-$(VERSION); \
	    { git ls-files -co --exclude-standard 2>/dev/null || \
	    find . -path ./.git -prune -o -type f -print; } | \
	    tar cf - -T - | tar xf - -C $$w/negotiator-$(VERSION); \
	    cd $$w/negotiator-$(VERSION); \
	    for m in -b -S; do \
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
		    dpkg-buildpackage -us -uc $$m > ../build$$m.log 2>&1 || \
		{ tail -n 30 ../build$$m.log >&2; \
		echo "deb: dpkg-buildpackage $$m failed" >&2; exit 1; }; \
	    done; \
	    cd ..; cp build-b.log build-S.log *.deb *.changes *.buildinfo \
	    *.dsc *.tar.xz "$$out"/; \
	    for f in *.ddeb; do [ ! -e "$$f" ] || cp "$$f" "$$out"/; done; \
	    ls *.deb *.dsc | sed "s|^|$$out/|"

# The packages, and the guests of Debian 12 and 13 under a real libvirtd
# (tests/distro/run.sh): root, Debian's mirror, about 20 minutes the first
# time, less from the cache in /var/cache/negotiator-test.
check-distro: deps
	@$(MAKE) --no-print-directory all
	@sh tests/distro/run.sh

# The Ansible plugins with Debian's ansible-core (tests/ansible/run.sh):
# on emulated channels, then a Debian 12 systemd guest under libvirtd;
# root, about 8 minutes with the image cached.  bench-ansible: the same
# guest with community.libvirt's libvirt_qemu side by side.
check-ansible: deps
	@$(MAKE) --no-print-directory all
	@sh tests/ansible/run.sh

bench-ansible: deps
	@$(MAKE) --no-print-directory all
	@sh tests/ansible/run.sh bench

clean:
	rm -f negotiator-host negotiator-hostd negotiator-guest negotiator-guestd tests/vserial tests/flood tests/qga tests/fleet tests/hostile tests/loadgen tests/ignoring tests/swapper tests/envcall $(TEST_BINS) .build-flags \
	    $(COMMON_OBJS) $(HOST_OBJS) $(HOSTD_OBJS) $(GUEST_OBJS) $(GUESTD_OBJS)
	rm -rf $(ASAN_DIR)

.PHONY: all deps list-tests unit check sanitize demo bench bench-scale install install-host install-guest install-completion \
	install-common uninstall uninstall-host uninstall-guest uninstall-common \
	deb check-distro check-ansible bench-ansible install-ansible \
	uninstall-ansible clean FORCE
