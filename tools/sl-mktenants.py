#!/usr/bin/env python3
# sl-mktenants.py - write a big policy file (N tenants, each its own /24 source, over a handful
# of shared and dedicated profiles) and, optionally, a capture that offers traffic to some of them.
"""
usage: sl-mktenants.py --tenants N --out FILE.yaml [--scale F] [--set PROFILE=RATE ...]
                       [--pcap FILE.pcap --gen SL-GEN [--traffic-tenants K] [--offer RATE]
                        [--duration S] [--size B]]

Tenant i (0-based) is named tNNNNN and matches src 10.(i // 256).(i % 256).0/24, so up to
65536 tenants; they cycle through the profiles below (shared and dedicated, bits and packets).
--scale F multiplies every rate (so two files differing only in rates are easy to make: the
reload keeps every tenant's and every table's state, nothing is reset); --set PROFILE=RATE
overrides one profile's rate (a rate as written in the file, e.g. 3mbit or 800pps).

With --pcap, sl-gen writes a capture of S seconds (default 1) offering RATE (default
200mbit) to the first K tenants (default 256), rounded up to whole blocks of 256 tenants: one
flow per block, source any host of 10.b.0.0/16, so every tenant of the block gets 1/256 of it.
The printed summary line gives the profile counts, for the test and the benchmark logs.
"""
import argparse
import subprocess
import sys

# name, mode, rate in kbit or pps (scaled), burst, extra fields. Kept to a handful: reloads
# of N tenants are what is measured, not N profiles.
PROFILES = [
    ("gold", "shared", 50000, "kbit", "200000B", "exceed: drop"),
    ("silver", "shared", 10000, "kbit", "50000B", "exceed: drop"),
    ("bronze", "shared", 2000, "kbit", "20000B", "exceed: mark, dscp: 10"),
    ("web", "shared", 5000, "pps", "500pkt", "exceed: drop"),
    ("hosts", "dedicated", 1000, "kbit", "10000B",
     "key: src-ip, exceed: drop, idle: 30s, max-keys: 65536"),
    ("flows", "dedicated", 500, "kbit", "8000B",
     "key: 5-tuple, exceed: drop, idle: 30s, max-keys: 65536, when-full: drop"),
]
# which profile tenant i uses: i % len(CYCLE)
CYCLE = ["silver", "gold", "silver", "bronze", "web", "hosts", "silver", "bronze", "flows"]
MAX_TENANTS = 65536
BLOCK = 256


def rate_text(amount, unit, scale):
    v = amount * scale
    if v <= 0:
        raise ValueError("rates must stay above 0 (scale %g)" % scale)
    # whole numbers where possible, else up to 6 decimals without trailing zeros
    s = ("%d" % v) if v == int(v) else ("%.6f" % v).rstrip("0").rstrip(".")
    return s + unit


def profile_lines(scale=1.0, overrides=None):
    """The profiles as YAML lines under 'profiles:' (for other tools: tests import this)."""
    overrides = overrides or {}
    return ["  %s: { mode: %s, rate: %s, burst: %s, %s }" % (
        name, mode, overrides.get(name) or rate_text(amount, unit, scale), burst, extra)
        for name, mode, amount, unit, burst, extra in PROFILES]


def tenant_lines(n):
    """The n tenants as YAML lines under 'tenants:'."""
    return ["  - { name: t%05d, profile: %s, match: { src: 10.%d.%d.0/24 } }" % (
        i, CYCLE[i % len(CYCLE)], i // 256, i % 256) for i in range(n)]


def policy(n, scale, overrides):
    lines = ["# %d tenants written by tools/sl-mktenants.py (rates x %g)" % (n, scale),
             "sluice: 1", "unmatched: pass", "profiles:"]
    lines += profile_lines(scale, overrides)
    lines.append("tenants:")
    lines += tenant_lines(n)
    return "\n".join(lines) + "\n"


def gen_capture(a):
    blocks = (min(a.traffic_tenants, a.tenants) + BLOCK - 1) // BLOCK
    cmd = [a.gen, "--out", a.pcap, "--duration", str(a.duration), "--seed", "11", "--quiet"]
    for b in range(blocks):
        cmd += ["--flow", "src=10.%d.0.0/16,dst=192.0.2.1,proto=udp,rate=%s,size=%d" % (
            b, a.offer, a.size)]
    return subprocess.run(cmd).returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--set", action="append", default=[], metavar="PROFILE=RATE")
    ap.add_argument("--pcap")
    ap.add_argument("--gen", default="build/tools/sl-gen")
    ap.add_argument("--traffic-tenants", type=int, default=BLOCK)
    ap.add_argument("--offer", default="200mbit")
    ap.add_argument("--duration", type=float, default=1.0)
    ap.add_argument("--size", type=int, default=256)
    a = ap.parse_args()
    if not 1 <= a.tenants <= MAX_TENANTS:
        ap.error("--tenants: 1..%d" % MAX_TENANTS)
    if a.traffic_tenants < 1:
        ap.error("--traffic-tenants: at least 1")
    names = {p[0] for p in PROFILES}
    overrides = {}
    for s in a.set:
        name, eq, rate = s.partition("=")
        if not eq or name not in names or not rate:
            ap.error("--set %s: expected PROFILE=RATE with PROFILE one of %s" % (
                s, ", ".join(sorted(names))))
        overrides[name] = rate
    try:
        text = policy(a.tenants, a.scale, overrides)
    except ValueError as e:
        ap.error(str(e))
    with open(a.out, "w") as f:
        f.write(text)
    used = {}
    for i in range(a.tenants):
        used[CYCLE[i % len(CYCLE)]] = used.get(CYCLE[i % len(CYCLE)], 0) + 1
    print("sl-mktenants: %s: %d tenants, %d profiles (%s), rates x %g" % (
        a.out, a.tenants, len(PROFILES), ", ".join("%s %d" % kv for kv in sorted(used.items())),
        a.scale))
    if a.pcap:
        return gen_capture(a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
