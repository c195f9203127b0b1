#!/usr/bin/env python3
# isolate_check.py - a worker that shares its core is seen losing it, and tools/sl-isolate keeps
# a core for a command and gives every thread its affinity back.
"""
usage: isolate_check.py SLUICE SL_GEN SL_ISOLATE

1. sluice in worker mode with its worker on CPU 0 beside a busy loop pinned there (the kernel
   shares the core by slices of milliseconds): 2 s in, the metrics must count at least 5 losses
   and 0.1 s for the worker, and the final lines must say it lost its core many times, for a
   total of the order of the time the loop ran.
2. sl-isolate 0 over a probe: a thread free to run anywhere (a sleeper) is moved off CPU 0
   while the probe runs and given all CPUs back after; a thread pinned to CPU 1 is left as it
   was; the probe itself starts off CPU 0.
Root and 2 CPUs or more. Exit status 0 pass, 1 fail, 77 skipped.
"""
import os
import re
import subprocess
import sys
import socket
import tempfile
import time
import urllib.request

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        FAILS.append(what)


def stalls(sluice, sl_gen, tmp):
    pcap = os.path.join(tmp, "t.pcap")
    pol = os.path.join(tmp, "p.yaml")
    with open(pol, "w") as f:
        f.write("sluice: 1\nprofiles:\n  p: { mode: shared, rate: 1gbit, burst: 1MB, "
                "exceed: drop }\ntenants:\n  - { name: t, profile: p, match: {} }\n")
    subprocess.run([sl_gen, "--out", pcap, "--duration", "0.02", "--flow",
                    "src=10.0.0.0/24,proto=udp,rate=100mbit,size=64"], check=True,
                   capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hog = subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])
    scraped = None
    try:
        proc = subprocess.Popen([sluice, "--no-huge", "-m", "1024", "--no-shconf", "--no-pci",
                                 "--no-telemetry", "--lcores=0@1,1@1,2@0",
                                 "--file-prefix=sluice-isolate-check",
                                 "--log-level=lib.eal:error",
                                 "--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap,
                                 "--vdev=net_null0,no-rx=1", "--", "--config", pol,
                                 "--workers", "1", "--duration", "3", "--stats-interval",
                                 "1000", "--metrics", "127.0.0.1:%d" % port],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(100):	# the endpoint comes up as forwarding starts
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5)
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(2)
        try:
            scraped = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                             timeout=5).read().decode()
        except OSError as e:
            check(False, "a scrape 2 s into forwarding (%s)" % e)
        out, err = proc.communicate(timeout=90)
    finally:
        hog.kill()
        hog.wait()
    check(proc.returncode == 0, "sluice beside a busy loop exits 0 (%d: %s)" %
          (proc.returncode, err[-300:]))
    if scraped is not None:
        w = re.search(r'^sluice_lcore_stalls_total\{lcore="2",role="worker"\} (\d+)$', scraped,
                      re.M)
        ws = re.search(r'^sluice_lcore_stalled_seconds_total\{lcore="2",role="worker"\} '
                       r'([0-9.]+)$', scraped, re.M)
        check(w is not None and ws is not None, "the worker's core losses are metrics")
        if w and ws:
            print("     metrics 2 s in: %s times, %s s" % (w.group(1), ws.group(1)))
            check(int(w.group(1)) >= 5 and float(ws.group(1)) >= 0.1,
                  "2 s in, at least 5 losses and 0.1 s")
    m = re.search(r"lost their core (\d+) time\(s\) for over 1 ms, ([0-9.]+) ms in all",
                  out + err)
    check(m is not None, "the final lines say the worker lost its core")
    if m:
        n, ms = int(m.group(1)), float(m.group(2))
        print("     %d times, %.1f ms in all over 3 s" % (n, ms))
        # sharing the core half and half by slices of a few ms: hundreds of losses, a second
        # or more in all; 10 and 300 ms are far below what a fair share gives
        check(n >= 10, "the worker lost its core at least 10 times (%d)" % n)
        check(ms >= 300, "for at least 300 ms in all (%.1f)" % ms)


PROBE = """
import os, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
print(sorted(os.sched_getaffinity(0)), sorted(os.sched_getaffinity(a)),
      sorted(os.sched_getaffinity(b)))
"""


def isolate(sl_isolate, online):
    free = subprocess.Popen(["sleep", "60"])
    pinned = subprocess.Popen(["taskset", "-c", "1", "sleep", "60"])
    try:
        os.sched_setaffinity(free.pid, online)
        r = subprocess.run([sl_isolate, "0", sys.executable, "-c", PROBE, str(free.pid),
                            str(pinned.pid)], capture_output=True, text=True, timeout=60)
        check(r.returncode == 0, "sl-isolate runs the probe, exit 0 (%d: %s)" %
              (r.returncode, r.stderr[-300:]))
        check("CPU(s) 0 kept" in r.stderr, "sl-isolate says what it moved")
        rest = sorted(online - {0})
        want = "%s %s [1]" % (rest, rest)
        check(r.stdout.strip() == want, "during: probe, sleeper off CPU 0, pinned one on 1 "
              "(%r, want %r)" % (r.stdout.strip(), want))
        check(os.sched_getaffinity(free.pid) == online,
              "after: the sleeper has every CPU back (%s)" % sorted(os.sched_getaffinity(free.pid)))
        check(os.sched_getaffinity(pinned.pid) == {1},
              "after: the pinned one is still on CPU 1 (%s)" %
              sorted(os.sched_getaffinity(pinned.pid)))
        r = subprocess.run([sl_isolate, "0", "true"], capture_output=True, text=True)
        check(r.returncode == 0, "sl-isolate 0 true: exit 0")
        r = subprocess.run([sl_isolate, "0", "false"], capture_output=True, text=True)
        check(r.returncode == 1, "sl-isolate 0 false: the command's exit status 1")
        r = subprocess.run([sl_isolate, ",".join(str(c) for c in sorted(online)), "true"],
                           capture_output=True, text=True)
        check(r.returncode == 2 and "leave one" in r.stderr,
              "keeping every CPU is refused (exit 2)")
    finally:
        for p in (free, pinned):
            p.kill()
            p.wait()


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    online = os.sched_getaffinity(0)
    if os.geteuid() != 0:
        print("SKIP: needs root (DPDK without hugepages, moving other threads)")
        return 77
    if not {0, 1} <= online:
        print("SKIP: needs CPUs 0 and 1 (has %s)" % sorted(online))
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        stalls(sys.argv[1], sys.argv[2], tmp)
    isolate(sys.argv[3], online)
    print("%d failure(s)" % len(FAILS))
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
