#!/usr/bin/env bash
# cluster.sh - the chat fan-out over two taod nodes linked through Redis
# against the same load on one taod, in the same run.
#
#   bench/cluster.sh
#
# One node: taod with 2 workers.  Two nodes: two taod with 1 worker each
# (the same number of workers in all), "cluster redis://..." on a private
# redis-server, every other client on the second node (tao-bench chat
# --port2).  tao-bench chat connects BENCH_CLIENTS clients, BENCH_SENDERS
# of them send BENCH_RATE messages/s in all; every message is delivered
# to every client.  Reported, medians of BENCH_RUNS alternating runs:
# deliveries/s and p50/p99 latency of each setup and their ratio; on one
# node "same"/"cross" is same/other worker, on two nodes same/other node,
# so the added latency of a cross-node hop is the two-node cross p50/p99
# minus the one-node cross-worker p50/p99 (both cross a ring; the node
# hop adds bridge -> Redis -> bridge).  The bridges' counters (dropped,
# lost) are printed after the runs.
#
# Environment:
#   BUILD          where taod and tao-bench are (build)
#   BENCH_TIME     seconds per run (5)      BENCH_RUNS   runs each (3)
#   BENCH_RATE     messages/s, all senders together (100)
#   BENCH_CLIENTS  (1000)   BENCH_SENDERS (10)   BENCH_JOBS  -j (2)
# Exit status: 0, or 1 when a server failed or tao-bench saw errors.

set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

BUILD=${BUILD:-$here/../build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || bench_die "no build directory"
BENCH_TIME=${BENCH_TIME:-5}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_RATE=${BENCH_RATE:-100}
BENCH_CLIENTS=${BENCH_CLIENTS:-1000}
BENCH_SENDERS=${BENCH_SENDERS:-10}
BENCH_JOBS=${BENCH_JOBS:-2}

declare -A VAL
FAILED=0

case ${1:-} in
-h|--help)
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2 ;;
"") ;;
*)	echo "${0##*/}: no arguments expected" >&2; exit 2 ;;
esac
[ -x "$BUILD/tao-bench" ] && [ -x "$BUILD/taod" ] ||
    bench_die "build taod and tao-bench first (make)"
command -v redis-server >/dev/null || bench_die "no redis-server"

trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP
bench_tmpdir

start_redis() {
	RPORT=$(bench_free_port) || bench_die "no free port"
	bench_start "$BENCH_TMP/redis.log" redis-server --port "$RPORT" \
	    --bind 127.0.0.1 --save '' --appendonly no
	REDIS=$BENCH_PID
	bench_wait_port "$RPORT" 10 "$REDIS" || bench_die "redis did not start"
}

# start_taod NAME WORKERS [EXTRA CONFIG LINES]: sets PORT_<NAME>, PID_<NAME>
start_taod() {
	local name=$1 workers=$2 extra=${3:-} dir=$BENCH_TMP/$1 port

	mkdir -p "$dir"
	port=$(bench_free_port) || bench_die "no free port"
	printf 'listen 127.0.0.1:%s tlv\napp chat notices\nworkers %s\nmax_connections 20000\ncontrol %s/taod.sock\n%b' \
	    "$port" "$workers" "$dir" "$extra" >"$dir/taod.conf"
	bench_start "$dir/log" "$BUILD/taod" -c "$dir/taod.conf"
	eval "PORT_$name=$port PID_$name=$BENCH_PID"
	bench_wait_port "$port" 10 "$BENCH_PID" || {
		tail -n 20 "$dir/log" >&2
		bench_die "taod $name did not start"
	}
}

# wait until a node's bridge says "up"
wait_up() {
	local i

	for ((i = 0; i < 200; i++)); do
		"$BUILD/taoctl" -s "$BENCH_TMP/$1/taod.sock" status 2>/dev/null |
		    grep -q '^cluster up ' && return 0
		sleep 0.05
	done
	bench_die "node $1: cluster link not up"
}

record() { [ -n "$3" ] && VAL["$1|$2"]+="$3 "; }
median_of() {
	local -a v
	read -ra v <<<"${VAL["$1|$2"]:-}"
	bench_median "${v[@]}"
}

