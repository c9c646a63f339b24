#!/bin/sh
# /init of the negotiator test VM (busybox sh as PID 1; built in by mkimage.sh).
#
# With negotiator.probe=1 on the kernel command line it prints "init: probe"
# and powers off at once (vm.sh's KVM probe).  Otherwise it guarantees:
# proc, sysfs, devtmpfs (/dev), tmpfs /run and /tmp are mounted; the virtio
# modules listed in /lib/modules/load-order are inserted in that order (ones
# already loaded or built in are skipped); lo is up; the hostname is
# negotiator-vm.  Then it supervises `/usr/bin/negotiator-guest -d`
# (plus -v if the kernel command line has negotiator.debug=1, and OPTION
# for each negotiator.opt=OPTION there): it logs
# "init: starting negotiator-guest" to the console at each start, the
# daemon's stdout/stderr go to the console, and it is restarted 0.5 s after
# it exits.  Waiting in the loop also reaps orphans adopted by PID 1.
# SIGTERM, SIGUSR1 or SIGUSR2 to PID 1 (busybox reboot/halt/poweroff send
# these) stop the daemon and power the VM off (`poweroff -f`).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Pseudo-terminals, for --tty calls (tests/scenario-tty.sh).
mkdir -p /dev/pts
mount -t devpts -o mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp
exec </dev/console >/dev/console 2>&1

# vm.sh's accelerator probe: reaching this line is all it asks.
case " $(cat /proc/cmdline) " in
*" negotiator.probe=1 "*) echo "init: probe"; poweroff -f ;;
esac

for m in $(cat /lib/modules/load-order); do
	[ -d "/sys/module/$m" ] || insmod "/lib/modules/$m.ko" ||
	    echo "init: insmod $m failed"
done
ip link set lo up
hostname negotiator-vm

opts=-d
case " $(cat /proc/cmdline) " in *" negotiator.debug=1 "*) opts="-d -v" ;; esac
# Each negotiator.opt=OPTION on the kernel command line is one more option
# for the daemon (e.g. negotiator.opt=--max-jobs-per-peer=64).
for w in $(cat /proc/cmdline); do
	case $w in negotiator.opt=?*) opts="$opts ${w#negotiator.opt=}" ;; esac
done

stop=0 pid=
trap 'stop=1; [ -n "$pid" ] && kill $pid 2>/dev/null' TERM USR1 USR2
while [ $stop = 0 ]; do
	echo "init: starting negotiator-guest"
	/usr/bin/negotiator-guest $opts &
	pid=$!
	# wait returns early when a trapped signal arrives; wait again until
	# the daemon itself is gone.
	while kill -0 $pid 2>/dev/null; do wait $pid; done
	pid=
	[ $stop = 0 ] && sleep 0.5
done
echo "init: stopping"
sync
poweroff -f
