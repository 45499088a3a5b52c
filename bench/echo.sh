#!/usr/bin/env bash
# echo.sh - taod's echo app against baseline-echo, side by side in one run.
#
#   bench/echo.sh [SCENARIO...]        (default: all of them)
#
# Scenarios:
#   echo-d1   echo, 100 connections, 1 request in flight each, 128 B
#   echo-d16  the same with 16 in flight per connection
#   stream    64 KiB frames pipelined on one connection
#   burst     8192 connections opened at once, one 1 KiB message each
#   idle      10 000 idle connections: server RSS per connection
#   workers   taod workers 1 and 2 against baseline-echo -n 1 and -n 2,
#             echo with depth 1 and 16
#
# Both servers run at the same time on free loopback ports; each scenario
# is run BENCH_RUNS times, alternating which server goes first.  Server
# CPU is utime+stime of the server and all its children (taod's workers)
# from /proc, before and after the load.  The machine is shared with the
# load generator (and possibly other work), so read the ratios, not the
# absolute figures.
#
# Environment:
#   BUILD          where taod, tao-bench, baseline-echo are (build)
#   BENCH_TIME     seconds per run (5)
#   BENCH_RUNS     runs per scenario and server (3)
#   BENCH_WORKERS  workers/processes for all but "workers" (1)
#   BENCH_JOBS     tao-bench threads, -j (1)
#   BENCH_IDLE_CONNS, BENCH_BURST_CONNS   (10000, 8192)
#   BENCH_KEEP     if set, keep the temporary directory (configs, logs)
#   TAOD_CMD       command for the taod side, run by sh with $PORT,
#                  $WORKERS, $CONF (a taod config for them) and $DIR set;
#                  default: "$BUILD/taod" -c "$CONF".  For example, to try
#                  the script without taod:
#                  TAOD_CMD='build/baseline-echo -p $PORT -n $WORKERS'
# Exit status: 0, or 1 when a server failed or tao-bench saw errors.

set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