# run SETUP PORT [PORT2]
run() {
	local setup=$1 out=$BENCH_TMP/run.out err=$BENCH_TMP/run.err json rc
	local -a p2=()

	[ -n "${3:-}" ] && p2=(--port2 "$3")
	"$BUILD/tao-bench" chat -p "$2" "${p2[@]}" -c "$BENCH_CLIENTS" \
	    --senders "$BENCH_SENDERS" --rate "$BENCH_RATE" -t "$BENCH_TIME" \
	    -j "$BENCH_JOBS" --json >"$out" 2>"$err"
	rc=$?
	json=$(grep '^{' "$out")
	if [ -z "$json" ]; then
		echo "  tao-bench failed (status $rc):" >&2
		tail -n 5 "$err" >&2
		FAILED=1
		return
	fi
	[ "$rc" != 0 ] && FAILED=1
	j() { bench_json "$json" "$1"; }
	record "$setup" dps "$(j msgs_per_s)"
	record "$setup" s50 "$(j p50_us)"
	record "$setup" s99 "$(j p99_us)"
	record "$setup" c50 "$(j cross_p50_us)"
	record "$setup" c99 "$(j cross_p99_us)"
	printf '  %-8s deliveries/s %s of %s  same p50/p99 %s/%s us  cross p50/p99 %s/%s us  missing %s  errors %s\n' \
	    "$setup" "$(bench_fmt "$(j msgs_per_s)" 0)" \
	    "$(bench_fmt "$(j expected_per_s)" 0)" \
	    "$(bench_fmt "$(j p50_us)" 0)" "$(bench_fmt "$(j p99_us)" 0)" \
	    "$(bench_fmt "$(j cross_p50_us)" 0)" \
	    "$(bench_fmt "$(j cross_p99_us)" 0)" "$(j missing)" "$(j errors)"
	unset -f j
}

echo "# bench/cluster.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
    "$(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $BENCH_CLIENTS clients, $BENCH_SENDERS senders, $BENCH_RATE msgs/s;" \
    "tao-bench -j $BENCH_JOBS; BENCH_TIME=$BENCH_TIME BENCH_RUNS=$BENCH_RUNS;" \
    "$(redis-server --version | cut -d' ' -f1-3)"
start_redis
start_taod one 2
start_taod a 1 "cluster redis://127.0.0.1:$RPORT\nnode_id 1\n"
start_taod b 1 "cluster redis://127.0.0.1:$RPORT\nnode_id 2\n"
wait_up a
wait_up b
for ((r = 1; r <= BENCH_RUNS; r++)); do
	echo "== run $r"
	run "1 node" "$PORT_one"
	run "2 nodes" "$PORT_a" "$PORT_b"
done
for n in a b; do
	echo "# node $n: $("$BUILD/taoctl" -s "$BENCH_TMP/$n/taod.sock" status |
	    grep '^cluster published')"
done
bench_stop "$PID_a"
bench_stop "$PID_b"
bench_stop "$PID_one"
bench_stop "$REDIS"

d1=$(median_of "1 node" dps) d2=$(median_of "2 nodes" dps)
c1=$(median_of "1 node" c50) c2=$(median_of "2 nodes" c50)
q1=$(median_of "1 node" c99) q2=$(median_of "2 nodes" c99)
echo
echo "Medians of $BENCH_RUNS runs; $BENCH_CLIENTS clients, $BENCH_SENDERS senders, $BENCH_RATE msgs/s:"
echo
echo "| setup | deliveries/s | same p50 / p99 us | cross p50 / p99 us |"
echo "|---|---:|---:|---:|"
for s in "1 node" "2 nodes"; do
	echo "| $s ($([ "$s" = "1 node" ] && echo "2 workers; same/cross worker" || echo "1 worker each; same/cross node")) |" \
	    "$(bench_fmt "$(median_of "$s" dps)" 0) |" \
	    "$(bench_fmt "$(median_of "$s" s50)" 0) / $(bench_fmt "$(median_of "$s" s99)" 0) |" \
	    "$(bench_fmt "$(median_of "$s" c50)" 0) / $(bench_fmt "$(median_of "$s" c99)" 0) |"
done
echo
awk -v d1="$d1" -v d2="$d2" -v c1="$c1" -v c2="$c2" -v q1="$q1" -v q2="$q2" 'BEGIN {
	if (d1 > 0) printf "deliveries/s, 2 nodes / 1 node: %.2f\n", d2 / d1
	printf "added latency of a cross-node hop (vs a cross-worker one): p50 %+.0f us, p99 %+.0f us\n", c2 - c1, q2 - q1
}'
if [ "$FAILED" != 0 ]; then
	echo "${0##*/}: errors were seen (see above); figures may be wrong" >&2
	exit 1
fi
exit 0
