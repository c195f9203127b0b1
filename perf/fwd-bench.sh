#!/bin/sh
# fwd-bench.sh - forwarding rate of sluice against the I/O ceiling, same ports, same capture,
# same run: dpdk-testpmd --forward-mode=5tswap and sluice with a dedicated per-5-tuple
# profile, each replaying N distinct 64-byte frames from memory (net_pcap infinite_rx) into
# a sink (net_null), one forwarding core. Prints both rates and their ratio. Both rates are
# the same statistic: the median (STAT=p90: the 90th percentile) of the program's own
# once-per-second rate (testpmd's Rx-pps, sluice's live table), the first 2 seconds of
# forwarding left out. The ratio column is the ratio of the two; each round (testpmd then sluice, back to back) also gives a paired
# ratio, listed with their median: on a busy shared host that is the steadier figure.
# STAT=p90 takes the 90th percentile of the per-second rates instead of the median, for both
# programs: a host that steals time only ever slows a second down, so a program's good
# seconds are the ones least touched by its neighbours.
#
# usage: perf/fwd-bench.sh [FLOWS...]      (default: 100000 1000000)
# environment: BUILD (default build), SECONDS_PER_RUN (default 12), ROUNDS (default 3),
#              FWD_CORE (default 1), MAIN_CORE (default 0), FRAMES (frames in the capture,
#              cycling through the flows; default: one per flow), STAT (median or p90,
#              default median), POLICY (dedicated, shared or none: the tenant's profile,
#              see perf/bench-policy.sh; default dedicated), TURNS (milliseconds: run both
#              programs at once, taking turns of TURNS ms on the forwarding core for
#              SECONDS_PER_RUN seconds, perf/turns.py; default unset: one after the other).
#              Runs as root.
#
# TURNS: on a shared host whose slowdowns last seconds, back-to-back runs of the two programs
# meet different slowdowns and their ratio moves by tens of percent; taking turns of 200 ms,
# both meet the same ones. The rates are then frames per second of each program's own turns
# (port 0's received frames over telemetry at the start and end of every turn).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${SECONDS_PER_RUN:-12}
ROUNDS=${ROUNDS:-3}
FWD=${FWD_CORE:-1}
MAIN=${MAIN_CORE:-0}
FLOWS=${*:-100000 1000000}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fwd-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

command -v dpdk-testpmd >/dev/null || { echo "fwd-bench: dpdk-testpmd missing (apt-get install dpdk)" >&2; exit 1; }


median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print a[int((NR + 1) / 2)]}'; }
# the 90th percentile (nearest rank) of the numbers on stdin
p90() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print a[int((NR * 9 + 9) / 10)]}'; }
STAT=${STAT:-median}
POLICY=${POLICY:-dedicated}
perf/bench-policy.sh 1 "$POLICY" >/dev/null || exit 2
case $STAT in median|p90) ;; *) echo "fwd-bench: STAT must be median or p90" >&2; exit 2;; esac
case ${TURNS:-1} in ''|*[!0-9]*) echo "fwd-bench: TURNS must be milliseconds" >&2; exit 2;; esac
# per-second rates on stdin, one per line: the periods before the first frame and the next 2
# (warm-up) dropped, STAT of the rest; the statistic both programs are measured by
steady() { awk '$1 > 0' | tail -n +3 | $STAT; }

eal() { # $1 = capture, $2 = memory MB
	echo "--no-huge -m $2 --no-shconf --no-pci --no-telemetry -l $MAIN,$FWD --main-lcore $MAIN" \
	     "--log-level=lib.eal:error --log-level=pmd.net.pcap:error" \
	     "--vdev=net_pcap0,rx_pcap=$1,infinite_rx=1 --vdev=net_null0,no-rx=1"
}

testpmd_pps() { # capture, mbufs, mem
	# shellcheck disable=SC2046
	timeout -s INT $((SECS + 150)) dpdk-testpmd $(eal "$1" "$3") --file-prefix=fwdb-tp -- \
		-a --forward-mode=5tswap --nb-cores=1 --stats-period 1 --total-num-mbufs="$2" \
		--no-flush-rx </dev/null >"$TMP/tp.log" 2>&1 &
	pid=$!
	# loading a big capture takes a while: measure SECS seconds from the first forwarded frames
	waited=0
	while [ $waited -lt 120 ] && ! grep -Eq "Rx-pps: +[1-9]" "$TMP/tp.log" 2>/dev/null; do
		sleep 1
		waited=$((waited + 1))
	done
	sleep "$SECS"
	kill -INT $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	# per-period Rx-pps of port 0
	grep -q "Rx-pps" "$TMP/tp.log" || { echo "fwd-bench: testpmd failed:" >&2; tail -5 "$TMP/tp.log" >&2; }
	grep -A8 "NIC statistics for port 0" "$TMP/tp.log" | awk '/Rx-pps:/ {print $2}' | steady
}