BUILD=${BUILD:-$here/../build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || bench_die "no build directory"
BENCH_TIME=${BENCH_TIME:-5}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_WORKERS=${BENCH_WORKERS:-1}
BENCH_JOBS=${BENCH_JOBS:-1}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
BURST_CONNS=${BENCH_BURST_CONNS:-8192}
ALL="echo-d1 echo-d16 stream burst idle workers"
SIDES=(taod baseline)

declare -A PID PORT VAL
TABLE=()
FAILED=0

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# ---- servers ----------------------------------------------------------------

# start_side SIDE WORKERS: start that server on a free port.
start_side() {
	local side=$1 w=$2 dir port

	dir=$BENCH_TMP/$side-w$w
	mkdir -p "$dir"
	port=$(bench_free_port) || bench_die "no free port"
	if [ "$side" = taod ]; then
		cat >"$dir/taod.conf" <<-EOF
		listen 127.0.0.1:$port tlv
		app echo
		workers $w
		max_connections 20000
		control $dir/taod.sock
		pidfile $dir/taod.pid
		EOF
		if [ -n "${TAOD_CMD:-}" ]; then
			bench_start "$dir/log" env PORT="$port" WORKERS="$w" \
			    CONF="$dir/taod.conf" DIR="$dir" \
			    sh -c "exec $TAOD_CMD"
		else
			bench_start "$dir/log" "$BUILD/taod" -c "$dir/taod.conf"
		fi
	else
		bench_start "$dir/log" "$BUILD/baseline-echo" -p "$port" -n "$w"
	fi
	if ! bench_wait_port "$port" 10 "$BENCH_PID"; then
		echo "${0##*/}: $side ($w) did not start listening; its log:" >&2
		tail -n 20 "$dir/log" >&2
		exit 1
	fi
	PID[$side]=$BENCH_PID
	PORT[$side]=$port
}

stop_side() {
	[ -n "${PID[$1]:-}" ] && bench_stop "${PID[$1]}"
	PID[$1]=
}

stop_sides() {
	local side

	for side in "${SIDES[@]}"; do
		stop_side "$side"
	done
}

start_sides() {
	start_side taod "$1"
	start_side baseline "$1"
}

# ---- one run ----------------------------------------------------------------

# bench_run SIDE ARGS...: run tao-bench against SIDE; sets RUN_JSON,
# RUN_RC and RUN_TICKS (server CPU ticks used meanwhile).
bench_run() {
	local side=$1 pid c0 c1

	shift
	pid=${PID[$side]}
	c0=$(bench_cpu_ticks "$pid")
	"$BUILD/tao-bench" "$@" -p "${PORT[$side]}" -j "$BENCH_JOBS" --json \
	    >"$BENCH_TMP/run.out" 2>>"$BENCH_TMP/tao-bench.err"
	RUN_RC=$?
	RUN_JSON=$(grep '^{' "$BENCH_TMP/run.out")
	c1=$(bench_cpu_ticks "$pid")
	RUN_TICKS=$((c1 - c0))
	check_run "$side"
}

check_run() {
	if [ -z "$RUN_JSON" ]; then
		echo "    $1: tao-bench failed (status $RUN_RC); stderr:" >&2
		tail -n 5 "$BENCH_TMP/tao-bench.err" >&2
		FAILED=1
	elif [ "$RUN_RC" != 0 ]; then
		FAILED=1
	fi
	if ! bench_alive "${PID[$1]}"; then
		echo "    $1: the server died; its log:" >&2
		tail -n 20 "$BENCH_TMP/$1"-w*/log >&2
		exit 1
	fi
}

# Order of the sides in run R: alternate who goes first.
order() {
	if (($1 % 2)); then echo taod baseline; else echo baseline taod; fi
}

record() {	# SCENARIO SIDE METRIC VALUE
	[ -n "$4" ] && VAL["$1|$2|$3"]+="$4 "
}

json() {
	bench_json "$RUN_JSON" "$1"
}

# awk arithmetic on the shell's numbers; "" when a value is missing.
calc() {
	awk -v e="$1" -v a="${2:-}" -v b="${3:-}" -v c="${4:-}" 'BEGIN {
	    if (a == "" || b == "" || c == "") { print ""; exit }
	    if (e == "per") v = (c + 0 == 0) ? "" : a * b / c;
	    else if (e == "mul") v = a * b * c;
	    if (v != "") printf "%.3f\n", v }'
}

# ---- scenarios ----------------------------------------------------------------

# fmt_list DIGITS VALUE...: the values formatted, comma separated.
fmt_list() {
	local digits=$1 v out=

	shift
	for v in "$@"; do
		out+="${out:+, }$(bench_fmt "$v" "$digits")"
	done
	echo "${out:--}"
}

# summary NAME LABEL METRIC:UNIT:DIGITS...: per-metric runs, medians and
# the ratio taod / baseline; one table row per metric.
summary() {
	local name=$1 label=$2 spec metric unit digits mt mb ratio
	local -a t b

	shift 2
	for spec in "$@"; do
		IFS=: read -r metric unit digits <<<"$spec"
		read -ra t <<<"${VAL["$name|taod|$metric"]:-}"
		read -ra b <<<"${VAL["$name|baseline|$metric"]:-}"
		mt=$(bench_median "${t[@]}")
		mb=$(bench_median "${b[@]}")
		ratio=$(bench_ratio "$mt" "$mb")
		printf '  %-18s taod %s | baseline %s | median %s / %s = %s\n' \
		    "$unit" "$(fmt_list "$digits" "${t[@]}")" \
		    "$(fmt_list "$digits" "${b[@]}")" \
		    "$(bench_fmt "$mt" "$digits")" \
		    "$(bench_fmt "$mb" "$digits")" "$ratio"
		TABLE+=("| $label | $unit | $(bench_fmt "$mt" "$digits") |\
 $(bench_fmt "$mb" "$digits") | $ratio |")
	done
}

