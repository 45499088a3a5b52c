#!/usr/bin/env bash
# echo.sh - taod's echo app against two references, side by side in one
# run: baseline-echo (a hand-written edge-triggered epoll echo, "epoll")
# and uv-echo (the same on libuv, "libuv").
#
#   bench/echo.sh [SCENARIO...]        (default: all but workers)
#
# Scenarios:
#   echo-d1   echo, 1 000 connections, 1 request in flight each, 128 B
#   echo-d16  echo, 100 connections, 16 in flight each, 128 B
#   stream    64 KiB frames pipelined on one connection
#   burst     8192 connections opened at once, one 1 KiB message each
#   idle      10 000 idle connections: server RSS per connection
#   tls-echo  taod over TLS against taod in plaintext: 100 connections,
#             depth 1, 16 KiB messages
#   tls-idle  2 000 idle TLS connections: taod's RSS per connection
#             (plaintext taod beside it)
#   tls-hs    1 000 new TLS connections at once (a full handshake each):
#             handshakes per second of server CPU
#   workers   taod workers 1 and 2 against the references with -n 1 and
#             -n 2, echo with depth 1 and 16
#
# Every server runs at the same time on free loopback ports; each scenario
# is run BENCH_RUNS times per server, rotating which server goes first.
# Server CPU is utime+stime of the server and all its children (taod's
# workers) from /proc/PID/stat, before and after the load, per verified
# reply.  The last column is taod / the best reference on that metric
# (the higher msgs/s, the lower time, CPU or memory): at or above 1 is
# good for throughput, at or below 1 for the rest.  TLS lines compare
# taod over TLS with taod in plaintext.  The machine is shared with the
# load generator (and possibly other work), so read the ratios, not the
# absolute figures, and the load average printed before each scenario.
#
# Environment:
#   BUILD          where taod, tao-bench, baseline-echo, uv-echo are
#                  (build; uv-echo: `make bench`)
#   BENCH_TIME     seconds per run (5)
#   BENCH_RUNS     runs per scenario and server (5)
#   BENCH_WORKERS  workers/processes for all but "workers" (1)
#   BENCH_JOBS     tao-bench threads, -j (1)
#   BENCH_IDLE_CONNS, BENCH_BURST_CONNS, BENCH_D1_CONNS   (10000, 8192,
#                  1000); BENCH_TLS_IDLE_CONNS, BENCH_TLS_HS_CONNS
#                  (2000, 1000)
#   BENCH_KEEP     if set, keep the temporary directory (configs, logs)
#   TAOD_CMD       command for the taod side, run by sh with $PORT,
#                  $WORKERS, $CONF (a taod config for them) and $DIR set;
#                  default: "$BUILD/taod" -c "$CONF".
# Exit status: 0, or 1 when a server failed or tao-bench saw errors.

set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

BUILD=${BUILD:-$here/../build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || bench_die "no build directory"
BENCH_TIME=${BENCH_TIME:-5}
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_WORKERS=${BENCH_WORKERS:-1}
BENCH_JOBS=${BENCH_JOBS:-1}
IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
BURST_CONNS=${BENCH_BURST_CONNS:-8192}
D1_CONNS=${BENCH_D1_CONNS:-1000}
TLS_IDLE_CONNS=${BENCH_TLS_IDLE_CONNS:-2000}
TLS_HS_CONNS=${BENCH_TLS_HS_CONNS:-1000}
ALL="echo-d1 echo-d16 stream burst idle tls-echo tls-idle tls-hs workers"
DEFAULT="echo-d1 echo-d16 stream burst idle tls-echo tls-idle tls-hs"
# The plaintext servers; "tls" (taod with a TLS listener) is started for
# the tls-* scenarios only.
SIDES=(taod epoll libuv)

declare -A PID PORT VAL
TABLE=()
FAILED=0

usage() {
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# ---- servers ----------------------------------------------------------------

# A throw-away certificate for the tls side (openssl, 16 ms).
make_cert() {
	[ -f "$BENCH_TMP/cert.pem" ] && return 0
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	    -nodes -keyout "$BENCH_TMP/key.pem" -out "$BENCH_TMP/cert.pem" \
	    -days 1 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
	    >/dev/null 2>&1 || bench_die "openssl req failed"
}

# taod_conf SIDE DIR PORT WORKERS: the taod config of side taod or tls.
taod_conf() {
	local tls=

	[ "$1" = tls ] && tls=" tls"
	{
		echo "listen 127.0.0.1:$3 tlv$tls"
		echo "app echo"
		echo "workers $4"
		echo "max_connections 20000"
		echo "control $2/taod.sock"
		echo "pidfile $2/taod.pid"
		if [ -n "$tls" ]; then
			echo "tls_cert $BENCH_TMP/cert.pem"
			echo "tls_key $BENCH_TMP/key.pem"
		fi
	} >"$2/taod.conf"
}

# start_side SIDE WORKERS: start that server on a free port.
start_side() {
	local side=$1 w=$2 dir port

	dir=$BENCH_TMP/$side-w$w
	mkdir -p "$dir"
	port=$(bench_free_port) || bench_die "no free port"
	case $side in
	taod|tls)
		[ "$side" = tls ] && make_cert
		taod_conf "$side" "$dir" "$port" "$w"
		if [ -n "${TAOD_CMD:-}" ] && [ "$side" = taod ]; then
			bench_start "$dir/log" env PORT="$port" WORKERS="$w" \
			    CONF="$dir/taod.conf" DIR="$dir" \
			    sh -c "exec $TAOD_CMD"
		else
			bench_start "$dir/log" "$BUILD/taod" -c "$dir/taod.conf"
		fi ;;
	epoll)	bench_start "$dir/log" "$BUILD/baseline-echo" -p "$port" \
		    -n "$w" ;;
	libuv)	bench_start "$dir/log" "$BUILD/uv-echo" -p "$port" -n "$w" ;;
	esac
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

	for side in "${SIDES[@]}" tls; do
		stop_side "$side"
	done
}

