#!/bin/sh
# pool-size.sh - packet pool and EAL memory for replaying a capture of FRAMES frames from memory
# (net_pcap infinite_rx keeps every frame in an mbuf): prints "MBUFS MEM_MB", the same sizing
# for testpmd and sluice in every forwarding benchmark (fwd-bench, turns-ab).
# usage: perf/pool-size.sh FRAMES
set -eu
mbufs=$(($1 + $1 / 10 + 16384))
echo "$mbufs $(( (mbufs * 2304 * 2 / 1048576) + 1024 ))"	# the pool, and net_pcap's copy
