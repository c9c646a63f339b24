#!/bin/sh
#
# Runs the built daemons under a real, private supervisord with the program
# sections from supervisor/, and checks what a supervisor relies on:
#   a. negotiator-host comes up RUNNING, creates its control socket (mode
#      0660) and answers "negotiator-host -g";
#   b. after "kill -9" it is RUNNING again with a new pid within 5 seconds
#      and answers again;
#   c. "supervisorctl stop" ends it with exit status 0 (STOPPED, not
#      EXITED, FATAL or killed), its control socket is removed and its log
#      shows no error;
#   the guest daemon's section is accepted and negotiator-guest stays
#   RUNNING while it has no ports (pointed at an empty directory);
#   d. after supervisord shuts down, no process of this test is left.
# Needs ./negotiator-host and ./negotiator-guest built at the top of the
# tree (NEGOTIATOR_BINDIR=dir takes them from dir instead).  Installs the
# supervisor and python3 packages with apt-get when they are missing.
# One line per check, then "N passed, M failed, K skipped"; exits 1 if any
# failed.
# KEEP=1 keeps the temporary directory for inspection.

set -u

top=$(cd "$(dirname "$0")/.." && pwd)
bindir=${NEGOTIATOR_BINDIR:-$top}
host=$bindir/negotiator-host
guest=$bindir/negotiator-guest
. "$top/tests/lib.sh"
svpid=
T=

info()
{
	echo "     $1"
}

# Escapes a string for the right-hand side of a sed s||| command.
sed_rhs()
{
	printf '%s' "$1" | sed 's/[|&\\]/\\&/g'
}

ctl()
{
	supervisorctl -c "$T/supervisord.conf" "$@" 2>&1
}

# state program: RUNNING, STARTING, STOPPED, EXITED, FATAL, BACKOFF...
state()
{
	ctl status "$1" | awk -v p="$1" '$1 == p { print $2 }'
}

pid_of()
{
	ctl pid "$1" | tr -dc 0-9
}

# The pids of the processes this test started: those whose command line
# mentions the temporary directory (supervisord, the daemons) or whose
# environment holds the mark given to supervisord (anything the daemons
# started without a clean environment, even in a session of its own), plus
# the test command if it ran.
leftovers()
{
	for d in /proc/[0-9]*; do
		p=${d#/proc/}
		[ "$p" = "$$" ] && continue
		c=$( { tr '\0' ' ' <"$d/cmdline"; } 2>/dev/null) || continue
		e=$( { tr '\0' '\n' <"$d/environ"; } 2>/dev/null)
		case $c in
		*"$T"*) echo "$p"; continue ;;
		esac
		case "
$e
" in
		*"
NEGOTIATOR_SV_TEST=$T
"*) echo "$p" ;;
		esac
	done
	if [ -s "$T/sleeper.pid" ]; then
		p=$(cat "$T/sleeper.pid")
		# Only if still the sleeper: its number may be another's now.
		same_process "$p" "$(cat "$T/sleeper.start" 2>/dev/null)" &&
		    echo "$p"
	fi
}

# Run from the EXIT trap.
# shellcheck disable=SC2317
cleanup()
{
	[ -n "$T" ] && [ -d "$T" ] || return
	if [ -n "$svpid" ] && kill -0 "$svpid" 2>/dev/null; then
		ctl shutdown >/dev/null
		i=0
		while kill -0 "$svpid" 2>/dev/null && [ "$i" -lt 50 ]; do
			sleep 0.2
			i=$((i + 1))
		done
	fi
	for p in $(leftovers); do
		kill -9 "$p" 2>/dev/null
	done
	if [ -n "${KEEP-}" ]; then
		echo "     kept $T" >&2
	else
		rm -rf "$T"
	fi
}

# Shows the end of the logs after a failure.
logs()
{
	for f in supervisord.log host.log guest.log; do
		[ -s "$T/$f" ] || continue
		echo "     --- $f (last lines)"
		tail -n 15 "$T/$f" | sed 's/^/     /'
	done
}

# wait_running program seconds: polls every 0.2 s until program is RUNNING.
wait_running()
{
	i=0
	while [ $i -lt $(($2 * 5)) ]; do
		[ "$(state "$1")" = RUNNING ] && return 0
		sleep 0.2
		i=$((i + 1))
	done
	return 1
}

# Tells whether a UNIX socket accepts connections (python3: checked below).
connects()
{
	python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(2)
s.connect(sys.argv[1])
' "$1" 2>/dev/null
}

# --- Set-up.

for b in "$host" "$guest"; do
	if [ ! -x "$b" ]; then
		bad "$b is not built (run make first)"
		finish; exit
	fi
done
if ! need supervisord supervisor; then
	bad "supervisord: not installed and could not be installed"
	finish; exit
fi
if ! need python3 python3; then
	bad "python3 (to connect to the sockets): not installed and could not be installed"
	finish; exit
fi