start_sides() {
	local side

	for side in "${SIDES[@]}"; do
		start_side "$side" "$1"
	done
}

# ---- one run ----------------------------------------------------------------

# bench_run SIDE ARGS...: run tao-bench against SIDE (--tls for side
# tls); sets RUN_JSON, RUN_RC and RUN_TICKS (server CPU ticks meanwhile).
bench_run() {
	local side=$1 pid c0 c1
	local -a tls=()

	shift
	[ "$side" = tls ] && tls=(--tls)
	pid=${PID[$side]}
	c0=$(bench_cpu_ticks "$pid")
	"$BUILD/tao-bench" "$@" "${tls[@]}" -p "${PORT[$side]}" \
	    -j "$BENCH_JOBS" --json \
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

# order R SIDE...: the sides rotated by R, so each goes first in turn.
order() {
	local r=$1 n i

	shift
	n=$#
	local -a s=("$@")
	for ((i = 0; i < n; i++)); do
		echo "${s[(i + r) % n]}"
	done
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

# Server CPU microseconds per unit: calc per ticks us/tick UNITS.
cpu_per() {
	calc per "$RUN_TICKS" $((1000000 / CLK_TCK)) "$1"
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

# best hi|lo VALUE...: the largest (hi) or smallest (lo) non-empty value.
best() {
	local dir=$1

	shift
	printf '%s\n' "$@" | awk -v d="$dir" 'NF {
	    if (b == "" || (d == "hi" && $1 > b) || (d == "lo" && $1 < b))
	        b = $1 } END { print b }'
}

# summary NAME LABEL "SUBJECT REF..." METRIC:UNIT:DIGITS:hi|lo...: per
# metric the runs and median of every side and subject / best reference;
# one table row per metric (two reference columns).
summary() {
	local name=$1 label=$2 spec metric unit digits dir side m ref line
	local -a sides runs meds cols

	read -ra sides <<<"$3"
	shift 3
	for spec in "$@"; do
		IFS=: read -r metric unit digits dir <<<"$spec"
		meds=()
		line="  $unit:"
		for side in "${sides[@]}"; do
			read -ra runs <<<"${VAL["$name|$side|$metric"]:-}"
			m=$(bench_median "${runs[@]}")
			meds+=("$m")
			line+=" $side $(fmt_list "$digits" "${runs[@]}") ->"
			line+=" $(bench_fmt "$m" "$digits");"
		done
		ref=$(best "$dir" "${meds[@]:1}")
		echo "$line ${sides[0]} / best $(bench_ratio "${meds[0]}" "$ref")"
		cols=()
		for ((m = 0; m < 3; m++)); do
			if [ -n "${sides[m]:-}" ]; then
				cols+=("${sides[m]} $(bench_fmt "${meds[m]}" "$digits")")
			else
				cols+=("-")
			fi
		done
		TABLE+=("| $label | $unit | ${cols[0]} | ${cols[1]} | ${cols[2]} |\
 $(bench_ratio "${meds[0]}" "$ref") |")
	done
}

# echo_runs NAME "SIDES" TAO-BENCH-ARGS...: BENCH_RUNS echo runs per side.
echo_runs() {
	local name=$1 r side msgs cpu p99
	local -a sides

	read -ra sides <<<"$2"
	shift 2
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for side in $(order "$r" "${sides[@]}"); do
			bench_run "$side" echo "$@" -t "$BENCH_TIME"
			msgs=$(json msgs_per_s)
			# Every verified reply (window and drain) cost CPU.
			cpu=$(cpu_per "$(json replies)")
			p99=$(json p99_us)
			record "$name" "$side" msgs "$msgs"
			record "$name" "$side" cpu "$cpu"
			record "$name" "$side" p99 "$p99"
			printf '  run %d %-6s msgs/s %s  cpu/msg %s us  p99 %s us  errors %s\n' \
			    "$r" "$side" "$(bench_fmt "$msgs" 0)" \
			    "$(bench_fmt "$cpu" 2)" "$(bench_fmt "$p99" 0)" \
			    "$(json errors)"
		done
	done
}

# run_echo NAME LABEL CONNS DEPTH
run_echo() {
	local name=$1 label=$2

	echo "== $label ($BENCH_RUNS x $BENCH_TIME s)"
	echo_runs "$name" "${SIDES[*]}" -c "$3" -d "$4" -s 128
	summary "$name" "$label" "${SIDES[*]}" msgs:msgs/s:0:hi \
	    cpu:"server CPU us/msg":2:lo p99:"p99 us":0:lo
}

run_stream() {
	local name=stream label="stream, 64 KiB frames, 1 connection" r side mbs
	local cpu

	echo "== $label ($BENCH_RUNS x $BENCH_TIME s)"
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for side in $(order "$r" "${SIDES[@]}"); do
			bench_run "$side" stream -s 65536 -t "$BENCH_TIME"
			mbs=$(json mb_per_s)
			# Server CPU microseconds per MB echoed.
			cpu=$(cpu_per "$(calc mul "$mbs" "$(json seconds)" 1)")
			record "$name" "$side" mbs "$mbs"
			record "$name" "$side" cpu "$cpu"
			printf '  run %d %-6s MB/s %s  cpu/MB %s us  errors %s\n' \
			    "$r" "$side" "$(bench_fmt "$mbs" 1)" \
			    "$(bench_fmt "$cpu" 0)" "$(json errors)"
		done
	done
	summary "$name" "$label" "${SIDES[*]}" mbs:MB/s:1:hi \
	    cpu:"server CPU us/MB":0:lo
}

# burst_runs NAME "SIDES" CONNS SIZE
burst_runs() {
	local name=$1 r side ms fails cpu hs
	local -a sides

	read -ra sides <<<"$2"
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for side in $(order "$r" "${sides[@]}"); do
			bench_run "$side" burst -n "$3" -s "$4"
			ms=$(calc mul "$(json seconds)" 1000 1)
			fails=$(json errors)
			cpu=$(cpu_per "$(json replies)")
			# Connections (handshakes over TLS) per second of
			# server CPU.
			hs=$(calc per "$(json replies)" "$CLK_TCK" "$RUN_TICKS")
			record "$name" "$side" ms "$ms"
			record "$name" "$side" fails "$fails"
			record "$name" "$side" cpu "$cpu"
			record "$name" "$side" hs "$hs"
			printf '  run %d %-6s time %s ms  cpu/conn %s us  replies %s  connect failures %s  missing %s  errors %s\n' \
			    "$r" "$side" "$(bench_fmt "$ms" 0)" \
			    "$(bench_fmt "$cpu" 1)" "$(json replies)" \
			    "$(json connect_failures)" "$(json missing)" "$fails"
		done
	done
}

run_burst() {
	local name=burst label="burst, $BURST_CONNS connections, 1 KiB"

	echo "== $label ($BENCH_RUNS runs)"
	burst_runs "$name" "${SIDES[*]}" "$BURST_CONNS" 1024
	summary "$name" "$label" "${SIDES[*]}" ms:"wall ms":0:lo \
	    cpu:"server CPU us/conn":1:lo fails:failures:0:lo
}

# The idle load runs in the background: the server's RSS is read while
# tao-bench holds every connection (it says so on stderr).  The server
# is restarted first: memory freed by earlier scenarios would be reused
# and hide what connections cost.  idle_run SIDE CONNS
idle_run() {
	local side=$1 log=$BENCH_TMP/idle.log pid rss0 rss1 tb i
	local -a tls=()

	[ "$side" = tls ] && tls=(--tls)
	stop_side "$side"
	start_side "$side" "$BENCH_WORKERS"
	pid=${PID[$side]}
	sleep 0.5
	rss0=$(bench_rss_kb "$pid")
	bench_start "$log" "$BUILD/tao-bench" idle -n "$2" "${tls[@]}" \
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

# idle_runs NAME LABEL "SIDES" CONNS
idle_runs() {
	local name=$1 label=$2 r side
	local -a sides

	read -ra sides <<<"$3"
	echo "== $label ($BENCH_RUNS x $BENCH_TIME s)"
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for side in $(order "$r" "${sides[@]}"); do
			idle_run "$side" "$4"
			record "$name" "$side" rss "$IDLE_BYTES"
			record "$name" "$side" open "$(json open)"
			printf '  run %d %-6s RSS/conn %s B  held %s  open at end %s  errors %s\n' \
			    "$r" "$side" "$(bench_fmt "$IDLE_BYTES" 0)" \
			    "${HELD:-0}" "$(json open)" "$(json errors)"
		done
	done
	summary "$name" "$label" "$3" rss:"server RSS B/conn":0:lo \
	    open:"open at end":0:hi
}

run_tls_echo() {
	local label="TLS echo, 100 conns, depth 1, 16 KiB"

	[ -n "${PID[tls]:-}" ] || start_side tls "$BENCH_WORKERS"
	echo "== $label, taod TLS / taod plaintext ($BENCH_RUNS x $BENCH_TIME s)"
	echo_runs tls-echo "tls taod" -c 100 -d 1 -s 16384
	summary tls-echo "$label" "tls taod" msgs:msgs/s:0:hi \
	    cpu:"server CPU us/msg":2:lo
}

run_tls_hs() {
	local label="TLS handshakes, $TLS_HS_CONNS new connections at once"

	[ -n "${PID[tls]:-}" ] || start_side tls "$BENCH_WORKERS"
	echo "== $label, taod TLS / taod plaintext ($BENCH_RUNS runs)"
	burst_runs tls-hs "tls taod" "$TLS_HS_CONNS" 128
	summary tls-hs "$label" "tls taod" ms:"wall ms":0:lo \
	    hs:"conns/s of server CPU":0:hi fails:failures:0:lo
}

run_workers() {
	local w d side
	local -a one two

	for w in 1 2; do
		start_sides "$w"
		for d in 1 16; do
			run_echo "workers-w$w-d$d" \
			    "echo d$d, workers/processes $w" 100 "$d"
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
scenarios=${*:-$DEFAULT}
for s in $scenarios; do
	case " $ALL " in
	*" $s "*) ;;
	*) echo "${0##*/}: unknown scenario '$s'" >&2; usage ;;
	esac
done
for p in tao-bench baseline-echo uv-echo; do
	[ -x "$BUILD/$p" ] || bench_die "no $BUILD/$p (make bench)"
done
[ -n "${TAOD_CMD:-}" ] || [ -x "$BUILD/taod" ] ||
    bench_die "no $BUILD/taod (make, or set TAOD_CMD)"

trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP
bench_tmpdir

echo "# bench/echo.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
    "$(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# taod: ${TAOD_CMD:-$BUILD/taod -c CONF}; epoll: baseline-echo;" \
    "libuv: uv-echo ($(pkg-config --modversion libuv 2>/dev/null));" \
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
			    "echo, $D1_CONNS conns, depth 1, 128 B" "$D1_CONNS" 1 ;;
	echo-d16)	run_echo echo-d16 \
			    "echo, 100 conns, depth 16, 128 B" 100 16 ;;
	stream)		run_stream ;;
	burst)		run_burst ;;
	idle)		idle_runs idle "idle, $IDLE_CONNS connections" \
			    "${SIDES[*]}" "$IDLE_CONNS" ;;
	tls-echo)	run_tls_echo ;;
	tls-idle)	idle_runs tls-idle \
			    "TLS idle, $TLS_IDLE_CONNS connections" "tls taod" \
			    "$TLS_IDLE_CONNS" ;;
	tls-hs)		run_tls_hs ;;
	workers)	stop_sides; started=; run_workers ;;
	esac
done
stop_sides
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "| scenario (workers $BENCH_WORKERS unless said) | metric | taod | reference 1 | reference 2 | taod / best reference |"
echo "|---|---|---:|---:|---:|---:|"
printf '%s\n' "${TABLE[@]}"
if [ "$FAILED" != 0 ]; then
	echo "${0##*/}: errors were seen (see above); figures may be wrong" >&2
	exit 1
fi
exit 0
