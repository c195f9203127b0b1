#!/bin/sh
# turns-ab.sh - A/B of sluice builds or policies against testpmd, all taking turns on the
# forwarding core (perf/turns.py): every program meets the same slowdowns of a shared host,
# so small differences between builds show where back-to-back runs only show noise.
#
# usage: perf/turns-ab.sh FLOWS SECONDS BUILD[:POLICY] [BUILD[:POLICY] ...]
#   BUILD: a build directory (its app/sluice runs); POLICY: dedicated (default), shared or
#   none (perf/bench-policy.sh), or the path of a policy file.
# environment: FRAMES (frames in the capture, cycling through the flows; default one per
#   flow), CAPTURE (a capture of FRAMES frames to use instead of generating one), TURNS
#   (milliseconds per turn, default 200), FWD_CORE (1), MAIN_CORE (0), GEN (sl-gen, default
#   build/tools/sl-gen). Every sluice gets --max-keys 2 x FLOWS (the key budget, or before the
#   budget the keys of profiles without max-keys: harmless to older builds). Runs as root; memory: one pool and one capture copy per program
#   (about 5 GB each at 1M frames).
# Prints, per sluice: testpmd and sluice frames per second of their own turns, their ratio,
# and the median of the per-round ratios.
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { sed -n '2,15p' "$0" >&2; exit 2; }
FLOWS=$1
SECS=$2
shift 2
FRAMES=${FRAMES:-$FLOWS}
TURNS=${TURNS:-200}
FWD=${FWD_CORE:-1}
MAIN=${MAIN_CORE:-0}
GEN=${GEN:-build/tools/sl-gen}
command -v dpdk-testpmd >/dev/null || { echo "turns-ab: dpdk-testpmd missing (apt-get install dpdk)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/turns-ab.XXXXXX")
PIDS=""
cleanup() { # the programs stop (SIGINT; SIGKILL after 10 s), then the files go
	if [ -n "$PIDS" ]; then
		kill -INT $PIDS 2>/dev/null || true
		(sleep 10; kill -KILL $PIDS) >/dev/null 2>&1 &
		killer=$!
		wait $PIDS 2>/dev/null || true
		kill $killer 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT

CAP=${CAPTURE:-$TMP/d.pcap}
[ -n "${CAPTURE:-}" ] || "$GEN" --out "$CAP" --distinct "$FLOWS" --count "$FRAMES" --size 64 --quiet
read -r mbufs mem <<EOF
$(perf/pool-size.sh "$FRAMES")
EOF
eal() { # file prefix
	echo "--no-huge -m $mem --no-shconf --no-pci -l $MAIN,$FWD --main-lcore $MAIN" \
	     "--log-level=lib.eal:error --log-level=pmd.net.pcap:error --file-prefix=$1" \
	     "--vdev=net_pcap0,rx_pcap=$CAP,infinite_rx=1 --vdev=net_null0,no-rx=1"
}

# shellcheck disable=SC2046
dpdk-testpmd $(eal tab-tp) -- -a --forward-mode=5tswap --nb-cores=1 --stats-period 1 \
	--total-num-mbufs="$mbufs" --no-flush-rx </dev/null >"$TMP/tp.log" 2>&1 &
PIDS=$!
ARGS="tab-tp $!"
k=0
for c in "$@"; do
	k=$((k + 1))
	b=${c%%:*}
	p=dedicated
	[ "$b" = "$c" ] || p=${c#*:}
	case $p in
	dedicated|shared|none) perf/bench-policy.sh "$FLOWS" "$p" >"$TMP/p$k.yaml" ;;
	*) cp "$p" "$TMP/p$k.yaml" ;;
	esac
	# shellcheck disable=SC2046
	"$b/app/sluice" $(eal "tab-s$k") -- --config "$TMP/p$k.yaml" --mbufs "$mbufs" \
		--max-keys $((2 * FLOWS)) \
		--stats-interval 1 >"$TMP/s$k.log" 2>&1 &
	PIDS="$PIDS $!"
	ARGS="$ARGS tab-s$k $!"
done

# every program forwarding (captures loaded, keys inserted), then 2 s of warm-up; a log may
# not exist yet while its program starts
waited=0
while :; do
	ok=1
	grep -Eq "Rx-pps: +[1-9]" "$TMP/tp.log" 2>/dev/null || ok=0
	for i in $(seq "$k"); do
		grep -Eq "forwarded [0-9.]+ Mbit/s [1-9]" "$TMP/s$i.log" 2>/dev/null || ok=0
	done
	[ $ok = 0 ] || break
	for p in $PIDS; do
		kill -0 "$p" 2>/dev/null || { echo "turns-ab: a program exited early:" >&2; tail -n 3 "$TMP"/*.log >&2; exit 1; }
	done
	waited=$((waited + 1))
	[ $waited -lt 300 ] || { echo "turns-ab: not forwarding after 300 s" >&2; exit 1; }
	sleep 1
done
sleep 2

echo "# turns-ab $(date -u +%Y-%m-%dT%H:%MZ), $FLOWS flows, $FRAMES frames, turns of $TURNS ms for $SECS s"
echo "| sluice | testpmd Mpps | sluice Mpps | ratio | median of round ratios | rounds |"
echo "|---|---|---|---|---|---|"
# shellcheck disable=SC2086
perf/turns.py "$TURNS" "$SECS" $ARGS | {
	i=0
	while read -r tp sl ratio med rounds; do
		i=$((i + 1))
		eval "c=\${$i}"
		awk -v c="$c" -v tp="$tp" -v sl="$sl" -v r="$ratio" -v m="$med" -v n="$rounds" \
			'BEGIN { printf "| %s | %.3f | %.3f | %.3f | %.3f | %d |\n", c, tp / 1e6, sl / 1e6, r, m, n }'
	done
}
