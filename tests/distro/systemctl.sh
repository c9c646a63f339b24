#!/bin/bash
# systemctl.sh: lvtest.sh installs this as /usr/local/sbin/systemctl in the
# host package's scratch root, where no systemd runs, with
# /run/systemd/system present: so the package's own maintainer scripts
# (dh_installsystemd's, through deb-systemd-invoke) start the daemon on
# install, restart it on upgrade and stop it on remove, and the test sees
# that they ask.  deb-systemd-helper, which looks for /bin/systemctl and
# /usr/bin/systemctl only, still makes the enablement links itself.
#
# It knows what it needs of a unit and no more: ExecStart= (one command
# line, no quoting), RuntimeDirectory= (made on start, kept on stop: the
# units say RuntimeDirectoryPreserve=yes), and a stop as KillMode=mixed,
# KillSignal=SIGTERM and TimeoutStopSec= say: the signal to the main
# process alone, SIGKILL to it past the timeout.  Unlike systemd it does
# not kill what the daemon leaves behind (the rest of the unit's cgroup):
# the test looks for that itself.  Any other KillMode or KillSignal, and
# any other verb, is an error, so that a changed unit shows here.
#
# State, in /run/lvtest: UNIT.pid (the main process), UNIT.log (its
# stdout and stderr, the journal's part), systemctl.log (every call).
set -u
ST=/run/lvtest
mkdir -p "$ST"
echo "systemctl $*" >>"$ST/systemctl.log"
verb=''
units=()
for a; do
	case $a in
	--) ;;
	-*) ;;
	*) if [ -z "$verb" ]; then verb=$a; else units+=("${a%.service}.service"); fi ;;
	esac
done
die() { echo "systemctl (lvtest stand-in): $*" | tee -a "$ST/systemctl.log" >&2; exit 1; }

# unit_get UNIT KEY: the value of KEY= in UNIT's file (the last one).
unit_get() {
	local f
	for f in /etc/systemd/system/$1 /lib/systemd/system/$1 /usr/lib/systemd/system/$1; do
		[ -f "$f" ] || continue
		sed -n "s/^$2=//p" "$f" | tail -n 1
		return 0
	done
	return 1
}
main_pid() {
	local p
	p=$(cat "$ST/$1.pid" 2>/dev/null) || return 1
	[ -n "$p" ] && kill -0 "$p" 2>/dev/null && echo "$p"
}
unit_start() {
	local u=$1 exe rd m fd
	main_pid "$u" >/dev/null && return 0
	exe=$(unit_get "$u" ExecStart) && [ -n "$exe" ] || die "$u: no ExecStart"
	rd=$(unit_get "$u" RuntimeDirectory)
	if [ -n "$rd" ]; then
		m=$(unit_get "$u" RuntimeDirectoryMode)
		mkdir -p "/run/$rd" && chmod "${m:-0755}" "/run/$rd"
	fi
	# The daemon gets no descriptor of dpkg's or apt's (their pipes
	# would stay open), a session of its own, and / as its directory.
	(
		for fd in /proc/$BASHPID/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		cd /
		# shellcheck disable=SC2086
		exec setsid $exe </dev/null >>"$ST/$u.log" 2>&1
	) &
	echo $! >"$ST/$u.pid"
}
unit_stop() {
	local u=$1 p sig t
	[ "$(unit_get "$u" KillMode)" = mixed ] || die "$u: KillMode is not mixed"
	sig=$(unit_get "$u" KillSignal)
	[ "$sig" = SIGTERM ] || die "$u: KillSignal is not SIGTERM"
	t=$(unit_get "$u" TimeoutStopSec)
	t=${t%s}
	t=${t:-90}
	p=$(main_pid "$u") || { rm -f "$ST/$u.pid"; return 0; }
	kill -TERM "$p"
	for _ in $(seq $((t * 10))); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		echo "$u: main process $p still there after ${t}s: SIGKILL" >>"$ST/systemctl.log"
		kill -KILL "$p"
	fi
	rm -f "$ST/$u.pid"
}

case $verb in
daemon-reload) exit 0 ;;
is-enabled)
	for u in "${units[@]}"; do
		ls /etc/systemd/system/*.wants/"$u" >/dev/null 2>&1 ||
		    { echo disabled; exit 1; }
		echo enabled
	done ;;
is-active)
	for u in "${units[@]}"; do
		main_pid "$u" >/dev/null || { echo inactive; exit 3; }
		echo active
	done ;;
start|stop|restart)
	for u in "${units[@]}"; do
		unit_get "$u" ExecStart >/dev/null || die "Unit $u not found."
		case $verb in
		start) unit_start "$u" ;;
		stop) unit_stop "$u" ;;
		restart) unit_stop "$u" && unit_start "$u" ;;
		esac
	done ;;
*) die "unsupported: $*" ;;
esac
exit 0
