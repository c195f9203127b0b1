#!/bin/sh
# run_inputs.sh TARGET DIR... : run TARGET once on every file in the DIRs (libFuzzer runs the
# files given as arguments once each, and stops at the first that fails).
set -eu
target=$1
shift
for d do
	shift
	if [ -d "$d" ]; then set -- "$@" "$d"; fi	# an empty directory is not committed
done
files=$(find "$@" -type f | LC_ALL=C sort)
[ -n "$files" ] || { echo "no inputs in $*"; exit 1; }
# shellcheck disable=SC2086 # file names are libFuzzer's hashes and our own, without blanks
exec "$target" -timeout=20 -rss_limit_mb=4096 $files
