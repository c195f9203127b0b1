#!/bin/sh
# shape-tcp.sh - what TCP gets through a 50 mbit tenant, on real kernel stacks: sluice between
# two network namespaces (veth pairs, net_af_packet, worker mode), one iperf3 TCP stream per
# run, with the tenant shaped (exceed: shape, max-delay 20ms), policed (exceed: drop) and,
# as the reference, unlimited in sluice with `tc tbf rate 50mbit burst BURST latency 20ms` on
# the sender's veth; `fifo` is the shaped tenant with fair: none (one FIFO, as tbf). In turns,
# ROUNDS times.
#
# usage: perf/shape-tcp.sh        environment: BURST (64KB), SECONDS_PER_RUN (10), ROUNDS (2),
#                                 STREAMS (1), MODES ("shape drop tbf"; also fifo),
#                                 IPERF_ARGS (more iperf3 client options, e.g. "-O 2"),
#                                 KEEP_JSON (PREFIX: keep each run's iperf3 JSON),
#                                 BUILD (build). Root; needs iperf3 and ethtool.
# Prints a row per run (goodput Mbit/s, share of 50 Mbit/s, retransmits; with STREAMS > 1 each
# stream's Mbit/s and the largest distance of one from their mean) and the medians.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
BURST=${BURST:-64KB}
SECS=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-2}
STREAMS=${STREAMS:-1}
MODES=${MODES:-shape drop tbf}
IPERF_ARGS=${IPERF_ARGS:-}
KEEP_JSON=${KEEP_JSON:-}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shape-tcp.XXXXXX")
cleanup() {
	ip netns del sla 2>/dev/null || true
	ip netns del slb 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

for n in a b; do
	ip netns del "sl$n" 2>/dev/null || true
	ip link del "sl${n}1" 2>/dev/null || true
	ip netns add "sl$n"
	ip link add "sl${n}0" type veth peer name "sl${n}1"
	ip link set "sl${n}0" netns "sl$n"
	ip link set "sl${n}1" up
	ethtool -K "sl${n}1" tso off gso off gro off tx off rx off >/dev/null
	ip netns exec "sl$n" ip link set lo up
	ip netns exec "sl$n" ip link set "sl${n}0" up
	ip netns exec "sl$n" ethtool -K "sl${n}0" tso off gso off gro off tx off rx off >/dev/null
done
ip netns exec sla ip addr add 198.18.0.1/24 dev sla0
ip netns exec slb ip addr add 198.18.0.2/24 dev slb0

for m in shape fifo drop none; do
	{
		echo "sluice: 1"
		echo "profiles:"
		case $m in
		shape) echo "  p: {mode: shared, rate: 50mbit, burst: $BURST, exceed: shape, max-delay: 20ms}" ;;
		fifo) echo "  p: {mode: shared, rate: 50mbit, burst: $BURST, exceed: shape, max-delay: 20ms, fair: none}" ;;
		drop) echo "  p: {mode: shared, rate: 50mbit, burst: $BURST, exceed: drop}" ;;
		none) echo "  p: {mode: shared, rate: 10gbit, burst: 10MB, exceed: pass}" ;;
		esac
		echo "tenants:"
		echo "  - {name: a-to-b, profile: p, match: {src: 198.18.0.1/32, dst: 198.18.0.2/32}}"
	} > "$TMP/$m.yaml"
done

run() { # mode: shape | fifo | drop | tbf
	pol=$1
	[ "$1" = tbf ] && pol=none
	"$BUILD/app/sluice" --no-huge -m 1024 --no-shconf --no-pci --no-telemetry \
		--lcores=0@0,1@1,2@0 --vdev=net_af_packet0,iface=sla1 \
		--vdev=net_af_packet1,iface=slb1 --log-level=error -- --config "$TMP/$pol.yaml" \
		--workers 1 --quiet --report "$TMP/r.json" >"$TMP/sl.log" 2>&1 &
	pid=$!
	sleep 3
	[ "$1" = tbf ] && ip netns exec sla tc qdisc replace dev sla0 root tbf rate 50mbit \
		burst "$(echo "$BURST" | sed 's/KB$/kb/; s/MB$/mb/')" latency 20ms
	ip netns exec slb iperf3 -s -1 -p 5301 >/dev/null 2>&1 &
	sleep 0.5
	# shellcheck disable=SC2086
	ip netns exec sla iperf3 -c 198.18.0.2 -p 5301 -t "$SECS" -P "$STREAMS" $IPERF_ARGS -J \
		>"$TMP/i.json" || true
	[ -z "$KEEP_JSON" ] || cp "$TMP/i.json" "$KEEP_JSON.$1.$(date +%s).json"
	[ "$1" = tbf ] && ip netns exec sla tc qdisc del dev sla0 root
	kill -INT "$pid"
	wait "$pid" || true
	python3 - "$TMP/i.json" "$1" "$TMP/r.json" <<'PY'
import json, sys
e = json.load(open(sys.argv[1]))['end']
try:
    t = json.load(open(sys.argv[3]))['tenants'][0]
    drops = f"{t['shape_drops'] + (t['exceed_packets'] if t['shape_drops'] == 0 else 0)}" \
        f" ({t.get('fair_drops', 0)} fair)"
except (OSError, ValueError, KeyError, IndexError):
    drops = '-'
g = e['sum_received']['bytes'] * 8 / e['sum_received']['seconds']
per = [s['receiver']['bytes'] * 8 / s['receiver']['seconds'] for s in e['streams']]
mean = sum(per) / len(per)
spread = '' if len(per) < 2 else ' | ' + ' '.join(f'{p / 1e6:.2f}' for p in per) + \
    f' | {max(abs(p - mean) / mean for p in per):.1%}'
print(f'| {sys.argv[2]} | {g / 1e6:.2f} | {g / 50e6:.3f} | {e["sum_sent"].get("retransmits", 0)}'
      f' | {drops}{spread} |')
PY
}

echo "# shape-tcp $(date -u +%Y-%m-%dT%H:%MZ) on $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?); $STREAMS TCP stream(s), 50 mbit, burst $BURST, ${SECS} s"
if [ "$STREAMS" -gt 1 ]; then
	echo "| limiter | goodput Mbit/s | of 50 Mbit/s | retransmits | sluice drops | streams Mbit/s | spread |"
	echo "|---|---|---|---|---|---|---|"
else
	echo "| limiter | goodput Mbit/s | of 50 Mbit/s | retransmits | sluice drops |"
	echo "|---|---|---|---|---|"
fi
: > "$TMP/rows"
for k in $(seq "$ROUNDS"); do
	for m in $MODES; do
		run "$m" | tee -a "$TMP/rows"
	done
done
for m in $MODES; do
	grep "| $m |" "$TMP/rows" | awk -F'|' '{ print $3 }' | sort -n |
		awk -v m="$m" '{ a[NR] = $1 } END { printf "median %s: %.2f Mbit/s (%.3f)\n", m, a[int((NR + 1) / 2)], a[int((NR + 1) / 2)] / 50 }'
done
