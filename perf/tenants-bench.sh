#!/bin/sh
# tenants-bench.sh - what thousands of tenants cost a forwarding core: the same capture (FLOWS
# distinct 64-byte flows spread evenly over the tenants) through sluice with N tenants of mixed
# match shapes (tools/sl-mixtenants.py: IPv4 and IPv6 prefixes, VLANs, QinQ, dst + port
# ranges, dual-stack lists, a catch-all last) and with one tenant matching everything, the
# same dedicated per-5-tuple profile (so the same FLOWS keys), testpmd 5tswap as the ceiling,
# all three taking turns on the forwarding core (perf/turns-ab.sh).
#
# usage: perf/tenants-bench.sh [TENANTS...]      (default: 10000 100000)
# environment: FLOWS (100000), SECONDS_PER_RUN (60), BUILD (build), TURNS, FWD_CORE,
#              MAIN_CORE as for perf/turns-ab.sh. Runs as root.
# Prints per N: testpmd, one-tenant and N-tenant rates (Mpps of their own turns), the ratio
# N-tenant / one-tenant (the target: 0.95 at 10,000 tenants, 0.90 at 100,000), and the same
# from the medians of each one's per-round ratios to testpmd.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FLOWS=${FLOWS:-100000}
SECS=${SECONDS_PER_RUN:-60}
TENANTS=${*:-10000 100000}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/tenants-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

echo "# tenants-bench $(date -u +%Y-%m-%dT%H:%MZ) on $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null || echo ?); $FLOWS flows, ${SECS} s in turns"
echo "| tenants | shapes | testpmd Mpps | 1 tenant Mpps | N tenants Mpps | N / 1 | N / 1 from the medians of rounds |"
echo "|---|---|---|---|---|---|---|"
for n in $TENANTS; do
	python3 tools/sl-mixtenants.py --tenants "$n" --out "$TMP/mixed.yaml" \
		--one-tenant "$TMP/one.yaml" --pcap "$TMP/cap.pcap" --flows "$FLOWS" >/dev/null
	shapes=$("$BUILD/app/sluice" --check "$TMP/mixed.yaml" |
		sed -n 's/^classifier: .* in \([0-9]*\) shapes.*/\1/p')
	# turns-ab prints per program: name | testpmd | sluice | ratio | per-round ratios
	out=$(CAPTURE="$TMP/cap.pcap" FRAMES="$FLOWS" perf/turns-ab.sh "$FLOWS" "$SECS" \
		"$BUILD:$TMP/one.yaml" "$BUILD:$TMP/mixed.yaml")
	echo "$out" >&2
	echo "$out" | awk -F'|' -v n="$n" -v shapes="$shapes" '
		/^\| [^-s]/ && NF >= 7 { k++; tp[k] = $3; sl[k] = $4; med[k] = $6 }
		END {
			if (k < 2) { print "tenants-bench: turns-ab gave no figures" > "/dev/stderr"; exit 1 }
			printf "| %d | %s | %.3f | %.3f | %.3f | %.3f | %.3f |\n", n, shapes, tp[1], sl[1],
				sl[2], sl[2] / sl[1], med[2] / med[1]
		}'
done