# run_echo NAME LABEL DEPTH
run_echo() {
	local name=$1 label=$2 depth=$3 r side msgs cpu p99

	echo "== $label ($BENCH_RUNS x $BENCH_TIME s)"
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for side in $(order "$r"); do
			bench_run "$side" echo -c 100 -d "$depth" -s 128 \
			    -t "$BENCH_TIME"
			msgs=$(json msgs_per_s)
			# Every verified reply (window and drain) cost CPU.
			cpu=$(calc per "$RUN_TICKS" $((1000000 / CLK_TCK)) \
			    "$(json replies)")
			p99=$(json p99_us)
			record "$name" "$side" msgs "$msgs"
			record "$name" "$side" cpu "$cpu"
			record "$name" "$side" p99 "$p99"
			printf '  run %d %-8s msgs/s %s  cpu/msg %s us  p99 %s us  errors %s\n' \
			    "$r" "$side" "$(bench_fmt "$msgs" 0)" \
			    "$(bench_fmt "$cpu" 2)" "$(bench_fmt "$p99" 0)" \
			    "$(json errors)"
		done
	done
	summary "$name" "$label" msgs:msgs/s:0 cpu:"server CPU us/msg":2 \
	    p99:"p99 us":0
}

run_stream() {
	local name=stream label="stream, 64 KiB frames, 1 connection" r side mbs
	local cpu

	echo "== $label ($BENCH_RUNS x $BENCH_TIME s)"
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for side in $(order "$r"); do
			bench_run "$side" stream -s 65536 -t "$BENCH_TIME"
			mbs=$(json mb_per_s)
			# Server CPU microseconds per MB echoed.
			cpu=$(calc per "$RUN_TICKS" $((1000000 / CLK_TCK)) \
			    "$(calc mul "$mbs" "$(json seconds)" 1)")
			record "$name" "$side" mbs "$mbs"
			record "$name" "$side" cpu "$cpu"
			printf '  run %d %-8s MB/s %s  cpu/MB %s us  errors %s\n' \
			    "$r" "$side" "$(bench_fmt "$mbs" 1)" \
			    "$(bench_fmt "$cpu" 0)" "$(json errors)"
		done
	done
	summary "$name" "$label" mbs:MB/s:1 cpu:"server CPU us/MB":0
}

run_burst() {
	local name=burst label="burst, $BURST_CONNS connections, 1 KiB" r side
	local ms fails

	echo "== $label ($BENCH_RUNS runs)"
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for side in $(order "$r"); do
			bench_run "$side" burst -n "$BURST_CONNS" -s 1024
			ms=$(calc mul "$(json seconds)" 1000 1)
			fails=$(json errors)
			record "$name" "$side" ms "$ms"
			record "$name" "$side" fails "$fails"
			printf '  run %d %-8s time %s ms  replies %s  connect failures %s  missing %s  errors %s\n' \
			    "$r" "$side" "$(bench_fmt "$ms" 0)" "$(json replies)" \
			    "$(json connect_failures)" "$(json missing)" "$fails"
		done
	done
	summary "$name" "$label" ms:"time ms":0 fails:failures:0
}

# The idle load runs in the background: the server's RSS is read while
# tao-bench holds every connection (it says so on stderr).  The server
# is restarted first: memory freed by earlier scenarios would be reused
# and hide what connections cost.
idle_run() {
	local side=$1 log=$BENCH_TMP/idle.log pid rss0 rss1 tb i

	stop_side "$side"
	start_side "$side" "$BENCH_WORKERS"
	pid=${PID[$side]}
	sleep 0.5
	rss0=$(bench_rss_kb "$pid")
	bench_start "$log" "$BUILD/tao-bench" idle -n "$IDLE_CONNS" \
	    -t "$BENCH_TIME" -p "${PORT[$side]}" -j "$BENCH_JOBS" --json
	tb=$BENCH_PID
	for ((i = 0; i < 1200; i++)); do
		grep -q 'holding' "$log" 2>/dev/null && break
		bench_alive "$tb" || break
		sleep 0.05
	done
	# Let the server finish what the last replies started.
	sleep 0.5
	rss1=$(bench_rss_kb "$pid")
	HELD=$(sed -n 's/.*holding \([0-9]*\) connections.*/\1/p' "$log")
	wait "$tb"
	RUN_RC=$?
	bench_forget "$tb"
	RUN_JSON=$(grep '^{' "$log")
	grep -v '^{' "$log" >>"$BENCH_TMP/tao-bench.err"
	check_run "$side"
	IDLE_BYTES=$(calc per $((rss1 - rss0)) 1024 "${HELD:-0}")
}

