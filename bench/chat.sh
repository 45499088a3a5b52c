#!/usr/bin/env bash
# chat.sh - fan-out through taod's chat app: deliveries per second and
# send-to-receipt latency, same-worker against cross-worker.
#
#   bench/chat.sh
#
# taod runs "app chat notices" (tao-bench reads the welcome frames) with
# BENCH_WORKERS workers on a free loopback port;
# tao-bench chat connects BENCH_CLIENTS clients (all receive), of which
# BENCH_SENDERS send type-1 messages at each rate of BENCH_RATES (messages
# per second in all; each is delivered to every client, so deliveries/s
# should be rate x clients).  A delivery is same-worker when the sender's
# and the receiver's welcome frames name the same worker.  Server CPU is
# utime+stime of taod and its workers from /proc over the sending window,
# per delivery in it; the client's CPU (whole run, as % of the window) is
# shown too, because on a small machine the load generator competes with
# the server and its own delays end up in the latency.
#
# Environment:
#   BUILD          where taod and tao-bench are (build)
#   BENCH_TIME     seconds per run (5)
#   BENCH_RUNS     runs per rate (3)
#   BENCH_RATES    messages/s, all senders together ("100 1000")
#   BENCH_CLIENTS  (1000), BENCH_SENDERS (10), BENCH_WORKERS (2)
#   BENCH_JOBS     tao-bench threads, -j (2)
#   BENCH_KEEP     if set, keep the temporary directory (configs, logs)
#   TAOD_CMD       command for the server, run by sh with $PORT, $WORKERS,
#                  $CONF and $DIR set; default: "$BUILD/taod" -c "$CONF"
# Exit status: 0, or 1 when the server failed or tao-bench saw errors.

set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

BUILD=${BUILD:-$here/../build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || bench_die "no build directory"
BENCH_TIME=${BENCH_TIME:-5}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_RATES=${BENCH_RATES:-100 1000}
BENCH_CLIENTS=${BENCH_CLIENTS:-1000}
BENCH_SENDERS=${BENCH_SENDERS:-10}
BENCH_WORKERS=${BENCH_WORKERS:-2}
BENCH_JOBS=${BENCH_JOBS:-2}

declare -A VAL
TABLE=()
FAILED=0

case ${1:-} in
-h|--help)
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2 ;;
"") ;;
*)	echo "${0##*/}: no arguments expected" >&2; exit 2 ;;
esac
[ -x "$BUILD/tao-bench" ] || bench_die "build tao-bench first (make)"
[ -n "${TAOD_CMD:-}" ] || [ -x "$BUILD/taod" ] ||
    bench_die "no $BUILD/taod (make, or set TAOD_CMD)"

trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP
bench_tmpdir

start_taod() {
	local dir=$BENCH_TMP/taod

	mkdir -p "$dir"
	PORT=$(bench_free_port) || bench_die "no free port"
	cat >"$dir/taod.conf" <<-EOF
	listen 127.0.0.1:$PORT tlv
	app chat notices
	workers $BENCH_WORKERS
	max_connections 20000
	control $dir/taod.sock
	pidfile $dir/taod.pid
	EOF
	if [ -n "${TAOD_CMD:-}" ]; then
		bench_start "$dir/log" env PORT="$PORT" WORKERS="$BENCH_WORKERS" \
		    CONF="$dir/taod.conf" DIR="$dir" sh -c "exec $TAOD_CMD"
	else
		bench_start "$dir/log" "$BUILD/taod" -c "$dir/taod.conf"
	fi
	TAOD=$BENCH_PID
	if ! bench_wait_port "$PORT" 10 "$TAOD"; then
		echo "${0##*/}: taod did not start listening; its log:" >&2
		tail -n 20 "$dir/log" >&2
		exit 1
	fi
}

record() {	# RATE METRIC VALUE
	[ -n "$3" ] && VAL["$1|$2"]+="$3 "
}

median_of() {	# RATE METRIC
	local -a v

	read -ra v <<<"${VAL["$1|$2"]:-}"
	bench_median "${v[@]}"
}

