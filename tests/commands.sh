#!/bin/bash
# tests/commands.sh: test the built-in commands in commands/.
#
# Every command is run the way the daemon runs it (argv, no shell, cwd /,
# `env -i` with only PATH, LANG and HOME, stdin /dev/null) under two shells:
#   dash     - /bin/sh on Debian, with the daemon's PATH;
#   busybox  - `busybox sh` with PATH set to a directory holding only busybox
#              applet symlinks, as in a busybox-only guest initramfs.
# busybox and checkbashisms are installed with apt-get (busybox-static,
# devscripts) when missing; if that is impossible the run fails. No network
# access is needed otherwise.
#
# Prints one line per check ("ok   - ...", "FAIL - ...", "skip - ...") and ends
# with "N passed, M failed, K skipped"; exits 1 if any check failed or was
# skipped (no claim here is checked elsewhere: tests/lib.sh, skip).

set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cmddir=$root/commands
daemon_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
. "$root/tests/lib.sh"

# On a machine with no address but loopback (a container without a
# network) ip-addresses would have nothing to show: as root, the suite runs
# instead in a network namespace of its own, with a veth pair addressed
# 192.0.2.9/24 and fd00::9/64.  Where that cannot be made, the
# ip-addresses checks are skipped, and the suite fails.
has_address() {
	ip -o addr show 2>/dev/null | awk '$2 != "lo" &&
	    ($3 == "inet" || $3 == "inet6") { f = 1 } END { exit !f }'
}
if [ -z "${COMMANDS_NETNS-}" ] && ! has_address && [ "$(id -u)" -eq 0 ] &&
    command -v unshare >/dev/null 2>&1; then
	echo "# no address but loopback here: running in a network namespace with one"
	exec env COMMANDS_NETNS=1 unshare -n sh -c 'ip link add nt0 type veth \
	    peer name nt1 && ip addr add 192.0.2.9/24 dev nt0 &&
	    ip -6 addr add fd00::9/64 dev nt0 nodad && ip link set nt1 up &&
	    ip link set nt0 up; exec bash "$0"' "$0"
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# --- prerequisites -----------------------------------------------------------

if ! command -v busybox >/dev/null 2>&1; then
	echo "# busybox not found, installing busybox-static" >&2
	sudo=; [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
	$sudo apt-get install -y busybox-static >&2 ||
		{ $sudo apt-get update >&2 && $sudo apt-get install -y busybox-static >&2; }
fi
for tool in busybox dash; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		fail "$tool is required but not available"
		finish; exit
	fi
done
busybox=$(command -v busybox) dash=$(command -v dash)

# Only busybox applets, and the same minus `ip` (for ip-addresses' fallback).
bbdir=$tmp/busybox noipdir=$tmp/busybox-noip sysnoip=$tmp/sys-noip
mkdir "$bbdir" "$noipdir" "$sysnoip"
"$busybox" --install -s "$bbdir" || { fail "busybox --install -s"; finish; exit; }
[ -x "$bbdir/sh" ] || ln -s "$busybox" "$bbdir/sh"
cp -P "$bbdir"/* "$noipdir"/ && rm -f "$noipdir/ip"
# The system tools (mawk/gawk, coreutils) minus `ip`.
for d in /usr/local/bin /usr/bin /bin /usr/sbin /sbin; do
	for f in "$d"/*; do
		b=${f##*/}
		[ "$b" = ip ] || [ -e "$sysnoip/$b" ] || ln -s "$f" "$sysnoip/$b"
	done
done

commands=()
for f in "$cmddir"/*; do [ -f "$f" ] && commands+=("${f##*/}"); done
[ ${#commands[@]} -gt 0 ] || { fail "no commands in $cmddir"; finish; exit; }

# --- static checks -----------------------------------------------------------

have_checkbashisms=
if need checkbashisms devscripts; then
	have_checkbashisms=yes
else
	fail "checkbashisms is not installed and could not be (devscripts): no command checked for bashisms"
fi
for c in "${commands[@]}"; do
	f=$cmddir/$c
	check "$c: first line is #!/bin/sh" [ "$(head -n 1 "$f")" = "#!/bin/sh" ]
	check "$c: mode 755" [ "$(stat -c %a "$f")" = 755 ]
	check "$c: header comment" grep -q "^# $c: " "$f"
	check "$c: dash -n" "$dash" -n "$f"
	check "$c: busybox sh -n" "$busybox" sh -n "$f"
	[ -z "$have_checkbashisms" ] ||
	    check "$c: checkbashisms" checkbashisms -f -p "$f"
done

# --- running -----------------------------------------------------------------

# run SHELL [VAR=VALUE...] COMMAND [ARG...]: run a command like the daemon
# does; sets $out, $err and $rc. SHELL: dash, busybox,
# dash-bbnoip (dash with busybox tools minus ip), dash-noip (dash, system
# tools minus ip), exec (run the file itself, i.e. through its #! line).
run() {
	local shell=$1 path interp
	shift
	local vars=()
	while [[ $# -gt 0 && $1 == *=* ]]; do vars+=("$1"); shift; done
	local c=$1
	shift
	case $shell in
	dash)         path=$daemon_path interp=$dash ;;
	exec)         path=$daemon_path interp= ;;
	busybox)      path=$bbdir interp=$bbdir/sh ;;
	dash-bbnoip)  path=$noipdir interp=$dash ;;
	dash-noip)    path=$sysnoip interp=$dash ;;
	esac
	out=$(cd / && timeout 30 env -i PATH="$path" LANG=C.UTF-8 HOME=/ "${vars[@]}" \
		$interp "$cmddir/$c" "$@" </dev/null 2>"$tmp/stderr")
	rc=$?
	err=$(cat "$tmp/stderr")
}

