#!/usr/bin/env bash
# heartbeat.sh - many idle connections that send heartbeats: what they
# cost taod while idle, and what they take from echo traffic.
#
#   bench/heartbeat.sh
#
# taod runs "app echo" with HB_WORKERS workers, heartbeat_ms HB_MS and
# max_connections 60000, listening on HB_CLIENTS loopback ports.
# HB_CLIENTS tao-bench idle processes connect HB_CONNS connections in all
# (one port each) and send a heartbeat on every connection every HB_MS
# ms, spread evenly; taod answers each (heartbeat_reply is on by default).
# Why several ports and processes: one process may hold only 20 000
# descriptors here (ulimit -n, cannot be raised), and 127.0.0.1 has one
# ephemeral port range (about 28 000 ports) per destination address and
# port.  With HB_MS=0 neither side does heartbeats: the same
# connections, merely held.
#
# Measured, with every connection held:
#   - RSS of taod (master and workers, VmRSS summed) against taod with no
#     connections, per held connection;
#   - CPU of taod (utime+stime of every taod process, from /proc) over
#     HB_CPU_SECS seconds, as % of one core; the same for the tao-bench
#     processes;
#   - echo: tao-bench echo, 100 connections, depth 1, 128 B, BENCH_TIME
#     seconds, BENCH_RUNS times while the connections are held and
#     BENCH_RUNS times with nothing else connected (half before the idle
#     connections are made, half after they are gone): msgs/s medians,
#     their ratio, and taod CPU per echoed message.
# At the end the idle clients are told to stop (SIGTERM ends tao-bench's
# hold early) and report how many connections were still open: every one
# should be, and taoctl stats should show no timeouts.
#
# Environment:
#   BUILD          where taod, taoctl, tao-bench are (build)
#   HB_CONNS       idle connections in all (50000)
#   HB_CLIENTS     tao-bench processes and listening ports (3)
#   HB_WORKERS     taod workers (3)
#   HB_MS          heartbeat period, ms; 0 = no heartbeats (1000)
#   HB_REPLY       taod heartbeat_reply, on or off (on)
#   HB_CPU_SECS    CPU sampling window (10)
#   HB_SETUP_SECS  most seconds to wait for the connections (180)
#   BENCH_TIME     seconds per echo run (5)
#   BENCH_RUNS     echo runs each way (3)
#   BENCH_KEEP     if set, keep the temporary directory (configs, logs)
# Exit status: 0, or 1 when a server failed, the connections could not
# all be made, or tao-bench saw errors.

set -u

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$here/lib.sh"

BUILD=${BUILD:-$here/../build}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || bench_die "no build directory"
HB_CONNS=${HB_CONNS:-50000}
HB_CLIENTS=${HB_CLIENTS:-3}
HB_WORKERS=${HB_WORKERS:-3}
HB_MS=${HB_MS:-1000}
HB_REPLY=${HB_REPLY:-on}
HB_CPU_SECS=${HB_CPU_SECS:-10}
HB_SETUP_SECS=${HB_SETUP_SECS:-180}
BENCH_TIME=${BENCH_TIME:-5}
BENCH_RUNS=${BENCH_RUNS:-3}

FAILED=0
PORTS=()
CLIENTS=()
declare -A VAL

case ${1:-} in
-h|--help)
	sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
	exit 2 ;;
"") ;;
*)	echo "${0##*/}: no arguments expected" >&2; exit 2 ;;
esac
for p in taod taoctl tao-bench; do
	[ -x "$BUILD/$p" ] || bench_die "no $BUILD/$p (make)"
done

# ---- what this machine allows ------------------------------------------------

nofile=$(ulimit -n)
read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
per_client=$(((HB_CONNS + HB_CLIENTS - 1) / HB_CLIENTS))
per_worker=$(((HB_CONNS + HB_WORKERS - 1) / HB_WORKERS))
# SO_REUSEPORT spreads connections by a hash, not exactly evenly: leave
# each worker 5 % and 200 descriptors of room.
((per_client + 100 < nofile)) || bench_die "$per_client connections per" \
    "tao-bench process need more than ulimit -n $nofile: raise HB_CLIENTS"
