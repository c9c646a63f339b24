#!/bin/bash
# Shell completion (common/negotiator-completion.bash) in a real bash, with
# Debian's bash-completion loading it on demand from where `make install`
# puts it, against both daemons on emulated channels: options from --help,
# guest names from the host daemon, command names from the other side,
# --guests lists, directories for directory options; and a daemon that
# does not answer completes nothing within the 2 s bound, never hangs.
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
. "$REPO/tests/lib.sh"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negotiator-comp.XXXXXX") || exit 1
HOSTBIN=$REPO/negotiator-host
GUESTBIN=$REPO/negotiator-guest
GUEST=vm1
H="$HOSTBIN --control $TMP/host.sock --channel-dir $TMP/chan"
VS_PID= VS2_PID= HOSTD_PID= GUESTD_PID=
trap 'kill -CONT $HOSTD_PID 2>/dev/null; end_suite "$HOSTD_PID" "$GUESTD_PID" "$VS_PID" "$VS2_PID"' EXIT
on_interrupt

BC=/usr/share/bash-completion/bash_completion
if [ ! -r $BC ]; then
	echo "     installing bash-completion" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q bash-completion \
	    >/dev/null 2>&1
fi
if [ ! -r $BC ]; then
	fail "bash-completion is not installed and could not be"
	finish; exit
fi

mkdir -p "$TMP/chan" "$TMP/gport" "$TMP/gport2"
start_vserial vm1 "$TMP/chan" "$TMP/gport" VS_PID
start_vserial web-2 "$TMP/chan" "$TMP/gport2" VS2_PID
start_daemon HOSTD_PID "$TMP/host.sock" "$TMP/hostd.log" \
    "$HOSTBIN" -d --control "$TMP/host.sock" --channel-dir "$TMP/chan" \
    --commands-dir "$REPO/tests/commands.d" --builtin-dir "$REPO/commands"
start_daemon GUESTD_PID "$TMP/guest.sock" "$TMP/guestd.log" \
    "$GUESTBIN" -d --control "$TMP/guest.sock" -c "$TMP/gport" \
    --commands-dir "$REPO/tests/commands.d" --builtin-dir "$REPO/commands"
check "daemons up and serving" wait_until 10 serving

# The layout of an install: PREFIX/bin and
# PREFIX/share/bash-completion/completions, which bash-completion searches
# as a directory of XDG_DATA_DIRS (/usr/share and /usr/local/share when
# that is unset).
P=$TMP/prefix
make -s -C "$REPO" install-completion DESTDIR= PREFIX="$P" >/dev/null 2>&1
mkdir -p "$P/bin"
ln -s "$HOSTBIN" "$P/bin/negotiator-host"
ln -s "$GUESTBIN" "$P/bin/negotiator-guest"
mkdir -p "$TMP/dirs/alpha" "$TMP/dirs/beta"

# complete LINE: the completions bash offers for LINE (the word being
# completed is its last, possibly empty), one a line, sorted; through the
# real loader of bash-completion, as an interactive shell uses it.
complete_line() {
	XDG_DATA_DIRS="$P/share" PATH="$P/bin:$PATH" NEG_LINE="$1" within 10 bash --norc --noprofile -c '
		. /usr/share/bash-completion/bash_completion || exit 3
		read -ra COMP_WORDS <<<"$NEG_LINE"
		[[ $NEG_LINE == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
		COMP_LINE=$NEG_LINE COMP_POINT=${#NEG_LINE}
		_completion_loader "${COMP_WORDS[0]}" 2>/dev/null
		spec=$(complete -p "${COMP_WORDS[0]}" 2>/dev/null) || exit 4
		fn=$(sed -n "s/.*-F \([^ ]*\) .*/\1/p" <<<"$spec")
		"$fn" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" \
		    "${COMP_WORDS[COMP_CWORD - 1]}"
		[ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' |
	    sort
}
same() { [ "$(complete_line "$1" | tr '\n' ' ')" = "$2" ]; }

spec=$(XDG_DATA_DIRS="$P/share" PATH="$P/bin:$PATH" bash --norc --noprofile -c '
	. /usr/share/bash-completion/bash_completion
	_completion_loader negotiator-host; complete -p negotiator-host')
check "bash-completion loads it for negotiator-host ($spec)" \
    test "$spec" = "complete -F _negotiator negotiator-host"
check "... and for negotiator-guest" sh -c "XDG_DATA_DIRS='$P/share' PATH='$P/bin:$PATH' bash --norc -c '
	. /usr/share/bash-completion/bash_completion
	_completion_loader negotiator-guest; complete -p negotiator-guest' |
	grep -q _negotiator"

C="negotiator-host --control $TMP/host.sock"
G="negotiator-guest --control $TMP/guest.sock"
check "host options from --help (--li → both --list-*)" \
    same "$C --li" "--list-commands --list-guests "
n_help=$("$HOSTBIN" --help | grep -oE '(^|[ ,])--[a-z][-a-z]*' | sort -u | wc -l)
n_comp=$(complete_line "$C --" | grep -c '^--')
check "... all $n_help long options of --help are offered ($n_comp)" \
    test "$n_comp" -eq "$n_help" -a "$n_help" -gt 20
check "guest names for the operand" same "$C -e uptime " "vm1 web-2 "
check "guest names after -c, by prefix" same "$C -c w" "web-2 "
check "--guests completes the last name of a list" \
    same "$C --guests vm1,w" "vm1,web-2 "
out=$(complete_line "$C vm1 -e exit")
check "command names for -e with the guest on the line ($out)" \
    test "$out" = "exit-with"
out=$(complete_line "$G -e exit")
check "guest side: the host's command names for -e ($out)" \
    test "$out" = "exit-with"
check "directories for --commands-dir" \
    same "$C --commands-dir $TMP/dirs/" "$TMP/dirs/alpha $TMP/dirs/beta "
check "nothing for -t" same "$C -t " ""

# A daemon that does not answer: nothing offered, within the 2 s bound.
kill -STOP "$HOSTD_PID"
t0=$(now_ms)
out=$(complete_line "$C -c ")
t=$(( $(now_ms) - t0 ))
kill -CONT "$HOSTD_PID"
check "a stopped daemon: nothing offered ($out), in ${t} ms (< 4000)" \
    test -z "$out" -a "$t" -lt 4000

finish
