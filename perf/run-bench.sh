#!/bin/sh
# run-bench.sh - build and run the data-path micro-benchmark (perf/sl-bench) pinned to one core,
# keep its output in a file and print a markdown block ready to paste into perf/RESULTS.md.
#
# usage: perf/run-bench.sh [sl-bench options]     (default: the full set, 5 runs)
# environment: BUILD (build directory, default build), CPU (core to pin to, default 1),
#              OUT (output file, default $BUILD/perf/sl-bench-<date>.txt)
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${BUILD:-build}
cpu=${CPU:-1}
stamp=$(date -u +%Y%m%d-%H%M%S)
out=${OUT:-$build/perf/sl-bench-$stamp.txt}

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" >/dev/null
fi
ninja -C "$build" perf/sl-bench >&2

cmd="taskset -c $cpu $build/perf/sl-bench${*:+ $*}"
date=$(date -u '+%Y-%m-%d %H:%M UTC')
model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
load=$(cut -d ' ' -f 1-3 /proc/loadavg)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain -- lib perf 2>/dev/null)" ]; then
	commit="$commit (lib/ or perf/ modified)"
fi

echo "sl-bench: running '$cmd', output in $out" >&2
status=0
taskset -c "$cpu" "$build/perf/sl-bench" "$@" >"$out" || status=$?

cat <<EOF
### Run of $date

- command: \`perf/run-bench.sh${*:+ $*}\`, i.e. \`$cmd\`
- date: $date, commit $commit
- machine: $model, $(nproc) CPUs (nproc), $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM, load average at start $load
- exit status: $status$( [ "$status" -eq 0 ] || echo " (consistency checks failed: see stderr)" )

\`\`\`text
$(cat "$out")
\`\`\`
EOF
exit "$status"