((per_worker * 105 / 100 + 200 < nofile)) || bench_die "$per_worker" \
    "connections per worker need more than ulimit -n $nofile: raise HB_WORKERS"
((per_client + 1000 < hi - lo)) || bench_die "$per_client connections" \
    "per port need more than the $((hi - lo + 1)) ephemeral ports: raise HB_CLIENTS"

trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP
bench_tmpdir

# ---- taod --------------------------------------------------------------------

start_taod() {
	local dir=$BENCH_TMP/taod port i

	mkdir -p "$dir"
	for ((i = 0; i < HB_CLIENTS; i++)); do
		port=$(bench_free_port) || bench_die "no free port"
		PORTS+=("$port")
		echo "listen 127.0.0.1:$port tlv"
	done >"$dir/taod.conf"
	cat >>"$dir/taod.conf" <<-EOF
	app echo
	workers $HB_WORKERS
	max_connections 60000
	heartbeat_ms $HB_MS
	heartbeat_reply $HB_REPLY
	control $dir/taod.sock
	pidfile $dir/taod.pid
	EOF
	bench_start "$dir/log" "$BUILD/taod" -c "$dir/taod.conf"
	TAOD=$BENCH_PID
	for port in "${PORTS[@]}"; do
		bench_wait_port "$port" 10 "$TAOD" && continue
		echo "${0##*/}: taod did not start listening; its log:" >&2
		tail -n 20 "$dir/log" >&2
		exit 1
	done
}

taod_alive() {
	bench_alive "$TAOD" && return 0
	echo "${0##*/}: taod died; its log:" >&2
	tail -n 20 "$BENCH_TMP/taod/log" >&2
	exit 1
}

# stat_total COLUMN: that column of the "total" row of taoctl stats.
stat_total() {
	timeout 10 "$BUILD/taoctl" -s "$BENCH_TMP/taod/taod.sock" stats \
	    2>/dev/null |
	    awk -v col="$1" '
	    $1 == "worker" { for (i = 1; i <= NF; i++) if ($i == col) c = i }
	    $1 == "total" && c { print $c }'
}

# Per taod process: "pid title utime+stime-ticks", one per line.
taod_procs() {
	local pid stat

	for pid in $(bench_tree "$TAOD"); do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		# shellcheck disable=SC2086
		set -- $stat
		# The title, without what libbsd leaves after it.
		echo "$pid $((${12} + ${13})) $(tr -c '[:print:]' ' ' \
		    <"/proc/$pid/cmdline" 2>/dev/null |
		    grep -o 'taod: [a-z]* process[ 0-9]*' | sed 's/ *$//')"
	done
}

# ---- echo ------------------------------------------------------------------------

record() {	# WHAT METRIC VALUE
	[ -n "$3" ] && VAL["$1|$2"]+="$3 "
}

median_of() {	# WHAT METRIC
	local -a v

	read -ra v <<<"${VAL["$1|$2"]:-}"
	bench_median "${v[@]}"
}