T=$(mktemp -d /tmp/negotiator-sv.XXXXXX) || exit 1
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
mkdir -p "$T/conf.d" "$T/chan" "$T/cmds" "$T/gports"

# A command that would show whether running commands are killed; no guest
# calls it here (there is none), the check that does is still to come.
printf '#!/bin/sh\necho $$ > %s/sleeper.pid; exec sleep 300\n' "$T" \
    >"$T/cmds/sleeper"
chmod 0755 "$T/cmds/sleeper"

cat >"$T/supervisord.conf" <<EOF
[unix_http_server]
file=$T/supervisor.sock
chmod=0700

[supervisord]
logfile=$T/supervisord.log
pidfile=$T/supervisord.pid
childlogdir=$T
loglevel=info
nodaemon=true

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://$T/supervisor.sock

[include]
files = $T/conf.d/*.conf
EOF

# The shipped sections, with the binaries from the tree, private sockets,
# directories and logs appended or substituted.
q_bindir=$(sed_rhs "$bindir")
q_t=$(sed_rhs "$T")
q_top=$(sed_rhs "$top")
sed -e "s|@BINDIR@|$q_bindir|g" \
    -e "s|^command=.*|& --control $q_t/host.sock --channel-dir $q_t/chan --commands-dir $q_t/cmds --builtin-dir $q_top/commands|" \
    -e "s|^stdout_logfile=.*|stdout_logfile=$q_t/host.log|" \
    "$top/supervisor/negotiator-host.conf" >"$T/conf.d/negotiator-host.conf"
sed -e "s|@BINDIR@|$q_bindir|g" \
    -e "s|^command=.*|& -c $q_t/gports --control $q_t/guest.sock --commands-dir $q_t/cmds --builtin-dir $q_top/commands|" \
    -e "s|^stdout_logfile=.*|stdout_logfile=$q_t/guest.log|" \
    "$top/supervisor/negotiator-guest.conf" >"$T/conf.d/negotiator-guest.conf"

NEGOTIATOR_SV_TEST=$T supervisord -c "$T/supervisord.conf" >"$T/supervisord.out" 2>&1 &
svpid=$!

# --- a. Start.

i=0
while [ -z "$(state negotiator-host)" ] && [ $i -lt 50 ]; do
	kill -0 "$svpid" 2>/dev/null || break
	sleep 0.2
	i=$((i + 1))
done
if [ -z "$(state negotiator-host)" ]; then
	bad "supervisord did not come up with the negotiator-host section" \
	    "$(cat "$T/supervisord.out" 2>/dev/null)"
	logs
	finish; exit
fi

if wait_running negotiator-host 10; then
	ok "a. negotiator-host RUNNING under supervisord (pid $(pid_of negotiator-host))"
else
	bad "a. negotiator-host not RUNNING: $(state negotiator-host)"
	logs
fi

if [ -S "$T/host.sock" ] && connects "$T/host.sock"; then
	ok "a. control socket $T/host.sock accepts connections"
else
	bad "a. control socket $T/host.sock missing or not accepting"
fi

mode=$(stat -c %a "$T/host.sock" 2>/dev/null)
if [ "$mode" = 660 ]; then
	ok "a. control socket has mode 0660"
else
	bad "a. control socket has mode ${mode:-(none)}, not 0660"
fi

out=$("$host" --control "$T/host.sock" -g 2>&1)
rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then
	ok "a. negotiator-host -g exits 0 and lists no guest"
else
	bad "a. negotiator-host -g: status $rc" "$out"
fi

# --- The guest daemon's section: accepted, and waiting without ports.

if wait_running negotiator-guest 10; then
	gpid=$(pid_of negotiator-guest)
	sleep 2
	if [ "$(state negotiator-guest)" = RUNNING ] &&
	    [ "$(pid_of negotiator-guest)" = "$gpid" ]; then
		ok "guest: negotiator-guest RUNNING and still waiting for its ports"
	else
		bad "guest: negotiator-guest did not stay up without ports: $(state negotiator-guest)"
		logs
	fi
else
	bad "guest: negotiator-guest not RUNNING: $(state negotiator-guest)"
	logs
fi

# --- b. Restart after kill -9.

pid1=$(pid_of negotiator-host)
if [ -z "$pid1" ] || [ "$pid1" = 0 ]; then
	bad "b. no pid for negotiator-host"
else
	kill -9 "$pid1"
	t0=$(now_ms)
	pid2=
	while [ $(($(now_ms) - t0)) -lt 5000 ]; do
		if [ "$(state negotiator-host)" = RUNNING ]; then
			pid2=$(pid_of negotiator-host)
			[ -n "$pid2" ] && [ "$pid2" != 0 ] &&
			    [ "$pid2" != "$pid1" ] && break
		fi
		pid2=
		sleep 0.2
	done
	took=$(($(now_ms) - t0))
	if [ -n "$pid2" ]; then
		ok "b. RUNNING again after kill -9 in $took ms (pid $pid1 -> $pid2)"
		out=$("$host" --control "$T/host.sock" -g 2>&1)
		rc=$?
		if [ $rc -eq 0 ] && [ -z "$out" ] && connects "$T/host.sock"
		then
			ok "b. negotiator-host -g works again"
		else
			bad "b. negotiator-host -g after the restart: status $rc" \
			    "$out"
		fi
	else
		bad "b. not RUNNING with a new pid within 5 s after kill -9: $(state negotiator-host)"
		logs
	fi
fi

# --- c. Clean stop, with a command running.
#
# An emulated guest (tests/vserial) joins the two supervised daemons; a
# CLI in the "guest" starts the sleeper command on the host, and stopping
# the host daemon must kill it.

"$top/tests/vserial" "$T/chan" "$T/gports" sv-guest \
    --pidfile "$T/vserial.pid" &
vspid=$!
sleeper_started=
i=0
while [ $i -lt 50 ]; do
	"$guest" --control "$T/guest.sock" -e 'exit 0' >/dev/null 2>&1
	[ $? -eq 127 ] && break	# the host answered: no command "exit"
	sleep 0.2
	i=$((i + 1))
done
"$guest" --control "$T/guest.sock" -t 0 -e sleeper >/dev/null 2>&1 &
clipid=$!
i=0
while [ ! -s "$T/sleeper.pid" ] && [ $i -lt 50 ]; do
	sleep 0.2
	i=$((i + 1))
done
if [ -s "$T/sleeper.pid" ]; then
	sleeper_started=$(cat "$T/sleeper.pid")
	start_time "$sleeper_started" >"$T/sleeper.start"
	ok "c. a guest's call runs the sleeper command on the host (pid $sleeper_started)"
else
	bad "c. the sleeper command did not start through the emulated guest"
	logs
fi

pid=$(pid_of negotiator-host)
t0=$(now_ms)
out=$(ctl stop negotiator-host)
took=$(($(now_ms) - t0))
st=$(state negotiator-host)
if [ "$st" = STOPPED ]; then
	ok "c. supervisorctl stop: STOPPED in $took ms"
else
	bad "c. supervisorctl stop: state ${st:-(none)}" "$out"
fi
if grep -q "stopped: negotiator-host (exit status 0)" "$T/supervisord.log"
then
	ok "c. negotiator-host exited with status 0 on SIGTERM"
else
	bad "c. negotiator-host did not exit 0 on SIGTERM" \
	    "$(grep 'negotiator-host' "$T/supervisord.log" | tail -n 5)"
fi
if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
	bad "c. negotiator-host (pid $pid) still alive after the stop"
fi
if [ -n "$sleeper_started" ]; then
	if ! [ -s "$T/sleeper.start" ]; then
		bad "c. the sleeper's start time was not read (pid $sleeper_started)"
	elif ! same_process "$sleeper_started" "$(cat "$T/sleeper.start")"; then
		ok "c. running command killed by the stop"
	else
		bad "c. running command (pid $sleeper_started) survived the stop"
	fi
fi
wait "$clipid" 2>/dev/null
kill "$vspid" 2>/dev/null
wait "$vspid" 2>/dev/null
if [ ! -e "$T/host.sock" ]; then
	ok "c. control socket removed"
else
	bad "c. control socket $T/host.sock left behind"
fi
errors=$(grep -Ei 'error|fatal|abort|assert|segmentation|sanitizer' \
    "$T/host.log" 2>/dev/null)
if [ -z "$errors" ]; then
	ok "c. host log shows no error"
else
	bad "c. host log shows errors" "$errors"
fi

# --- d. Shutdown.

ctl shutdown >/dev/null
i=0
while kill -0 "$svpid" 2>/dev/null && [ $i -lt 100 ]; do
	sleep 0.2
	i=$((i + 1))
done
if kill -0 "$svpid" 2>/dev/null; then
	bad "d. supervisord still running 20 s after shutdown"
else
	wait "$svpid" 2>/dev/null
	ok "d. supervisord shut down"
fi
# Reported, not counted: this test checks the guest section only for
# being accepted and started.
if grep -q "stopped: negotiator-guest (exit status 0)" "$T/supervisord.log"
then
	info "(guest daemon exited with status 0 on SIGTERM)"
else
	info "(guest daemon: $(grep 'stopped: negotiator-guest' \
	    "$T/supervisord.log" | tail -n 1))"
fi
left=$(leftovers)
if [ -z "$left" ]; then
	ok "d. no process of this test left"
else
	details=
	for p in $left; do
		details="$details$p: $( { tr '\0' ' ' <"/proc/$p/cmdline"; } \
		    2>/dev/null)
"
		kill -9 "$p" 2>/dev/null
	done
	bad "d. processes left after shutdown (killed now)" "${details%?}"
fi

[ "$FAILED" -eq 0 ] || logs
finish
