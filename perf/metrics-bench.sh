#!/bin/sh
# metrics-bench.sh - what Prometheus scrapes cost forwarding: the same 10,000-tenant appliance
# (tools/sl-mixtenants.py, FLOWS 64-byte flows, net_pcap infinite_rx -> net_null, -l 0-1: the
# forwarding lcore on core 1, the main lcore and the metrics thread on core 0), once scraped
# SCRAPES times a second at /metrics and once not, in alternating rounds.
#
# usage: perf/metrics-bench.sh    environment: TENANTS (10000), FLOWS (100000), SCRAPES (10),
#                                 SECONDS_PER_RUN (10), ROUNDS (4), BUILD (build). Root.
# Prints per run the frames read per second (the report's packets / elapsed), the scrapes
# done and their mean time and size; then the medians and scraped / not scraped (the target:
# a cost under 1%, a ratio above 0.99).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
TENANTS=${TENANTS:-10000}
FLOWS=${FLOWS:-100000}
SCRAPES=${SCRAPES:-10}
SECS=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-4}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/metrics-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

python3 tools/sl-mixtenants.py --tenants "$TENANTS" --out "$TMP/p.yaml" --pcap "$TMP/cap.pcap" \
	--flows "$FLOWS" >/dev/null
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

run() { # scrape: 0 or 1
	"$BUILD/app/sluice" --no-huge -m 3072 --no-shconf --no-pci --no-telemetry -l 0-1 \
		--file-prefix=metrics-bench --log-level=lib.eal:error --log-level=pmd.net.pcap:error \
		"--vdev=net_pcap0,rx_pcap=$TMP/cap.pcap,infinite_rx=1" --vdev=net_null0,no-rx=1 -- \
		--config "$TMP/p.yaml" --duration "$SECS" --quiet --max-keys $((FLOWS * 2)) \
		--metrics "127.0.0.1:$PORT" --report "$TMP/r.json" >"$TMP/sl.log" 2>&1 &
	pid=$!
	python3 - "$PORT" "$1" "$SCRAPES" "$SECS" >"$TMP/scrapes" <<'PY'
import sys, time, urllib.request
port, on, rate, secs = sys.argv[1], sys.argv[2] == '1', float(sys.argv[3]), float(sys.argv[4])
url = f'http://127.0.0.1:{port}/metrics'
t0 = time.monotonic()
while time.monotonic() - t0 < 20:          # the endpoint is up once the ports are
    try:
        urllib.request.urlopen(url, timeout=5).read()
        break
    except OSError:
        time.sleep(0.05)
n, took, size, start = 0, 0.0, 0, time.monotonic()
nxt = start
while on and time.monotonic() - start < secs - 3:
    t = time.monotonic()
    size += len(urllib.request.urlopen(url, timeout=5).read())
    took += time.monotonic() - t
    n += 1
    nxt += 1 / rate
    time.sleep(max(0.0, nxt - time.monotonic()))
print(n, took / n if n else 0, size / n if n else 0, n / (time.monotonic() - start) if n else 0)
PY
	wait "$pid" || { tail -5 "$TMP/sl.log" >&2; exit 1; }
	python3 - "$TMP/r.json" "$1" $(cat "$TMP/scrapes") <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
n, took, size, rate = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6])
mpps = r['packets'] / (r['elapsed_s'] or 1) / 1e6
print(f'| {"yes" if sys.argv[2] == "1" else "no"} | {mpps:.3f} | {n} ({rate:.1f}/s) | '
      f'{took * 1e3:.1f} ms | {size / 1e6:.1f} MB |')
PY
}

echo "# metrics-bench $(date -u +%Y-%m-%dT%H:%MZ) on $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?); $TENANTS tenants, $FLOWS flows, $SCRAPES scrapes/s, ${SECS} s runs"
echo "| scraped | Mpps read | scrapes | mean scrape | size |"
echo "|---|---|---|---|---|"
: > "$TMP/rows"
for k in $(seq "$ROUNDS"); do
	for s in 1 0; do
		run "$s" | tee -a "$TMP/rows"
	done
done
med() { grep "^| $1 |" "$TMP/rows" | awk -F'|' '{ print $3 }' | sort -n |
	awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : 0 }'; }
y=$(med yes)
n=$(med no)
echo "median Mpps: scraped $y, not scraped $n; scraped / not $(echo "$y $n" |
	awk '{ printf "%.4f", ($2 > 0 ? $1 / $2 : 0) }') (target > 0.99)"
