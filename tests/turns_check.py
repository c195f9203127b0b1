#!/usr/bin/env python3
"""turns_check.py - smoke test of the forwarding benchmark's turns (perf/turns-ab.sh, perf/turns.py).

usage: turns_check.py BUILD_DIR SL_GEN

testpmd and two sluice policies (dedicated, shared) forward one small capture in turns of
100 ms for 3 s; each row of the result must name its program and show both frame rates
above zero, with the ratio their quotient. Checks the tooling, not the figures: no rate
threshold. Exit status 0 pass, 1 fail, 77 skipped (not root, or no dpdk-testpmd).
"""
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    build, gen = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    if os.geteuid() != 0 or not shutil.which("dpdk-testpmd"):
        print("turns_check: skipped (needs root and dpdk-testpmd)")
        return 77
    env = dict(os.environ, FRAMES="2000", TURNS="100", GEN=gen)
    cmd = [os.path.join(ROOT, "perf", "turns-ab.sh"), "1000", "3", build, build + ":shared"]
    print("+ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    sys.stdout.write(p.stdout)
    sys.stdout.write(p.stderr)
    failures = []
    if p.returncode:
        failures.append("turns-ab.sh exited %d" % p.returncode)
    rows = [r for r in p.stdout.splitlines() if r.startswith("| " + build)]
    if len(rows) != 2:
        failures.append("%d result rows, expected 2" % len(rows))
    for r in rows:
        f = [c.strip() for c in r.strip("|").split("|")]
        tp, sl, ratio, rounds = float(f[1]), float(f[2]), float(f[3]), int(f[5])
        if tp <= 0 or sl <= 0 or rounds < 1:
            failures.append("%s: testpmd %.3f Mpps, sluice %.3f Mpps, %d rounds" % (f[0], tp, sl, rounds))
        elif abs(ratio - sl / tp) > 0.002:
            failures.append("%s: ratio %.3f is not %.3f / %.3f" % (f[0], ratio, sl, tp))
    left = [a for a in subprocess.run(["ps", "-eo", "args"], capture_output=True,
                                      text=True).stdout.splitlines()
            if re.search(r"--file-prefix=tab-", a)]
    if left:
        failures.append("programs left running after turns-ab.sh: %s" % left)
    for f in failures:
        print("FAIL: " + f)
    print("turns_check: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
