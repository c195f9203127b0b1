#!/usr/bin/env python3
"""turns.py - running DPDK programs take turns on the forwarding core, and their rates.

usage: perf/turns.py SLICE_MS SECONDS PREFIX_A PID_A PREFIX_B PID_B [PREFIX PID ...]

The programs were started on the same lcores and forward the same capture. Each runs for
SLICE_MS milliseconds in its turn while the others are stopped (SIGSTOP), round after round,
for SECONDS in all; port 0's received packets are read over each program's DPDK telemetry
socket (/ethdev/stats,0) at the start and the end of each of its turns. A shared host's
slowdowns last longer than a round, so all programs meet the same ones: their ratios hold
where back-to-back runs of seconds each disagree by tens of percent. Prints one line per
program after the first (A):
  A_pps X_pps ratio_of_rates median_of_round_ratios rounds
(rates in frames per second of the program's own turns; a round ratio is X's turn over A's
turn in one round). All programs are left running (continued) at the end, whatever happens.
"""
import json
import os
import signal
import socket
import sys
import time

SETTLE_S = 0.02  # after SIGCONT, before the first read: the program is back on the core


def connect(prefix):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect("/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix)
    s.recv(4096)  # the greeting
    return s


def rx_packets(s):
    s.send(b"/ethdev/stats,0")
    return int(json.loads(s.recv(1 << 16))["/ethdev/stats"]["ipackets"])


def main(argv):
    if len(argv) < 7 or len(argv) % 2 == 0:
        sys.stderr.write(__doc__)
        return 2
    slice_s, secs = float(argv[1]) / 1000, float(argv[2])
    progs = [(argv[i], int(argv[i + 1])) for i in range(3, len(argv), 2)]
    n = len(progs)
    socks = [connect(p) for p, _ in progs]
    pkts, spent, rounds = [0] * n, [0.0] * n, [[] for _ in range(n)]
    try:
        for _, pid in progs:
            os.kill(pid, signal.SIGSTOP)
        end = time.monotonic() + secs
        while time.monotonic() < end:
            rate = [0.0] * n
            for i, (_, pid) in enumerate(progs):
                os.kill(pid, signal.SIGCONT)
                time.sleep(SETTLE_S)
                a, t0 = rx_packets(socks[i]), time.monotonic()
                time.sleep(slice_s)
                b, t1 = rx_packets(socks[i]), time.monotonic()
                os.kill(pid, signal.SIGSTOP)
                pkts[i] += b - a
                spent[i] += t1 - t0
                rate[i] = (b - a) / (t1 - t0)
            for i in range(1, n):
                if rate[0] > 0:
                    rounds[i].append(rate[i] / rate[0])
    finally:
        for _, pid in progs:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    r = [pkts[i] / spent[i] if spent[i] else 0.0 for i in range(n)]
    for i in range(1, n):
        x = sorted(rounds[i])
        med = x[(len(x) - 1) // 2] if x else 0.0
        print("%.0f %.0f %.4f %.4f %d" % (r[0], r[i], r[i] / r[0] if r[0] else 0.0, med, len(x)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