# echo_run WHAT: one echo run on the first port, recorded under WHAT
# ("alone" or "held").
echo_run() {
	local what=$1 c0 c1 json rc msgs cpu

	taod_alive
	c0=$(bench_cpu_ticks "$TAOD")
	"$BUILD/tao-bench" echo -p "${PORTS[0]}" -c 100 -d 1 -s 128 \
	    -t "$BENCH_TIME" --json >"$BENCH_TMP/echo.out" \
	    2>>"$BENCH_TMP/tao-bench.err"
	rc=$?
	c1=$(bench_cpu_ticks "$TAOD")
	json=$(grep '^{' "$BENCH_TMP/echo.out")
	if [ -z "$json" ] || [ "$rc" != 0 ]; then
		echo "  echo ($what): tao-bench failed (status $rc)" >&2
		tail -n 5 "$BENCH_TMP/tao-bench.err" >&2
		FAILED=1
		[ -z "$json" ] && return
	fi
	msgs=$(bench_json "$json" msgs_per_s)
	cpu=$(awk -v t=$((c1 - c0)) -v hz="$CLK_TCK" \
	    -v n="$(bench_json "$json" replies)" \
	    'BEGIN { if (n > 0) printf "%.3f\n", t * 1e6 / hz / n }')
	record "$what" msgs "$msgs"
	record "$what" cpu "$cpu"
	record "$what" p99 "$(bench_json "$json" p99_us)"
	printf '  echo %-5s msgs/s %s  taod CPU/msg %s us  p50/p99 %s/%s us  errors %s\n' \
	    "$what" "$(bench_fmt "$msgs" 0)" "$(bench_fmt "$cpu" 2)" \
	    "$(bench_fmt "$(bench_json "$json" p50_us)" 0)" \
	    "$(bench_fmt "$(bench_json "$json" p99_us)" 0)" \
	    "$(bench_json "$json" errors)"
}

# ---- the idle connections ------------------------------------------------------

start_clients() {
	local i n left=$HB_CONNS hb=()

	((HB_MS > 0)) && hb=(--heartbeat "$HB_MS")
	for ((i = 0; i < HB_CLIENTS; i++)); do
		n=$((left / (HB_CLIENTS - i)))
		left=$((left - n))
		# -t is only a bound: the script ends the hold with SIGTERM.
		bench_start "$BENCH_TMP/idle$i.log" "$BUILD/tao-bench" idle \
		    -p "${PORTS[$i]}" -n "$n" "${hb[@]}" -t 3600 \
		    --timeout "$((HB_SETUP_SECS / 2))" --json
		CLIENTS+=("$BENCH_PID")
	done
}

# Wait until every client holds its connections; sets HELD.
wait_clients() {
	local i n ok

	HELD=0
	for ((i = 0; i < HB_SETUP_SECS * 10; i++)); do
		ok=1
		for ((n = 0; n < HB_CLIENTS; n++)); do
			grep -q holding "$BENCH_TMP/idle$n.log" 2>/dev/null &&
			    continue
			ok=
			bench_alive "${CLIENTS[$n]}" || {
				echo "${0##*/}: tao-bench idle $n exited:" >&2
				tail -n 5 "$BENCH_TMP/idle$n.log" >&2
				return 1
			}
		done
		[ -n "$ok" ] && break
		taod_alive
		sleep 0.1
	done
	[ -n "$ok" ] || return 1
	for ((n = 0; n < HB_CLIENTS; n++)); do
		HELD=$((HELD + $(sed -n \
		    's/.*holding \([0-9]*\) connections.*/\1/p' \
		    "$BENCH_TMP/idle$n.log")))
	done
}

# Stop the clients' hold and read what they saw; sets OPEN, CLIENT_ERRORS.
stop_clients() {
	local n json

	for ((n = 0; n < HB_CLIENTS; n++)); do
		bench_alive "${CLIENTS[$n]}" &&
		    kill -TERM "${CLIENTS[$n]}" 2>/dev/null
	done
	OPEN=0
	CLIENT_ERRORS=0
	for ((n = 0; n < HB_CLIENTS; n++)); do
		# SIGTERM ends the hold at once; a client still setting up
		# gets the same 30 s as any process stopped by bench_stop.
		bench_stop "${CLIENTS[$n]}" 30
		json=$(grep '^{' "$BENCH_TMP/idle$n.log")
		if [ -z "$json" ]; then
			echo "${0##*/}: tao-bench idle $n printed no result" >&2
			FAILED=1
			continue
		fi
		OPEN=$((OPEN + $(bench_json "$json" open)))
		CLIENT_ERRORS=$((CLIENT_ERRORS + $(bench_json "$json" errors)))
		printf '  idle client %d: %s\n' "$n" "$json"
	done
	CLIENTS=()
}

