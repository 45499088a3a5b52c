# shellcheck shell=bash
# lib.sh - helpers shared by the bench/*.sh scripts (sourced, bash).
#
# Every process started through bench_start is remembered and stopped by
# bench_cleanup, which the scripts run from an EXIT trap; every wait is
# bounded.  Servers are started with setsid so that a server and the
# workers it forks form one process group named by the server's pid.
#
# A pid is only signalled while it is still the process we started: bash
# reaps its children by itself, so a remembered pid may already belong to
# someone else (pid_max is 32768 on these machines, and other people's
# tests fork thousands of processes).  bench_start records the process's
# start time (/proc/PID/stat field 22) and bench_alive compares it;
# bench_stop forgets the pid once it is gone, and signals a process group
# only while a member of our session is still in it (a group id cannot be
# reused while it has members).

BENCH_PIDS=()
declare -A BENCH_STIME=()
BENCH_TMP=
# Clock ticks per second, the unit of /proc/PID/stat's times.
export CLK_TCK
CLK_TCK=$(getconf CLK_TCK)

bench_die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

# A directory for configs and logs, removed by bench_cleanup.
bench_tmpdir() {
	BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/tao-bench.XXXXXX") ||
	    bench_die "cannot make a temporary directory"
}

# Print a TCP port on 127.0.0.1 that is free now (the kernel picks it).
bench_free_port() {
	local port

	port=$(perl -MIO::Socket::INET -e '
	    my $s = IO::Socket::INET->new(Listen => 1, ReuseAddr => 1,
	        LocalAddr => "127.0.0.1:0") or exit 1;
	    print $s->sockport, "\n";' 2>/dev/null) && [ -n "$port" ] &&
	    { echo "$port"; return 0; }
	# No perl: try ports until one refuses connections.
	for _ in $(seq 100); do
		port=$((20000 + RANDOM % 30000))
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null ||
		    { echo "$port"; return 0; }
	done
	return 1
}

# Wait until something accepts connections on PORT, at most SECS (10)
# seconds, or until the process PID (if given) has died.
bench_wait_port() {
	local port=$1 secs=${2:-10} pid=${3:-} i

	for ((i = 0; i < secs * 20; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		[ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
		sleep 0.05
	done
	return 1
}

# bench_start LOG CMD [ARGS...]: start CMD in the background in its own
# session, output to LOG; sets BENCH_PID.
bench_start() {
	local log=$1

	shift
	if command -v setsid >/dev/null; then
		setsid "$@" >"$log" 2>&1 </dev/null &
	else
		"$@" >"$log" 2>&1 </dev/null &
	fi
	BENCH_PID=$!
	bench_track "$BENCH_PID"
}

# Remember PID (a child of this shell) for bench_alive, bench_stop and
# bench_cleanup.
bench_track() {
	BENCH_STIME[$1]=$(bench_stime "$1")
	BENCH_PIDS+=("$1")
}

bench_forget() {
	local pid
	local -a keep=()

	for pid in "${BENCH_PIDS[@]}"; do
		[ "$pid" != "$1" ] && keep+=("$pid")
	done
	BENCH_PIDS=("${keep[@]}")
	unset "BENCH_STIME[$1]"
}

# The start time of PID in clock ticks since boot (field 22 of
# /proc/PID/stat); fails when there is no such process.
bench_stime() {
	local stat

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo "${20}"
}

# Stop a process started by bench_start, and what it forked: SIGTERM,
# then SIGKILL to its process group after SECS (10) seconds.  Waits for
# it (bounded) and forgets it.
bench_stop() {
	local pid=$1 secs=${2:-10} i members

	if bench_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < secs * 20; i++)); do
			bench_alive "$pid" || break
			sleep 0.05
		done
		if bench_alive "$pid"; then
			kill -KILL -- "-$pid" 2>/dev/null
			kill -KILL "$pid" 2>/dev/null
		fi
	fi
	# Reap it unless the number already belongs to a live process (which
	# may be another child of ours: wait would block on it).
	bench_running "$pid" || wait "$pid" 2>/dev/null
	# Workers that outlived their master still hold its session and group
	# id, so the number cannot have been given to a new process; if the
	# pid itself is listed, it was (the master is gone): leave it alone.
	members=$(pgrep -s "$pid" 2>/dev/null)
	if [ -n "$members" ] && ! grep -qx -- "$pid" <<<"$members"; then
		kill -KILL -- "-$pid" 2>/dev/null
	fi
	bench_forget "$pid"
	return 0
}

# Running, as opposed to gone or a zombie waiting to be reaped, and still
# the process bench_track saw (not a new one under a reused pid).
# An untracked pid is only checked for being alive.
bench_alive() {
	local pid=$1 stat

	stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ] || return 1
	[ -z "${BENCH_STIME[$pid]+set}" ] && return 0
	# shellcheck disable=SC2086
	set -- $stat
	[ "${20}" = "${BENCH_STIME[$pid]}" ]
}

# Some process, ours or not, runs under this pid.
bench_running() {
	local stat

	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

bench_cleanup() {
	local pid

	for pid in "${BENCH_PIDS[@]}"; do
		bench_stop "$pid" 5
	done
	BENCH_PIDS=()
	BENCH_STIME=()
	if [ -n "${BENCH_KEEP:-}" ] && [ -n "$BENCH_TMP" ]; then
		echo "${0##*/}: logs and configs kept in $BENCH_TMP" >&2
	elif [ -n "$BENCH_TMP" ]; then
		rm -rf "$BENCH_TMP"
	fi
	BENCH_TMP=
}

# PID and its descendants, one per line.
bench_tree() {
	local child

	echo "$1"
	for child in $(pgrep -P "$1" 2>/dev/null); do
		bench_tree "$child"
	done
}

# utime + stime in clock ticks (fields 14 and 15 of /proc/PID/stat),
# summed over PID and its descendants.  The command name (field 2) may
# hold spaces, so the fields are counted after its closing parenthesis.
bench_cpu_ticks() {
	local pid stat sum=0

	for pid in $(bench_tree "$1"); do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		# shellcheck disable=SC2086
		set -- $stat
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}

# VmRSS in kB summed over PID and its descendants.
bench_rss_kb() {
	local pid kb sum=0

	for pid in $(bench_tree "$1"); do
		kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" \
		    2>/dev/null)
		sum=$((sum + ${kb:-0}))
	done
	echo "$sum"
}

# bench_json JSON KEY: the value of a number or string field in the flat
# one-line JSON that tao-bench --json prints.
bench_json() {
	local v

	case $1 in
	*"\"$2\":"*) ;;
	*) echo ""; return ;;
	esac
	v=${1#*\""$2"\":}
	v=${v%%[,\}]*}
	v=${v#\"}
	echo "${v%\"}"
}

# The median of the numbers given (the mean of the middle two for an even
# count); empty when none.
bench_median() {
	[ $# -eq 0 ] && { echo ""; return; }
	printf '%s\n' "$@" | sort -g | awk '
	    { v[NR] = $1 }
	    END { if (NR % 2) print v[(NR + 1) / 2];
	          else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# a / b with two decimals, "-" when either is missing or b is 0.
bench_ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
	    if (a == "" || b == "" || b + 0 == 0) print "-";
	    else printf "%.2f\n", a / b }'
}

# Print a number with at most DIGITS decimals (default 1); "-" if empty.
bench_fmt() {
	awk -v v="$1" -v d="${2:-1}" 'BEGIN {
	    if (v == "") { print "-"; exit }
	    s = sprintf("%." d "f", v); sub(/\.0+$/, "", s); print s }'
}
