#!/bin/sh
# mode-bench.sh - run-to-completion against worker mode (--workers), same ports, same capture,
# same run: N distinct 64-byte UDP flows split over two RX queues (net_pcap infinite_rx, one
# file each, no flow in both) into a sink (net_null), a dedicated per-5-tuple profile far above
# what a flow is offered, so every frame is policed and forwarded unless it is lost on the way.
#
# usage: perf/mode-bench.sh [FLOWS]        (default 200000)
# environment: BUILD (default build), SECONDS_PER_RUN (default 8), ROUNDS (default 3).
# Runs as root. Prints one table row per layout: frames read (policed) and frames sent per
# second, medians over the rounds, the share read but lost at hand-off or TX, and the round
# that sent the most (what the layout does when the machine gives it its cores). Layouts
# (lcore@core; lcore 0 is the main lcore and mostly sleeps):
#   rtc-1   1 forwarding lcore                   0@0,1@1
#   rtc-2   2 forwarding lcores                  0@0,1@0,2@1
#   pipe-1  1 policing lcore + 1 worker          0@0,1@1,2@0        --workers 1
#   pipe-2  2 policing lcores + 2 workers        0@0,1@0,2@1,3@0,4@1 --workers 2
# On a 2-core machine pipe-2 runs 4 busy lcores on 2 cores: it measures oversubscription.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SECS=${SECONDS_PER_RUN:-8}
ROUNDS=${ROUNDS:-3}
FLOWS=${1:-200000}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/mode-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

perf/bench-policy.sh "$FLOWS" > "$TMP/bench.yaml"

# the capture: sl-gen's distinct tuples, alternate frames to two files (two RX queues)
"$BUILD/tools/sl-gen" --out "$TMP/all.pcap" --distinct "$FLOWS" --size 64 --quiet
python3 - "$TMP" <<'PY'
import struct, sys
d = open(sys.argv[1] + "/all.pcap", "rb").read()
out, o, i = [bytearray(d[:24]), bytearray(d[:24])], 24, 0
while o < len(d):
    n = 16 + struct.unpack("<I", d[o + 8:o + 12])[0]
    out[i & 1] += d[o:o + n]
    o, i = o + n, i + 1
for k in (0, 1):
    open("%s/q%d.pcap" % (sys.argv[1], k), "wb").write(out[k])
PY

median() { sort -n | awk '{a[NR]=$1} END {if (NR == 0) print 0; else print a[int((NR + 1) / 2)]}'; }

# one run: prints "read_pps sent_pps lost_fraction"
sluice_run() { # lcores, extra sluice options
	mem=$(( (FLOWS * 2304 / 1048576) + 2048 ))
	# shellcheck disable=SC2086
	"$BUILD/app/sluice" --no-huge -m "$mem" --no-shconf --no-pci --no-telemetry \
		--lcores="$1" --file-prefix=mode-bench --log-level=lib.eal:error \
		--log-level=pmd.net.pcap:error \
		"--vdev=net_pcap0,rx_pcap=$TMP/q0.pcap,rx_pcap=$TMP/q1.pcap,infinite_rx=1" \
		--vdev=net_null0,no-rx=1 -- --config "$TMP/bench.yaml" --duration "$SECS" \
		--quiet --report "$TMP/r.json" $2 >"$TMP/sl.log" 2>&1 || { cat "$TMP/sl.log" >&2; exit 1; }
	python3 - "$TMP/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
e = r["elapsed_s"] or 1
lost = sum(t["queue_drops"] for t in r["tenants"]) + r["tx_dropped"]
sent = r["packets"] - r["dropped"]["packets"] - lost
print(int(r["packets"] / e), int(sent / e), "%.6f" % (lost / r["packets"] if r["packets"] else 0))
PY
}

LAYOUTS="rtc-1|0@0,1@1| rtc-2|0@0,1@0,2@1| pipe-1|0@0,1@1,2@0|--workers=1 pipe-2|0@0,1@0,2@1,3@0,4@1|--workers=2"

echo "# mode-bench $(date -u +%Y-%m-%dT%H:%MZ) on $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $FLOWS flows, $SECS s x $ROUNDS rounds"
for _ in $(seq "$ROUNDS"); do	# rounds outermost, so drift of the machine hits every layout
	for l in $LAYOUTS; do
		name=${l%%|*}; rest=${l#*|}; lc=${rest%%|*}; opt=${rest#*|}
		echo "$name $(sluice_run "$lc" "$opt")" >>"$TMP/runs"
	done
done
echo "| layout | lcores | read Mpps | sent Mpps | lost at hand-off/TX | best round: read / sent Mpps |"
echo "|---|---|---|---|---|---|"
for l in $LAYOUTS; do
	name=${l%%|*}; rest=${l#*|}; lc=${rest%%|*}
	rd=$(awk -v n="$name" '$1 == n {print $2}' "$TMP/runs" | median)
	st=$(awk -v n="$name" '$1 == n {print $3}' "$TMP/runs" | median)
	ls=$(awk -v n="$name" '$1 == n {print $4}' "$TMP/runs" | median)
	best=$(awk -v n="$name" '$1 == n {print $3, $2}' "$TMP/runs" | sort -n | tail -1)
	awk -v n="$name" -v lc="$lc" -v rd="$rd" -v st="$st" -v ls="$ls" -v b="$best" 'BEGIN {
		split(b, x, " ")
		printf "| %s | %s | %.2f | %.2f | %.1f%% | %.2f / %.2f |\n", n, lc, rd / 1e6,
		       st / 1e6, ls * 100, x[2] / 1e6, x[1] / 1e6 }'
done