# How many of taod's connections have input it has not read yet: a
# worker that keeps up leaves few; thousands mean it is behind.
unread() {
	local filter='' port

	for port in "${PORTS[@]}"; do
		filter+="${filter:+ or }sport = :$port"
	done
	ss -Htn state established "( $filter )" 2>/dev/null |
	    awk '$1 > 0 { n++ } END { print n + 0 }'
}

cpu_pct() {	# TICKS SECONDS
	awk -v t="$1" -v hz="$CLK_TCK" -v s="$2" \
	    'BEGIN { printf "%.1f\n", 100 * t / hz / s }'
}

# ---- main ----------------------------------------------------------------------

echo "# bench/heartbeat.sh: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs," \
    "$(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# taod app echo, workers $HB_WORKERS, heartbeat_ms $HB_MS," \
    "heartbeat_reply $HB_REPLY, $HB_CLIENTS ports; $HB_CONNS idle" \
    "connections from $HB_CLIENTS tao-bench processes; echo" \
    "BENCH_TIME=$BENCH_TIME BENCH_RUNS=$BENCH_RUNS"
start_taod
sleep 1
rss0=$(bench_rss_kb "$TAOD")
before=$(((BENCH_RUNS + 1) / 2))

echo "== echo with nothing else connected ($before of $BENCH_RUNS runs)"
for ((r = 0; r < before; r++)); do
	echo_run alone
done

if ((HB_MS > 0)); then
	echo "== $HB_CONNS idle connections, heartbeat every $HB_MS ms"
else
	echo "== $HB_CONNS idle connections, no heartbeats"
fi
t0=$(date +%s.%N)
start_clients
if ! wait_clients; then
	echo "${0##*/}: the idle connections were not all set up in" \
	    "$HB_SETUP_SECS s" >&2
	exit 1
fi
t1=$(date +%s.%N)
timeouts_setup=$(stat_total timeouts)
printf '  %d of %d connections held, set up in %.1f s; taod connections %s, timeouts so far %s\n' \
    "$HELD" "$HB_CONNS" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
    "$(stat_total connections)" "$timeouts_setup"
# Let the last replies and the first heartbeat rounds settle.
sleep 2
taod_alive
rss1=$(bench_rss_kb "$TAOD")
# Per connection taod has open now (some may have timed out already).
rss_n=$(stat_total connections)
rss_conn=$(awk -v a="$rss0" -v b="$rss1" -v n="${rss_n:-0}" \
    'BEGIN { if (n > 0) printf "%.0f\n", (b - a) * 1024 / n }')
printf '  taod RSS %s kB with no connections, %s kB holding %s: %s B/conn\n' \
    "$rss0" "$rss1" "$rss_n" "$rss_conn"

# CPU while idle: every taod process, and the clients for comparison.
# Each sample is timed, so the slow parts of reading /proc do not skew
# the rates.
declare -A T0
msgs0=$(stat_total msgs_in)
m0=$EPOCHREALTIME
timeouts0=$(stat_total timeouts)
c0=$EPOCHREALTIME
while read -r pid ticks title; do
	T0[$pid]=$ticks
done < <(taod_procs)
k0=0
for pid in "${CLIENTS[@]}"; do
	k0=$((k0 + $(bench_cpu_ticks "$pid")))
done
sleep "$HB_CPU_SECS"
taod_alive
c1=$EPOCHREALTIME
secs=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f\n", b - a }')
sum=0
while read -r pid ticks title; do
	d=$((ticks - ${T0[$pid]:-$ticks}))
	sum=$((sum + d))
	printf '  %-28s %5s%% of a core\n' "$title ($pid)" \
	    "$(cpu_pct "$d" "$secs")"
done < <(taod_procs)
k1=0
for pid in "${CLIENTS[@]}"; do
	k1=$((k1 + $(bench_cpu_ticks "$pid")))
