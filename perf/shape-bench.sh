#!/bin/sh
# shape-bench.sh - many shaped tenants on one worker lcore: the same traffic through the same
# policy with exceed: shape and with exceed: drop, in turns. TENANTS tenants (one /32 source
# each, 64-byte UDP), a capture of one frame per tenant replayed at full speed (net_pcap
# infinite_rx -> net_null), every tenant offered more than its rate (a shared packet-rate
# profile, RATE pps, burst BURST pkt, max-delay MAX_DELAY), one policing lcore and one worker.
#
# usage: perf/shape-bench.sh                   environment: TENANTS (10000), RATE (200),
#        BURST (4), SECONDS_PER_RUN (15), ROUNDS (3), SLOT_US (10), MAX_DELAY (20ms: how long
#        a frame may wait, which sets how many wait at once), BUILD (build). Root.
# LCORES (0@1,1@1,2@0: the worker alone on core 0, the main lcore with the policing one),
# FAIR (flows: the shaped profile's default; none), ISOLATE (0: the worker's core in LCORES, kept
# for it by tools/sl-isolate as an appliance host keeps its lcores' cores; empty: the host as
# it is, where the worker shares its core with whatever else runs there).
# Prints per run: frames read and forwarded per second, frames that waited per second, the
# pacing error p50/p99 (|release - departure| in slots, from the worker's histogram: the
# target is p99 under 2 slots), and the most frames waiting at once; then the medians and
# shape/drop forwarded (the target: at least 0.8). KEEP_LOG=PREFIX keeps sluice's output.
set -eu
cd "$(dirname "$0")/.."
ISOLATE=${ISOLATE-0}
if [ -n "$ISOLATE" ] && [ -z "${SL_ISOLATED:-}" ]; then
	SL_ISOLATED=$ISOLATE exec tools/sl-isolate "$ISOLATE" "$0" "$@"
fi
BUILD=${BUILD:-build}
TENANTS=${TENANTS:-10000}
RATE=${RATE:-200}
BURST=${BURST:-4}
SECS=${SECONDS_PER_RUN:-15}
ROUNDS=${ROUNDS:-3}
SLOT_US=${SLOT_US:-10}
MAX_DELAY=${MAX_DELAY:-20ms}
LCORES=${LCORES:-0@1,1@1,2@0}
FAIR=${FAIR:-flows}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/shape-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

python3 - "$TMP" "$TENANTS" "$RATE" "$BURST" "$FAIR" "$MAX_DELAY" <<'PY'
import struct, sys
d, n, rate, burst, fair, delay = sys.argv[1], int(sys.argv[2]), *sys.argv[3:7]
for mode in ('shape', 'drop'):
    with open(f'{d}/{mode}.yaml', 'w') as f:
        f.write('sluice: 1\nprofiles:\n')
        f.write(f'  p: {{mode: shared, rate: {rate}pps, burst: {burst}pkt, exceed: {mode}'
                + (f', max-delay: {delay}, fair: {fair}' if mode == 'shape' else '')
                + '}\ntenants:\n')
        for i in range(n):
            f.write(f'  - {{name: t{i}, profile: p, match: {{src: 10.{i >> 16 & 255}.'
                    f'{i >> 8 & 255}.{i & 255}/32}}}}\n')
def frame(i):
    eth = b'\x02' * 6 + b'\x04' * 6 + b'\x08\x00'
    src = bytes([10, i >> 16 & 255, i >> 8 & 255, i & 255])
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 46, i & 0xffff, 0x4000, 64, 17, 0, src,
                     bytes([192, 0, 2, 1]))
    s = sum(struct.unpack('!10H', ip))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    ip = ip[:10] + struct.pack('!H', ~s & 0xffff) + ip[12:]
    return eth + ip + struct.pack('!HHHH', 1024 + (i & 0x7fff), 9, 26, 0) + bytes(18)
with open(f'{d}/cap.pcap', 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(n):
        b = frame(i)
        f.write(struct.pack('<IIII', 0, i, len(b), len(b)) + b)
PY

echo "# shape-bench $(date -u +%Y-%m-%dT%H:%MZ) on $(lscpu | sed -n 's/^Model name: *//p'), $(nproc --all) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?); $TENANTS tenants at ${RATE} pps each (burst $BURST, fair: $FAIR, max-delay $MAX_DELAY), ${SECS} s runs, slots of $SLOT_US us; CPU(s) kept for the worker: ${SL_ISOLATED:-none}"
echo "| run | exceed | read Mpps | forwarded Mpps | waited Mpps | pacing p50 / p99 (slots) | most waiting | worker lost its core (> 1 ms) |"
echo "|---|---|---|---|---|---|---|---|"
run() { # mode round
	"$BUILD/app/sluice" --no-huge -m 3072 --no-shconf --no-pci --no-telemetry \
		--lcores="$LCORES" --file-prefix=shape-bench --log-level=lib.eal:error \
		--log-level=pmd.net.pcap:error \
		"--vdev=net_pcap0,rx_pcap=$TMP/cap.pcap,infinite_rx=1" --vdev=net_null0,no-rx=1 -- \
		--config "$TMP/$1.yaml" --workers 1 --duration "$SECS" --stats-interval 1000 \
		--shape-slot-us "$SLOT_US" --shape-mbufs ${SHAPE_MBUFS:-$((TENANTS * 16))} --top 1 \
		--report "$TMP/r.json" >"$TMP/sl.log" 2>&1 || { tail -20 "$TMP/sl.log" >&2; exit 1; }
	[ -z "${KEEP_LOG:-}" ] || cp "$TMP/sl.log" "$KEEP_LOG.$1"
	python3 - "$TMP/r.json" "$TMP/sl.log" "$1" "$2" <<'PY'
import json, re, sys
r = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
e = r['elapsed_s'] or 1
lost = sum(t['queue_drops'] for t in r['tenants']) + r['tx_dropped']
fwd = r['packets'] - r['dropped']['packets'] - lost
waited = sum(t['shaped_packets'] for t in r['tenants'])
m = re.search(r'at most (\d+) at once.*pacing error p50 <= ([0-9.]+), p90 <= [0-9.]+, p99 <= ([0-9.]+)', log)
p = f'{m.group(2)} / {m.group(3)}' if m else '-'
most = m.group(1) if m else '-'
m = re.search(r'lost their core (\d+) time\(s\) for over 1 ms, ([0-9.]+) ms', log)
lost_core = f'{m.group(1)} times, {m.group(2)} ms' if m else '0'
print(f'| {sys.argv[4]} | {sys.argv[3]} | {r["packets"] / e / 1e6:.3f} | {fwd / e / 1e6:.3f} | '
      f'{waited / e / 1e6:.3f} | {p} | {most} | {lost_core} |')
PY
}
: > "$TMP/rows"
for k in $(seq "$ROUNDS"); do
	for mode in shape drop; do
		run "$mode" "$k" | tee -a "$TMP/rows"
	done
done
med() { grep "| $1 |" "$TMP/rows" | awk -F'|' '{ print $5 }' | sort -n |
	awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : 0 }'; }
s=$(med shape)
d=$(med drop)
echo "median forwarded Mpps: shape $s, drop $d; shape / drop $(echo "$s $d" |
	awk '{ printf "%.3f", ($2 > 0 ? $1 / $2 : 0) }') (target >= 0.8)"
