#!/bin/sh
# bench-policy.sh - the policy of the forwarding benchmarks (fwd-bench, mode-bench): one
# tenant, a dedicated per-5-tuple profile far above what one flow is offered, so every frame
# is policed and forwarded; the table sized as an operator would, twice the flows.
# usage: perf/bench-policy.sh FLOWS > policy.yaml
set -eu
cat <<YAML
sluice: 1
unmatched: pass
profiles:
  per-flow:
    mode: dedicated
    key: 5-tuple
    rate: 1gbit
    burst: 100000B
    exceed: drop
    max-keys: $(( $1 * 2 ))
tenants:
  - name: all
    profile: per-flow
YAML