# wait_line FILE TEXT PID: until FILE has TEXT or PID is gone (bounded:
# connecting and welcoming every client is given two minutes).
wait_line() {
	local i

	for ((i = 0; i < 2400; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		bench_alive "$3" || return 1
		sleep 0.05
	done
	return 1
}

# One run at RATE.  taod's CPU is sampled when tao-bench says its window
# starts and ends, so that connecting 1000 clients (and the joins the chat
# app announces to everyone) is not charged to the deliveries.
chat_run() {
	local rate=$1 r=$2 out=$BENCH_TMP/run.out err=$BENCH_TMP/run.err
	local c0=0 c1=0 json tb per cli rc

	: >"$err"
	"$BUILD/tao-bench" chat -p "$PORT" -c "$BENCH_CLIENTS" \
	    --senders "$BENCH_SENDERS" --rate "$rate" -t "$BENCH_TIME" \
	    -j "$BENCH_JOBS" --json >"$out" 2>"$err" &
	tb=$!
	bench_track "$tb"
	wait_line "$err" 'window start' "$tb" && c0=$(bench_cpu_ticks "$TAOD")
	wait_line "$err" 'window end' "$tb" && c1=$(bench_cpu_ticks "$TAOD")
	wait "$tb"
	rc=$?
	bench_forget "$tb"
	cat "$err" >>"$BENCH_TMP/tao-bench.err"
	json=$(grep '^{' "$out")
	if [ -z "$json" ]; then
		echo "  tao-bench failed (status $rc):" >&2
		tail -n 5 "$err" >&2
		FAILED=1
		return
	fi
	[ "$rc" != 0 ] && FAILED=1
	if ! bench_alive "$TAOD"; then
		echo "${0##*/}: taod died; its log:" >&2
		tail -n 20 "$BENCH_TMP/taod/log" >&2
		exit 1
	fi
	j() { bench_json "$json" "$1"; }
	# Deliveries inside the window (msgs) against CPU inside it.
	per=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" -v n="$(j msgs)" \
	    'BEGIN { if (n > 0 && t > 0) printf "%.3f\n", t * 1e6 / hz / n }')
	cli=$(awk -v c="$(j client_cpu_s)" -v s="$(j seconds)" \
	    'BEGIN { if (s > 0) printf "%.0f\n", 100 * c / s }')
	record "$rate" dps "$(j msgs_per_s)"
	record "$rate" same50 "$(j p50_us)"
	record "$rate" same99 "$(j p99_us)"
	record "$rate" cross50 "$(j cross_p50_us)"
	record "$rate" cross99 "$(j cross_p99_us)"
	record "$rate" cpu "$per"
	record "$rate" client "$cli"
	printf '  run %d  deliveries/s %s of %s  same p50/p99 %s/%s us (n %s)  cross p50/p99 %s/%s us (n %s)  server %s us/delivery  client CPU %s%%  errors %s\n' \
	    "$r" "$(bench_fmt "$(j msgs_per_s)" 0)" \
	    "$(bench_fmt "$(j expected_per_s)" 0)" \
	    "$(bench_fmt "$(j p50_us)" 0)" "$(bench_fmt "$(j p99_us)" 0)" \
	    "$(j same_n)" "$(bench_fmt "$(j cross_p50_us)" 0)" \
	    "$(bench_fmt "$(j cross_p99_us)" 0)" "$(j cross_n)" \
	    "$(bench_fmt "$per" 3)" "$(bench_fmt "$cli" 0)" "$(j errors)"
	if [ "$(j cross_n)" = 0 ] || [ "$(j same_n)" = 0 ]; then
		echo "  (all clients landed on one worker: no same/cross split)"
	fi
	unset -f j
}

echo "# bench/chat.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
    "$(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# ${TAOD_CMD:-$BUILD/taod} app chat notices, workers $BENCH_WORKERS;" \
    "$BENCH_CLIENTS clients, $BENCH_SENDERS senders, tao-bench -j" \
    "$BENCH_JOBS; BENCH_TIME=$BENCH_TIME BENCH_RUNS=$BENCH_RUNS"
start_taod
for rate in $BENCH_RATES; do
	echo "== $rate messages/s ($BENCH_RUNS x $BENCH_TIME s)"
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		chat_run "$rate" "$r"
	done
	TABLE+=("| $rate | $(bench_fmt "$((rate * BENCH_CLIENTS))" 0) |\
 $(bench_fmt "$(median_of "$rate" dps)" 0) |\
 $(bench_fmt "$(median_of "$rate" same50)" 0) / $(bench_fmt "$(median_of "$rate" same99)" 0) |\
 $(bench_fmt "$(median_of "$rate" cross50)" 0) / $(bench_fmt "$(median_of "$rate" cross99)" 0) |\
 $(bench_fmt "$(median_of "$rate" cpu)" 3) |\
 $(bench_fmt "$(median_of "$rate" client)" 0)% |")
done
bench_stop "$TAOD"
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "Medians of $BENCH_RUNS runs; $BENCH_CLIENTS clients over $BENCH_WORKERS workers, $BENCH_SENDERS senders:"
echo
echo "| msgs/s sent | deliveries/s expected | deliveries/s | same-worker p50 / p99 us | cross-worker p50 / p99 us | server CPU us/delivery | client CPU, % of window |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${TABLE[@]}"
if [ "$FAILED" != 0 ]; then
	echo "${0##*/}: errors were seen (see above); figures may be wrong" >&2
	exit 1
fi
exit 0
