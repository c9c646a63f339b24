#!/bin/sh
#
# Lints what negotiator installs besides the binaries:
#   - every man page in man/ must be silent under "mandoc -Tlint -W warning";
#   - every systemd unit in supervisor/ must be silent under
#     "systemd-analyze verify", checked on a copy whose @BINDIR@ points at
#     stand-in executables (the real binaries need not be built or
#     installed), with the units' man: links resolved against man/;
#   - the units and supervisord configs use no placeholder but @BINDIR@;
#   - every long option the --help of ./negotiator-host and
#     ./negotiator-guest mentions is documented in their man page (make
#     check builds them; not built, the check is skipped and fails).
# One line per check, then "N passed, M failed, K skipped"; exits 1 if any
# failed or was skipped.  Installs mandoc, systemd and man-db with apt-get
# when they are missing.

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tests/lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-manlint.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM

# silent DESCRIPTION COMMAND...: passes when COMMAND exits 0 and prints
# nothing (linters that report on stdout or stderr and still exit 0).
silent() {
	local what=$1 out rc; shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ] && [ -z "$out" ]; then
		ok "$what"
	else
		bad "$what (status $rc)" "$out"
	fi
}

# --- Man pages.

pages=$(ls "$top"/man/*.[1-9] 2>/dev/null)
if [ -z "$pages" ]; then
	bad "man pages: none found in man/"
elif ! need mandoc mandoc; then
	bad "mandoc: not installed and could not be installed"
else
	for page in $pages; do
		silent "mandoc -Tlint -W warning ${page#"$top"/}" \
		    mandoc -Tlint -W warning "$page"
	done
fi

# --- Placeholders in the service configs.

for f in "$top"/supervisor/*.conf "$top"/supervisor/*.service; do
	[ -e "$f" ] || continue
	name=${f#"$top"/}
	other=$(grep -n '@[A-Za-z_]*@' "$f" | grep -v '@BINDIR@')
	if ! grep -q '^[A-Za-z]*=@BINDIR@/negotiator-' "$f"; then
		bad "$name: no command line starting with @BINDIR@/negotiator-"
	elif [ -n "$other" ]; then
		bad "$name: placeholders other than @BINDIR@" "$other"
	else
		ok "$name: @BINDIR@ is its only placeholder"
	fi
done

# --- systemd units.

units=$(ls "$top"/supervisor/*.service 2>/dev/null)
if [ -z "$units" ]; then
	bad "systemd units: none found in supervisor/"
elif ! need systemd-analyze systemd; then
	bad "systemd-analyze: not installed and could not be installed"
else
	# Stand-ins for the binaries, so that ExecStart= names existing
	# executables, and a man tree of our pages for Documentation=man:.
	mkdir -p "$tmp/bin" "$tmp/units" "$tmp/man/man7" "$tmp/man/man8"
	for b in negotiator-host negotiator-guest; do
		cp /bin/true "$tmp/bin/$b"
	done
	for page in $pages; do
		sect=${page##*.}
		mkdir -p "$tmp/man/man$sect"
		cp "$page" "$tmp/man/man$sect/"
	done
	if need man man-db; then
		manopt=--man=yes
		how="man: links checked against man/"
	else
		manopt=--man=no
		how="man: links not checked"
		skip "systemd units: their Documentation=man: links (no man(1))"
	fi
	for unit in $units; do
		name=${unit#"$top"/}
		base=${unit##*/}
		sed "s|@BINDIR@|$tmp/bin|g" "$unit" >"$tmp/units/$base"
		# systemd-analyze verify reports unknown keys and bad values
		# on stderr but still exits 0.
		silent "systemd-analyze verify $name ($how)" \
		    env -C "$tmp/units" MANPATH="$tmp/man" SYSTEMD_LOG_COLOR=0 \
		    systemd-analyze verify "$manopt" "./$base"
	done
fi

# --- Options documented, once the binaries are built.

for b in negotiator-host negotiator-guest; do
	bin=$top/$b
	page=$top/man/$b.8
	if [ ! -x "$bin" ]; then
		skip "$b --help options in man/$b.8 (./$b not built)"
		continue
	fi
	if [ ! -f "$page" ]; then
		bad "man/$b.8: missing"
		continue
	fi
	opts=$("$bin" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u)
	if [ -z "$opts" ]; then
		bad "$b --help: names no long option"
		continue
	fi
	missing=
	for o in $opts; do
		# In mdoc a long option is written ".Fl -name".
		grep -q -- "Fl $(printf '%s' "$o" | sed 's/^-//')\\( \\|\$\\)" \
		    "$page" || missing="$missing $o"
	done
	if [ -z "$missing" ]; then
		ok "$b --help options all in man/$b.8"
	else
		bad "$b --help options missing from man/$b.8:$missing"
	fi
done

finish