run_idle() {
	local name=idle label="idle, $IDLE_CONNS connections" r side

	echo "== $label ($BENCH_RUNS x $BENCH_TIME s)"
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for side in $(order "$r"); do
			idle_run "$side"
			record "$name" "$side" rss "$IDLE_BYTES"
			record "$name" "$side" open "$(json open)"
			printf '  run %d %-8s RSS/conn %s B  held %s  open at end %s  errors %s\n' \
			    "$r" "$side" "$(bench_fmt "$IDLE_BYTES" 0)" \
			    "${HELD:-0}" "$(json open)" "$(json errors)"
		done
	done
	summary "$name" "$label" rss:"server RSS B/conn":0 open:"open at end":0
}

run_workers() {
	local w d side
	local -a one two

	for w in 1 2; do
		start_sides "$w"
		for d in 1 16; do
			run_echo "workers-w$w-d$d" \
			    "echo d$d, taod workers $w vs baseline -n $w" "$d"
		done
		stop_sides
	done
	echo "== scaling from 1 to 2 workers (median msgs/s, 2 / 1)"
	for d in 1 16; do
		for side in "${SIDES[@]}"; do
			read -ra one <<<"${VAL["workers-w1-d$d|$side|msgs"]:-}"
			read -ra two <<<"${VAL["workers-w2-d$d|$side|msgs"]:-}"
			printf '  depth %-3s %-8s %s\n' "$d" "$side" \
			    "$(bench_ratio "$(bench_median "${two[@]}")" \
			    "$(bench_median "${one[@]}")")"
		done
	done
}

# ---- main ----------------------------------------------------------------------

[ "${1:-}" = -h ] || [ "${1:-}" = --help ] && usage
scenarios=${*:-$ALL}
for s in $scenarios; do
	case " $ALL " in
	*" $s "*) ;;
	*) echo "${0##*/}: unknown scenario '$s'" >&2; usage ;;
	esac
done
if [ ! -x "$BUILD/tao-bench" ] || [ ! -x "$BUILD/baseline-echo" ]; then
	bench_die "build tao-bench and baseline-echo first (make)"
fi
[ -n "${TAOD_CMD:-}" ] || [ -x "$BUILD/taod" ] ||
    bench_die "no $BUILD/taod (make, or set TAOD_CMD)"

trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP
bench_tmpdir

echo "# bench/echo.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
    "$(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# taod: ${TAOD_CMD:-$BUILD/taod -c CONF}; baseline: baseline-echo;" \
    "BENCH_TIME=$BENCH_TIME BENCH_RUNS=$BENCH_RUNS" \
    "BENCH_WORKERS=$BENCH_WORKERS BENCH_JOBS=$BENCH_JOBS"
started=
for s in $scenarios; do
	echo "# $(date -u +%H:%M:%S) load $(cut -d' ' -f1-3 /proc/loadavg)"
	if [ "$s" != workers ] && [ -z "$started" ]; then
		start_sides "$BENCH_WORKERS"
		started=1
	fi
	case $s in
	echo-d1)	run_echo echo-d1 \
			    "echo, 100 conns, depth 1, 128 B" 1 ;;
	echo-d16)	run_echo echo-d16 \
			    "echo, 100 conns, depth 16, 128 B" 16 ;;
	stream)		run_stream ;;
	burst)		run_burst ;;
	idle)		run_idle ;;
	workers)	stop_sides; started=; run_workers ;;
	esac
done
stop_sides
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "| scenario (workers $BENCH_WORKERS unless said) | metric | taod | baseline | taod / baseline |"
echo "|---|---|---:|---:|---:|"
printf '%s\n' "${TABLE[@]}"
if [ "$FAILED" != 0 ]; then
	echo "${0##*/}: errors were seen (see above); figures may be wrong" >&2
	exit 1
fi
exit 0