# both programs at once, taking turns (TURNS ms) on the forwarding core (perf/turns-ab.sh);
# prints "testpmd_pps sluice_pps", frames per second of their own turns
turns_pps() { # flows, capture, frames
	r=$(CAPTURE=$2 FRAMES=$3 FWD_CORE=$FWD MAIN_CORE=$MAIN GEN="$BUILD/tools/sl-gen" \
		perf/turns-ab.sh "$1" "$SECS" "$BUILD:$TMP/bench.yaml" |
		awk -F'|' 'NR > 3 { printf "%.0f %.0f\n", $3 * 1e6, $4 * 1e6 }')
	echo "${r:-0 0}"
}

sluice_pps() { # capture, mbufs, mem
	# the same statistic as testpmd's (steady) on sluice's live table once per second (frames
	# forwarded per second; its warm-up includes the first pass inserting every flow's key)
	# shellcheck disable=SC2046
	"$BUILD/app/sluice" $(eal "$1" "$3") --file-prefix=fwdb-sl -- --config "$TMP/bench.yaml" \
		--duration "$SECS" --mbufs "$2" --max-keys "$KEYS" --stats-interval 1 --report "$TMP/r.json" \
		>"$TMP/sl.log" 2>&1 ||
		{ echo "fwd-bench: sluice failed:" >&2; tail -5 "$TMP/sl.log" >&2; echo 0; return; }
	per_s=$(sed -n 's/^ *forwarded [0-9.]* Mbit\/s \([0-9]*\) pps,.*/\1/p' "$TMP/sl.log" | steady)
	# and the whole run's average from the first forwarded frame, for comparison
	whole=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(int(r['packets']/r['elapsed_s']) if r['elapsed_s'] else 0)" "$TMP/r.json")
	echo "$per_s:$whole"
}

echo "# fwd-bench $(date -u +%Y-%m-%dT%H:%MZ) on $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; policy: $POLICY; $(if [ -n "${TURNS:-}" ]; then echo "both at once in turns of $TURNS ms, frames per second of their own turns"; else echo "one after the other, per-second statistic: $STAT"; fi)"
echo "| flows | frames | testpmd 5tswap Mpps | sluice Mpps | ratio | sluice whole-run average Mpps | ratio per round | median of rounds |"
echo "|---|---|---|---|---|---|---|---|"
for n in $FLOWS; do
	frames=${FRAMES:-$n}
	"$BUILD/tools/sl-gen" --out "$TMP/d.pcap" --distinct "$n" --count "$frames" --size 64 --quiet
	perf/bench-policy.sh "$n" "$POLICY" > "$TMP/bench.yaml"
	KEYS=$((2 * n))	# the key budget as an operator sizes it: twice the flows
	read -r mbufs mem <<EOF
$(perf/pool-size.sh "$frames")
EOF
	tps="" sps="" sws="" rps=""
	for r in $(seq "$ROUNDS"); do	# alternate, so drift of the shared machine hits both
		if [ -n "${TURNS:-}" ]; then	# at once, in turns: no whole-run average
			both=$(turns_pps "$n" "$TMP/d.pcap" "$frames")
			tp=${both%% *}
			both="${both#* }:0"
		else
			tp=$(testpmd_pps "$TMP/d.pcap" "$mbufs" "$mem")
			both=$(sluice_pps "$TMP/d.pcap" "$mbufs" "$mem")
		fi
		sp=${both%%:*}	# per-second STAT : whole-run average
		if [ "${tp:-0}" -gt 0 ] && [ "$sp" -gt 0 ]; then
			tps="$tps $tp"
			sps="$sps $sp"
			sws="$sws ${both#*:}"
			rps="$rps $(awk -v t="$tp" -v s="$sp" 'BEGIN { printf "%.3f", s / t }')"
		else	# a program that forwarded nothing measurable: the round is left out
			echo "fwd-bench: round $r at $n flows left out (testpmd ${tp:-0} pps, sluice $sp pps)" >&2
			rps="$rps -"
		fi
	done
	rmed=$(echo "$rps" | tr ' ' '\n' | awk 'NF && $1 != "-"' | median)
	tp=$(echo "$tps" | tr ' ' '\n' | awk 'NF' | median)
	sl=$(echo "$sps" | tr ' ' '\n' | awk 'NF' | median)
	sw=$(echo "$sws" | tr ' ' '\n' | awk 'NF' | median)
	awk -v n="$n" -v f="$frames" -v tp="$tp" -v sl="$sl" -v sw="$sw" -v rps="${rps# }" \
	    -v rmed="$rmed" 'BEGIN {
		printf "| %d | %d | %.2f | %.2f | %.3f | %s | %s | %.3f |\n", n, f, tp / 1e6,
		       sl / 1e6, (tp > 0 ? sl / tp : 0),
		       (sw > 0 ? sprintf("%.2f", sw / 1e6) : "-"), rps, rmed }'
done