# keys: the first word of each line of $out, space separated.
keys() { printf '%s\n' "$out" | awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }'; }
# val KEY: the value of KEY in $out.
val() { printf '%s\n' "$out" | awk -v k="$1" '$1 == k { print $2 }'; }
# all_int: every line of $out is "key INTEGER".
all_int() { printf '%s\n' "$out" | awk 'NF != 2 || $2 !~ /^[0-9]+$/ { bad = 1 } END { exit bad }'; }
# lines_match ERE: $out is non-empty and every line matches ERE.
lines_match() { [ -n "$out" ] && ! printf '%s\n' "$out" | grep -Evq "$1"; }
succeeded() { [ "$rc" -eq 0 ] && [ -z "$err" ]; }

# Fake os-release files and the expected id / codename / number.
cat >"$tmp/debian" <<'EOF'
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
EOF
cat >"$tmp/ubuntu" <<'EOF'
NAME="Ubuntu"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
ID=ubuntu
ID_LIKE=debian
VERSION_ID="22.04"
UBUNTU_CODENAME=jammy
EOF
cat >"$tmp/oldstyle" <<'EOF'
# comment line, then a blank one

NAME='Fedora Linux'
VERSION="8 (jessie)"
VERSION_ID=8.1
ID=fedora
EOF
cat >"$tmp/idonly" <<'EOF'
ID=alpine
VERSION_ID=3.19.1
EOF
cat >"$tmp/escapes" <<'EOF'
NAME="\"Quoted\" OS"
NAME="My \"Quoted\" OS"
VERSION_CODENAME="a\$b"
VERSION_ID='1\2'
EOF
: >"$tmp/empty"
lsb_cases="debian:Debian:bookworm:12 ubuntu:Ubuntu:jammy:22.04
oldstyle:Fedora:jessie:8.1 idonly:Alpine:n/a:3.19.1 escapes:My:a\$b:1\\2
empty:Linux:n/a:n/a"

# System facts to compare against.
ncpu=$(grep -c '^cpu[0-9]' /proc/stat)
memtotal=$(awk '$1 == "MemTotal:" { print $2 }' /proc/meminfo)
nif=$(($(wc -l </proc/net/dev) - 2))
# devfs_count DF...: /dev/ filesystems that DF lists (GNU df hides bind
# mounts, busybox df does not, so each shell is compared with its own df).
devfs_count() { "$@" -P -k 2>/dev/null | awk '$1 ~ /^\/dev\// && $6 ~ /^\// { n++ } END { print n + 0 }'; }
iface_re='^iface [^ ]+ rx_bytes [0-9]+ rx_packets [0-9]+ rx_errs [0-9]+ rx_drop [0-9]+ tx_bytes [0-9]+ tx_packets [0-9]+ tx_errs [0-9]+ tx_drop [0-9]+$'
cidr_re='^(([0-9]{1,3}\.){3}[0-9]{1,3}/[0-9]{1,2}|[0-9a-f:]*:[0-9a-f:]*/[0-9]{1,3})$'

