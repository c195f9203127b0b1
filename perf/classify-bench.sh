#!/bin/sh
# classify-bench.sh - tenant classification alone (perf/sl-classify-bench): sluice's classifier,
# rte_acl (AVX2) and the linear first-match scan on the same policy and trace, for policies of
# N tenants; prints a Markdown table. Every run checks that the three agree packet by packet.
#
# usage: perf/classify-bench.sh [TENANTS...]        (default: 1 100 1000 10000 100000)
#
# For each N: tools/sl-mixtenants.py --tenants N --out P.yaml --pcap T.pcap --flows 65536
# --mode shared (mixed match shapes); without that tool, tools/sl-mktenants.py (one shape, src
# /24; at most 65536 tenants; its capture is sized to about 2^18 frames with --offer, and offers
# traffic to at most the first 16384 tenants: sl-gen takes 64 flows). Then, pinned:
#   taskset -c $CPU build/perf/sl-classify-bench --no-huge -m $MEM --no-shconf --no-pci -l $CPU
#     --log-level=error --no-telemetry -- --config P.yaml --in T.pcap --rounds $ROUNDS
# (--no-acl above ACL_MAX tenants: rte_acl's build takes seconds to minutes and GBs there).
# First, unless SELFCHECK=0, a policy using every match field (vlan, inner-vlan, port, IPv4
# and IPv6 prefixes, proto, port ranges, lists of blocks) against a capture of tagged, QinQ,
# IPv6, ICMP, fragmented and malformed frames, on port 0 and port 1: all three must agree.
#
# environment: BUILD (default build), CPU (core to pin to, default 1), ROUNDS (default 5),
#              ACL_MAX (largest tenant count rte_acl is run for, default 10000), MEM (EAL -m in
#              MB, default 4096), SELFCHECK (default 1), GEN (mixtenants | mktenants: force the
#              generator; default mixtenants when tools/sl-mixtenants.py exists),
#              OUT (raw outputs, default $BUILD/perf/classify-bench-<date>.txt)
# Exit status 1 if any run failed or any packet's tenant differed between the methods.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build}
cpu=${CPU:-1}
rounds=${ROUNDS:-5}
acl_max=${ACL_MAX:-10000}
mem=${MEM:-4096}
selfcheck=${SELFCHECK:-1}
stamp=$(date -u +%Y%m%d-%H%M%S)
out=${OUT:-$build/perf/classify-bench-$stamp.txt}
bench=$build/perf/sl-classify-bench
if [ $# -eq 0 ]; then
	set -- 1 100 1000 10000 100000
fi
if [ -n "${GEN:-}" ]; then
	gen=$GEN
elif [ -f tools/sl-mixtenants.py ]; then
	gen=mixtenants
else
	gen=mktenants
fi

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" >/dev/null
fi
ninja -C "$build" perf/sl-classify-bench tools/sl-gen >&2
[ "$(id -u)" = 0 ] || { echo "classify-bench: run as root (DPDK)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/classify-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
: >"$out"

eal="--no-huge -m $mem --no-shconf --no-pci -l $cpu --log-level=error --no-telemetry"
status=0

# run_bench LABEL ARGS...: the bench pinned, output appended to $out and kept in $tmp/run.txt
run_bench() {
	label=$1
	shift
	echo "classify-bench: $label: taskset -c $cpu $bench $eal -- $*" >&2
	echo "### $label: taskset -c $cpu $bench $eal -- $*" >>"$out"
	rc=0
	start=$(date +%s)
	# shellcheck disable=SC2086
	taskset -c "$cpu" "$bench" $eal -- "$@" >"$tmp/run.txt" 2>&1 || rc=$?
	end=$(date +%s)
	cat "$tmp/run.txt" >>"$out"
	echo "(exit status $rc, $((end - start)) s)" >>"$out"
	if [ "$rc" -ne 0 ]; then
		echo "classify-bench: $label: exit status $rc:" >&2
		grep -v '^RESULT' "$tmp/run.txt" | tail -n 20 >&2
		status=1
	fi
	return 0
}

# value KEY: KEY=... of the RESULT line of the last run ('?' when missing)
value() {
	sed -n "s/^RESULT .*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" "$tmp/run.txt" | head -n 1 |
		grep . || echo '?'
}

if [ "$selfcheck" != 0 ]; then
	cat >"$tmp/mix.yaml" <<'EOF'
sluice: 1
unmatched: pass
profiles:
  p: { mode: shared, rate: 10mbit, burst: 10000B, exceed: drop }
tenants:
  - { name: qinq, profile: p, match: { vlan: 200, inner-vlan: 7 } }
  - { name: port1, profile: p, match: { port: 1 } }
  - { name: v100web, profile: p, match: { vlan: 100, proto: tcp, dst-port: 80-443 } }
  - { name: lab6, profile: p, match: [ { src: "2001:db8:100::/48", proto: tcp }, { dst: "2001:db8:0:1::/64", src-port: 1000-2000 } ] }
  - { name: v6host, profile: p, match: { src: "2001:db8:100::1" } }
  - { name: dns, profile: p, match: { dst: 192.0.2.53, proto: udp, dst-port: 53, src-port: 1024-65535 } }
  - { name: udp-hi, profile: p, match: { src: 10.1.0.0/16, proto: udp, src-port: 30000-65535 } }
  - { name: udp-lo, profile: p, match: { src: 10.1.0.0/16, proto: udp, src-port: 1024-29999 } }
  - { name: icmp, profile: p, match: { proto: icmp } }
  - { name: icmp6, profile: p, match: { src: "::/0", proto: 58 } }
  - { name: v4only, profile: p, match: { src: 10.2.0.0/15 } }
  - { name: v100, profile: p, match: { vlan: 100 } }
  - { name: odd, profile: p, match: [ { dst: 198.51.100.0/25, dst-port: 9 }, { dst: 198.51.100.128/25, proto: 17 }, { inner-vlan: 8 } ] }
  - { name: frag0, profile: p, match: { dst: 198.51.100.0/24, proto: tcp, dst-port: 0-12 } }
  - { name: any4, profile: p, match: { src: 0.0.0.0/0, proto: tcp } }
  - { name: nonip, profile: p, match: { proto: 0 } }
EOF
	# a02:1::/64 has the first 32 bits of 10.2.0.1 and 2001:db8:300::/64 is IPv6 TCP: only the
	# family bits keep them from v4only and any4; TCP fragments after the first carry no ports
	# (dst-port 0-12 must not hold for them)
	"$build/tools/sl-gen" --out "$tmp/mix.pcap" --duration 0.2 --seed 3 --malformed-frac 0.01 \
		--flow src=10.1.0.0/16,proto=udp,rate=20mbit,size=64-200 \
		--flow src=10.1.0.0/16,proto=udp,sport=1024-65535,rate=20mbit \
		--flow src=10.2.0.0/16,dst=192.0.2.53,proto=udp,dport=53,sport=1-2000,rate=20mbit \
		--flow src=10.3.0.0/16,dst=192.0.2.53,proto=udp,dport=53,sport=rand,rate=20mbit \
		--flow src=10.9.0.0/16,proto=tcp,dport=1-1000,vlan=100,rate=20mbit \
		--flow src=10.9.0.0/16,proto=udp,dport=80,vlan=100,rate=20mbit \
		--flow src=10.9.0.0/16,proto=udp,vlan=200,vlan2=7,rate=20mbit \
		--flow src=10.9.0.0/16,proto=udp,vlan=200,vlan2=8,rate=20mbit \
		--flow src=10.9.0.0/16,proto=udp,vlan=201,vlan2=7,rate=20mbit \
		--flow src=2001:db8:100::/120,dst=2001:db8::9,proto=tcp,rate=20mbit \
		--flow src=2001:db8:100::/126,dst=2001:db8:0:1::/64,proto=udp,sport=900-2100,rate=20mbit \
		--flow src=2001:db8:200::/64,dst=2001:db8:0:1::/64,proto=udp,sport=900-2100,v6ext=2,rate=20mbit \
		--flow src=2001:db8:200::/64,proto=icmp,rate=20mbit \
		--flow src=2001:db8:300::/64,proto=tcp,rate=20mbit \
		--flow src=a02:1::/64,proto=udp,rate=20mbit \
		--flow src=172.16.0.0/12,proto=icmp,rate=20mbit \
		--flow src=172.16.0.0/12,dst=198.51.100.0/24,proto=udp,dport=1-20,rate=20mbit \
		--flow src=172.16.0.0/12,dst=198.51.100.0/24,proto=tcp,dport=5-12,frag=0.3,rate=20mbit \
		--flow src=172.16.0.0/12,proto=47,rate=20mbit >&2
	for port in 0 1; do
		run_bench "self-check, port $port" --config "$tmp/mix.yaml" --in "$tmp/mix.pcap" \
			--port "$port" --rounds 1 --counts
		if [ "$(value disagree)" != 0 ]; then
			echo "classify-bench: self-check on port $port failed: see $out" >&2
			status=1
		fi
	done
fi

date=$(date -u '+%Y-%m-%d %H:%M UTC')
model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- lib perf tools 2>/dev/null)" ]; then
	commit="$commit (lib/, perf/ or tools/ modified)"
fi
load=$(cut -d ' ' -f 1-3 /proc/loadavg)
rows=$tmp/rows.md
notes=$tmp/notes.md
: >"$rows"
: >"$notes"

for n in "$@"; do
	case $n in
	'' | *[!0-9]*)
		echo "classify-bench: $n: not a tenant count" >&2
		exit 2
		;;
	esac
	pol=$tmp/p$n.yaml
	cap=$tmp/t$n.pcap
	if [ "$gen" = mixtenants ]; then
		gcmd="tools/sl-mixtenants.py --tenants $n --out $pol --pcap $cap --flows 65536 --mode shared"
	else
		if [ "$n" -gt 65536 ]; then
			echo "- $n tenants: skipped (tools/sl-mktenants.py writes at most 65536)" >>"$notes"
			continue
		fi
		tt=$((n < 16384 ? n : 16384))
		blocks=$(((tt + 255) / 256))
		# about 2^18 frames of 256 bytes in the 1 s capture, whatever the number of flows
		offer=$((262144 * 256 * 8 / blocks))bit
		gcmd="tools/sl-mktenants.py --tenants $n --out $pol --pcap $cap --gen $build/tools/sl-gen --traffic-tenants $tt --offer $offer"
	fi
	echo "classify-bench: $n tenants: $gcmd" >&2
	echo "### $n tenants: $gcmd" >>"$out"
	# shellcheck disable=SC2086
	if ! python3 $gcmd >>"$out" 2>&1; then
		echo "classify-bench: $n tenants: the generator failed (see $out)" >&2
		echo "- $n tenants: the generator failed" >>"$notes"
		status=1
		continue
	fi
	acl_opt=
	if [ "$n" -gt "$acl_max" ]; then
		acl_opt=--no-acl
		echo "- $n tenants: rte_acl not run (more than ACL_MAX=$acl_max tenants)" >>"$notes"
	fi
	# shellcheck disable=SC2086
	run_bench "$n tenants" --config "$pol" --in "$cap" --rounds "$rounds" $acl_opt
	rm -f "$pol" "$cap"
	if ! grep -q '^RESULT' "$tmp/run.txt"; then
		echo "| $n | | | failed | | | | | | | |" >>"$rows"
		echo "- $n tenants: the benchmark failed (see $out)" >>"$notes"
		continue
	fi
	s=$(value sluice_cpp)
	a=$(value acl_cpp)
	ratio=-
	if [ "$a" != - ] && [ "$a" != '?' ]; then
		ratio=$(awk -v a="$a" -v s="$s" 'BEGIN { printf "%.2f", a / s }')
	fi
	lin=$(value linear_cpp)
	lp=$(value linear_packets)
	pk=$(value packets)
	if [ "$lp" != "$pk" ] && [ "$lin" != - ]; then
		lin="$lin ($lp pkts)"
	fi
	d=$(value disagree)
	if [ "$d" != 0 ]; then
		echo "- $n tenants: $d packets classified differently (see $out)" >>"$notes"
		status=1
	fi
	echo "| $n | $(value blocks) | $(value shapes) | $s | $a | $ratio | $lin | $(value sluice_build_ms) | $(value acl_build_ms) | $(value sluice_mb) | $(value acl_mb) |" >>"$rows"
	acl_cpu=$(value acl_build_cpu_ms)
	echo "- $n tenants: $pk packets; sluice probes $(value mean_probes) shapes per packet (at most $(value max_probes))$( [ "$acl_cpu" = - ] || echo "; rte_acl build CPU time $acl_cpu ms"); run took $(sed -n 's/^(exit status [0-9]*, \([0-9]*\) s)$/\1/p' "$out" | tail -n 1) s" >>"$notes"
done

cat <<EOF
### Classification alone: $date, $model, commit $commit

- command: \`perf/classify-bench.sh $*\` (generator: $gen; ROUNDS=$rounds, ACL_MAX=$acl_max, CPU=$cpu); raw output in \`$out\`
- machine: $model, $(nproc) CPUs, $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM, load average at start $load
- cycles per packet: median of $rounds rounds over the whole trace (chunks switched out or slower than 2x the median chunk left out); rte_acl in bursts of 64 (AVX2); memory: sluice \`sl_classifier_info\` bytes, rte_acl its DPDK heap (rules + run-time trie)

| tenants | blocks | shapes | sluice cycles/pkt | rte_acl cycles/pkt | ratio acl/sluice | linear cycles/pkt | sluice build ms | rte_acl build ms | sluice MB | rte_acl MB |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$(cat "$rows")

$(cat "$notes")
EOF
exit "$status"
