#!/bin/sh
# run_fuzz.sh TARGET WORKDIR CORPUS... : fuzz TARGET for $SLUICE_FUZZ_SECONDS seconds (60 by
# default) from the CORPUS directories, which are read, never written: new inputs go to
# WORKDIR/new, crashes to WORKDIR/crash-*, the log to WORKDIR/fuzz.log. Exits non-zero when
# the target crashed, leaked, timed out or ran out of memory.
set -eu
target=$1 work=$2
shift 2
secs=${SLUICE_FUZZ_SECONDS:-60}
mkdir -p "$work/new"
# flags pass through; a corpus directory that is not there (an empty one is not committed)
# is left out
for a do
	shift
	case $a in -*) ;; *) [ -d "$a" ] || continue ;; esac
	set -- "$@" "$a"
done
# libFuzzer stops itself at -max_total_time; timeout(1) only guards against a hang
timeout -k 10 $((secs + 300)) "$target" -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 \
	-print_final_stats=1 -artifact_prefix="$work/" "$work/new" "$@" > "$work/fuzz.log" 2>&1 &&
	rc=0 || rc=$?
tail -n 40 "$work/fuzz.log"
exit $rc