for sh in dash busybox; do
	for c in "${commands[@]}"; do
		run "$sh" "$c"
		check "$sh: $c exits 0 with empty stderr" succeeded
		run "$sh" "$c" extra
		check "$sh: $c extra -> exit 2, 'usage: $c' on stderr, no stdout" \
			[ "$rc" -eq 2 -a "$err" = "usage: $c" -a -z "$out" ]
	done

	run "$sh" cpu
	check "$sh: cpu keys" [ "$(keys)" = "user nice system idle iowait irq softirq steal cpus" ]
	check "$sh: cpu values are integers" all_int
	check "$sh: cpu cpus = $ncpu (> 0)" [ "$(val cpus)" = "$ncpu" -a "$ncpu" -gt 0 ]

	run "$sh" memory
	check "$sh: memory keys" [ "$(keys)" = "mem_total_kb mem_free_kb mem_available_kb buffers_kb cached_kb swap_total_kb swap_free_kb" ]
	check "$sh: memory values are integers" all_int
	check "$sh: memory mem_total_kb = $memtotal (> 0)" [ "$(val mem_total_kb)" = "$memtotal" -a "$memtotal" -gt 0 ]
	check "$sh: memory mem_available_kb <= mem_total_kb" [ "$(val mem_available_kb)" -le "$(val mem_total_kb)" ]

	run "$sh" load
	check "$sh: load keys" [ "$(keys)" = "load1 load5 load15 running total" ]
	check "$sh: load values" lines_match '^(load(1|5|15) [0-9]+\.[0-9]+|(running|total) [0-9]+)$'
	check "$sh: load total > 0" [ "$(val total)" -gt 0 ]

	run "$sh" uptime
	check "$sh: uptime keys" [ "$(keys)" = "uptime_seconds idle_seconds" ]
	check "$sh: uptime values are integers" all_int
	check "$sh: uptime uptime_seconds > 0" [ "$(val uptime_seconds)" -gt 0 ]

	run "$sh" network
	check "$sh: network line format" lines_match "$iface_re"
	check "$sh: network one line per /proc/net/dev interface ($nif)" [ "$(printf '%s\n' "$out" | wc -l)" -eq "$nif" ]
	if grep -q '^ *lo:' /proc/net/dev; then
		check "$sh: network lists lo" grep -q '^iface lo ' <<<"$out"
	else
		skip "$sh: network lists lo (this machine has no lo)"
	fi

	if [ "$sh" = dash ]; then ndevfs=$(devfs_count df); else ndevfs=$(devfs_count "$busybox" df); fi
	run "$sh" disk-usage
	if [ "$ndevfs" -gt 0 ]; then
		check "$sh: disk-usage format (DEVICE MOUNT TOTAL USED)" lines_match '^/dev/[^ ]+ /.* [0-9]+ [0-9]+$'
		check "$sh: disk-usage one line per /dev/ filesystem ($ndevfs)" [ "$(printf '%s\n' "$out" | wc -l)" -eq "$ndevfs" ]
		check "$sh: disk-usage used <= total" awk '$(NF-1) < $NF { exit 1 }' <<<"$out"
	else
		check "$sh: disk-usage prints nothing (no /dev/ filesystems)" [ -z "$out" ]
	fi

	run "$sh" ip-addresses
	ips=$out
	if [ -n "$ips" ]; then
		check "$sh: ip-addresses are CIDR" lines_match "$cidr_re"
	else
		skip "$sh: ip-addresses found no non-loopback addresses"
	fi
	check "$sh: ip-addresses has no loopback" [ -z "$(grep -E '^(127\.|::1/)' <<<"$ips")" ]

	for c in lsb-release-id lsb-release-codename lsb-release-number; do
		if [ -e /etc/os-release ] || [ -e /usr/lib/os-release ]; then
			run "$sh" "$c"
			check "$sh: $c on this system prints one non-empty line" [ -n "$out" -a "$(printf '%s\n' "$out" | wc -l)" -eq 1 ]
		else
			skip "$sh: $c on this system (it has no os-release)"
		fi
		run "$sh" NEGOTIATOR_OS_RELEASE="$tmp/missing" "$c"
		check "$sh: $c, missing os-release -> exit 1, one stderr line, no stdout" \
			[ "$rc" -eq 1 -a -z "$out" -a -n "$err" -a "$(printf '%s\n' "$err" | wc -l)" -eq 1 ]
	done
	for case in $lsb_cases; do
		IFS=: read -r file id codename number <<<"$case"
		for pair in "lsb-release-id:$id" "lsb-release-codename:$codename" "lsb-release-number:$number"; do
			c=${pair%%:*} want=${pair#*:}
			run "$sh" NEGOTIATOR_OS_RELEASE="$tmp/$file" "$c"
			check "$sh: $c with $file os-release = '$want'" [ "$rc" -eq 0 -a "$out" = "$want" ]
		done
	done
done

# ip-addresses without `ip`: /proc fallback must give the same addresses.
# (busybox sh runs its own `ip` applet even when it is not on PATH, so the
# fallback is exercised under dash, with busybox and with system tools.)
want=$(sort <<<"$ips")
for sh in dash-bbnoip dash-noip; do
	run "$sh" ip-addresses
	check "$sh: ip-addresses exits 0 with empty stderr" succeeded
	check "$sh: ip-addresses matches the ip-based output" [ "$(sort <<<"$out")" = "$want" ]
done

# The daemon executes the file itself: #! line and executable bit.
for c in "${commands[@]}"; do
	run exec "$c"
	check "exec: $c runs through its #! line" succeeded
done

finish