done
m1=$EPOCHREALTIME
msgs1=$(stat_total msgs_in)
idle_cpu=$(cpu_pct "$sum" "$secs")
client_cpu=$(cpu_pct $((k1 - k0)) "$secs")
hb_rate=$(awk -v a="$msgs0" -v b="$msgs1" -v s="$m0" -v e="$m1" \
    'BEGIN { if (a != "" && b != "") printf "%.0f\n", (b - a) / (e - s) }')
printf '  taod, all processes: %s%% of one core over %s s; frames received %s/s; tao-bench idle clients: %s%%\n' \
    "$idle_cpu" "$secs" "${hb_rate:--}" "$client_cpu"
unread_idle=$(unread)
printf '  taod connections with unread input: %s\n' "$unread_idle"

echo "== echo while the idle connections are held ($BENCH_RUNS runs)"
for ((r = 0; r < BENCH_RUNS; r++)); do
	echo_run held
	printf '  taod connections with unread input: %s\n' "$(unread)"
done
for ((n = 0; n < HB_CLIENTS; n++)); do
	bench_alive "${CLIENTS[$n]}" || {
		echo "${0##*/}: tao-bench idle $n ended before the" \
		    "measurements did" >&2
		FAILED=1
	}
done
timeouts1=$(stat_total timeouts)
echo "== stopping the idle connections"
stop_clients
timeouts_held=$(awk -v a="$timeouts0" -v b="$timeouts1" 'BEGIN {
    if (a == "" || b == "") print "-"; else print b - a }')
printf '  open at the end: %d of %d held; client errors %d; taod timeouts while held: %s\n' \
    "$OPEN" "$HELD" "$CLIENT_ERRORS" "$timeouts_held"
((OPEN == HELD && CLIENT_ERRORS == 0)) || FAILED=1
((HELD == HB_CONNS)) || FAILED=1

# Wait (bounded) until taod has closed them before the last echo runs.
for ((i = 0; i < 300; i++)); do
	[ "$(stat_total connections)" = 0 ] && break
	sleep 0.1
done
if ((BENCH_RUNS > before)); then
	echo "== echo with nothing else connected ($((BENCH_RUNS - before)) of $BENCH_RUNS runs)"
	for ((r = before; r < BENCH_RUNS; r++)); do
		echo_run alone
	done
fi
bench_stop "$TAOD"
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

ma=$(median_of alone msgs)
mh=$(median_of held msgs)
echo
echo "| $HB_CONNS idle conns, heartbeat_ms $HB_MS, taod workers $HB_WORKERS | value |"
echo "|---|---:|"
echo "| idle connections held (open at the end) | $HELD ($OPEN) |"
echo "| taod RSS per idle connection | $rss_conn B |"
echo "| taod CPU while idle, all processes, % of one core | $idle_cpu % |"
echo "| tao-bench idle clients' CPU meanwhile | $client_cpu % |"
echo "| frames received by taod while idle | ${hb_rate:--}/s |"
echo "| taod connections with unread input, sampled once while idle | $unread_idle |"
echo "| taod heartbeat timeouts while set up / while held | $timeouts_setup / $timeouts_held |"
echo "| echo msgs/s alone (median of $BENCH_RUNS) | $(bench_fmt "$ma" 0) |"
echo "| echo msgs/s while held (median of $BENCH_RUNS) | $(bench_fmt "$mh" 0) |"
echo "| ratio held / alone | $(bench_ratio "$mh" "$ma") |"
echo "| taod CPU us/msg, alone / held | $(bench_fmt "$(median_of alone cpu)" 2) / $(bench_fmt "$(median_of held cpu)" 2) |"
echo "| echo p99 us, alone / held | $(bench_fmt "$(median_of alone p99)" 0) / $(bench_fmt "$(median_of held p99)" 0) |"
if [ "$FAILED" != 0 ]; then
	echo "${0##*/}: errors were seen (see above); figures may be wrong" >&2
	exit 1
fi
exit 0
