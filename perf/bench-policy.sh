#!/bin/sh
# bench-policy.sh - the policy of the forwarding benchmarks (fwd-bench, mode-bench): one
# tenant, a dedicated per-5-tuple profile far above what one flow is offered, so every frame
# is policed and forwarded; the table sized as an operator would, twice the flows.
# usage: perf/bench-policy.sh FLOWS [dedicated|shared|none] > policy.yaml
#   shared: the same tenant with one bucket for all its traffic (no per-key table);
#   none: no tenant (every frame parsed, classified to no tenant and forwarded as unmatched).
#   Run one after another they split sluice's cost into its parts.
set -eu
rate=1gbit	# per flow: far above what one flow of the capture is offered
case ${2:-dedicated} in
dedicated) mode="mode: dedicated
    key: 5-tuple
    max-keys: $(( $1 * 2 ))" ;;
shared) mode="mode: shared" rate=400gbit ;;	# above any one core's 64-byte rate
none) printf 'sluice: 1\nunmatched: pass\ntenants: []\n'; exit 0 ;;
*) echo "bench-policy: mode must be dedicated, shared or none" >&2; exit 2 ;;
esac
cat <<YAML
sluice: 1
unmatched: pass
profiles:
  per-flow:
    $mode
    rate: $rate
    burst: 100000B
    exceed: drop
tenants:
  - name: all
    profile: per-flow
YAML
