# bash completion for negotiator-host and negotiator-guest.
#
# Installed as .../bash-completion/completions/negotiator-host and
# .../negotiator-guest, where Debian's bash-completion loads it the first
# time either command is completed.  The options come from the program's
# own --help (read once per shell), so they cannot fall behind it; guest
# names come from `negotiator-host -g`, command names from
# `negotiator-host -c GUEST` (with the guest already on the line) or
# `negotiator-guest -l`.  Every question to a daemon is bounded by
# `timeout 2`: a daemon that does not answer completes nothing, it never
# hangs the shell.  A --control given on the line is asked, not the
# default socket.

# _negotiator_ask PROGRAM WORDS...: PROGRAM's answer (one name a line) with
# the --control of the line being completed, or nothing in 2 s.
_negotiator_ask() {
	local prog=$1
	shift
	timeout 2 "$prog" ${_negotiator_control:+--control "$_negotiator_control"} \
	    "$@" 2>/dev/null </dev/null
}

# _negotiator_options PROGRAM: the long and short options of its --help.
_negotiator_options() {
	local var=_negotiator_opts_${1//[^A-Za-z0-9]/_}
	if [[ -z ${!var-} ]]; then
		printf -v "$var" '%s' "$("$1" --help 2>&1 |
		    grep -oE '(^|[[:space:],])--?[A-Za-z][-A-Za-z]*' |
		    tr -d ' ,' | sort -u | tr '\n' ' ')"
	fi
	printf '%s\n' "${!var}"
}

_negotiator() {
	local prog=${COMP_WORDS[0]##*/} cur=${COMP_WORDS[COMP_CWORD]}
	local prev= i w guest= _negotiator_control=
	local IFS=$' \t\n'
	[[ $COMP_CWORD -gt 0 ]] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# What the line says so far: its --control, and (host) a guest named
	# by -c/--ping or as the operand.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--control) _negotiator_control=${COMP_WORDS[i + 1]-} ;;
		--control=*) _negotiator_control=${w#--control=} ;;
		-*) ;;
		*)
			case ${COMP_WORDS[i - 1]} in
			-e|--execute|-t|--timeout|--count|--control|\
			--commands-dir|--builtin-dir|--channel-dir|--sysfs-root|\
			--dev-dir|--max-timeout|--log-rate|--max-jobs|\
			--max-jobs-per-peer|--peer-timeout|--guests) ;;
			*) guest=$w ;;
			esac ;;
		esac
	done

	case $prev in
	--commands-dir|--builtin-dir|--channel-dir|--sysfs-root|--dev-dir)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		return ;;
	--control)
		compopt -o filenames 2>/dev/null
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	-t|--timeout|--count|--max-timeout|--log-rate|--max-jobs|\
	--max-jobs-per-peer|--peer-timeout)
		return ;;
	-e|--execute)
		# The command's name: the first word of 'CMD ARGS'.
		[[ $cur == *[[:space:]]* ]] && return
		if [[ $prog == negotiator-guest ]]; then
			mapfile -t COMPREPLY < <(compgen -W \
			    "$(_negotiator_ask "${COMP_WORDS[0]}" -l)" -- "$cur")
		elif [[ -n $guest ]]; then
			mapfile -t COMPREPLY < <(compgen -W \
			    "$(_negotiator_ask "${COMP_WORDS[0]}" -c "$guest")" \
			    -- "$cur")
		fi
		return ;;
	esac
	if [[ $prog == negotiator-guest ]]; then
		if [[ $prev == -c || $prev == --character-device ]]; then
			compopt -o filenames 2>/dev/null
			mapfile -t COMPREPLY < <(compgen -d -- "$cur")
			return
		fi
	elif [[ $prev == --guests ]]; then
		# A comma-separated list: complete its last element.
		local head=${cur%,*}, names
		[[ $cur == *,* ]] || head=
		names=$(_negotiator_ask "${COMP_WORDS[0]}" -g)
		mapfile -t COMPREPLY < <(compgen -P "$head" -W "$names" \
		    -- "${cur##*,}")
		compopt -o nospace 2>/dev/null
		return
	elif [[ $prev == -c || $prev == --list-commands || $prev == --ping ||
	    $prev == --attach || $prev == --detach || $cur != -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W \
		    "$(_negotiator_ask "${COMP_WORDS[0]}" -g)" -- "$cur")
		return
	fi
	[[ $cur == -* ]] && mapfile -t COMPREPLY < <(compgen -W \
	    "$(_negotiator_options "${COMP_WORDS[0]}")" -- "$cur")
}
complete -F _negotiator negotiator-host negotiator-guest
