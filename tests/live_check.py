#!/usr/bin/env python3
# live_check.py - integration test of the live appliance: sluice polices a generated capture
# replayed at full speed (net_pcap infinite_rx -> net_null) and its report must match the policy.
"""
usage: live_check.py [SLUICE [SL_GEN]]   (defaults: build/app/sluice, build/tools/sl-gen)

Runs as root on a machine without hugepages or NICs (2 cores: -l 0-1). The replay offers every
tenant far more than its rate, so what conforms is exactly the budget: for a tenant of rate R
and burst B (per key for a dedicated profile of K keys), conform = K * (R * elapsed_s + B)
within 2%, and never above it by more than 2%. Checks too: exit status 0, every tenant in the
report, packets = conform + exceed, keys of the dedicated tenant, that a bad policy makes
sluice exit 1 with a file:line message, and that SIGINT during start-up ends sluice even when
it inherited SIGINT ignored, as a shell script's background job does. Exit status 0 pass,
1 fail, 77 skipped (not root).
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DURATION = 4
TOLERANCE = 0.02

# One table for the policy, the traffic and the expectations. rate/burst: bits or packets.
# Bursts hold 200 ms of rate: a forwarding lcore the kernel does not schedule for a while (a
# busy 2-core machine) loses no tokens unless the pause is longer than that.
TENANTS = [
    dict(name="bulk", unit="bits", rate=8e6, burst=200000 * 8, keys=1,
         profile="{ mode: shared, rate: 8mbit, burst: 200000B, exceed: drop }",
         match="{ src: 10.1.0.0/16, proto: udp }",
         flow="src=10.1.0.0/16,proto=udp,rate=50mbit,size=512"),
    dict(name="hosts", unit="bits", rate=800e3, burst=20000 * 8, keys=20,
         profile="{ mode: dedicated, key: src-ip, rate: 800kbit, burst: 20000B, exceed: drop }",
         match="{ src: 10.2.0.0/24 }",
         flow="src=10.2.0.0/24,keys=20,proto=udp,rate=20mbit,size=256"),
    dict(name="web", unit="packets", rate=5000, burst=1000, keys=1,
         profile="{ mode: shared, rate: 5kpps, burst: 1000pkt, exceed: drop }",
         match="{ src: 10.3.0.0/16, proto: tcp, dst-port: 443 }",
         flow="src=10.3.0.0/16,proto=tcp,dport=443,rate=10kpps,size=64"),
]
UNMATCHED_FLOW = "src=172.16.0.0/12,dst=192.0.2.200,proto=udp,rate=2mbit,size=128"

BAD_POLICY = """sluice: 1
profiles:
  p:
    mode: shared
    rate: 8mbps
    burst: 20000B
    exceed: drop
tenants:
  - { name: t, profile: p, match: {} }
"""
BAD_LINE = 5  # the line of "rate: 8mbps" (ambiguous unit, refused)


def policy():
    lines = ["sluice: 1", "unmatched: pass", "profiles:"]
    lines += ["  %s: %s" % (t["name"], t["profile"]) for t in TENANTS]
    lines.append("tenants:")
    lines += ["  - { name: %s, profile: %s, match: %s }" % (t["name"], t["name"], t["match"])
              for t in TENANTS]
    return "\n".join(lines) + "\n"


def eal_args(pcap):
    return ["--no-huge", "-m", "2048", "--no-shconf", "--no-pci", "--no-telemetry",
            "-l", "0-1", "--file-prefix=sluice-live-check", "--log-level=lib.eal:error",
            "--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1" % pcap, "--vdev=net_null0,no-rx=1"]


def run(cmd, timeout):
    print("+ " + " ".join(cmd), flush=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def show(p):
    sys.stdout.write(p.stdout[-6000:])
    sys.stdout.write(p.stderr[-4000:])


def check_tenant(t, r, elapsed, failures, rows):
    if r["packets"] != r["conform_packets"] + r["exceed_packets"]:
        failures.append("%s: packets %d != conform %d + exceed %d" % (
            t["name"], r["packets"], r["conform_packets"], r["exceed_packets"]))
    if r["bytes"] != r["conform_bytes"] + r["exceed_bytes"]:
        failures.append("%s: bytes %d != conform %d + exceed %d" % (
            t["name"], r["bytes"], r["conform_bytes"], r["exceed_bytes"]))
    if t["keys"] > 1 and r["keys"] != t["keys"]:
        failures.append("%s: %d keys, expected %d" % (t["name"], r["keys"], t["keys"]))
    bits = t["unit"] == "bits"
    got = r["conform_bytes"] * 8 if bits else r["conform_packets"]
    offered = r["bytes"] * 8 if bits else r["packets"]
    budget = t["keys"] * (t["rate"] * elapsed + t["burst"])
    diff = (got - budget) / budget if budget else 0
    rows.append((t["name"], t["unit"], budget, got, offered, diff))
    if offered < 2 * budget:
        failures.append("%s: offered %d %s, not far above the budget %.0f: the test proves "
                        "nothing" % (t["name"], offered, t["unit"], budget))
    if abs(diff) > TOLERANCE:
        failures.append("%s: conform %d %s, budget %.0f (rate x %.3f s + burst%s): %+.2f%%%s" % (
            t["name"], got, t["unit"], budget, elapsed,
            ", x %d keys" % t["keys"] if t["keys"] > 1 else "", diff * 100,
            "" if diff > 0 else " (below: was the forwarding lcore descheduled for more "
            "than 200 ms? is the machine busy?)"))


def check_report(path, failures):
    with open(path) as f:
        rep = json.load(f)
    elapsed = rep["elapsed_s"]
    if not 0.9 * DURATION < elapsed <= DURATION + 1:
        failures.append("elapsed_s %.3f for a run of %d s" % (elapsed, DURATION))
    by_name = {t["name"]: t for t in rep["tenants"]}
    rows = []
    for t in TENANTS:
        if t["name"] not in by_name:
            failures.append("tenant %s missing from the report" % t["name"])
            continue
        check_tenant(t, by_name[t["name"]], elapsed, failures, rows)
    if rep["unmatched"]["packets"] == 0:
        failures.append("no unmatched traffic counted")
    print("%-8s %-8s %16s %16s %16s %9s" % ("tenant", "unit", "budget", "conform", "offered",
                                            "diff"))
    for name, unit, budget, got, offered, diff in rows:
        print("%-8s %-8s %16.0f %16d %16d %+8.3f%%" % (name, unit, budget, got, offered,
                                                       diff * 100))
    print("elapsed %.6f s, %d frames" % (elapsed, rep["packets"]))


def live_run(sluice, gen, tmp, failures):
    pcap, conf, report = (os.path.join(tmp, n) for n in ("live.pcap", "live.yaml", "r.json"))
    with open(conf, "w") as f:
        f.write(policy())
    cmd = [gen, "--out", pcap, "--duration", "1", "--seed", "7"]
    for flow in [t["flow"] for t in TENANTS] + [UNMATCHED_FLOW]:
        cmd += ["--flow", flow]
    p = run(cmd, 60)
    if p.returncode:
        show(p)
        failures.append("sl-gen exited %d" % p.returncode)
        return
    p = run([sluice] + eal_args(pcap) + ["--", "--config", conf, "--duration", str(DURATION),
                                         "--report", report], DURATION + 60)
    show(p)
    if p.returncode:
        failures.append("sluice exited %d, expected 0" % p.returncode)
        return
    if p.stdout.count("offered Mbit/s") < DURATION - 1:
        failures.append("the live table was printed %d times in %d s" % (
            p.stdout.count("offered Mbit/s"), DURATION))
    check_report(report, failures)


def bad_run(sluice, tmp, failures):
    conf = os.path.join(tmp, "bad.yaml")
    with open(conf, "w") as f:
        f.write(BAD_POLICY)
    p = run([sluice] + eal_args(os.path.join(tmp, "none.pcap")) +
            ["--", "--config", conf, "--duration", "1"], 60)
    show(p)
    if p.returncode != 1:
        failures.append("bad policy: sluice exited %d, expected 1" % p.returncode)
    if not re.search(r"^%s:%d: " % (re.escape(conf), BAD_LINE), p.stderr, re.M):
        failures.append("bad policy: no '%s:%d: ...' message on stderr" % (conf, BAD_LINE))


def early_signal_run(sluice, gen, tmp, failures):
    """SIGINT sent while sluice starts must end it. Started with SIGINT ignored, as
    `sluice ... &` in a script is, it used to lose every such signal and run on. Loading a
    capture of 100,000 frames keeps it starting for seconds (about 0.3 s for an empty one):
    the signals go in its first 0.8 s. No --duration: nothing else stops it."""
    pcap, conf = os.path.join(tmp, "big.pcap"), os.path.join(tmp, "live.yaml")
    p = run([gen, "--out", pcap, "--distinct", "1000", "--count", "100000", "--size", "64",
             "--quiet"], 60)
    if p.returncode:
        show(p)
        failures.append("sl-gen exited %d" % p.returncode)
        return
    cmd = [sluice] + eal_args(pcap) + ["--", "--config", conf]
    print("+ (SIGINT ignored) " + " ".join(cmd), flush=True)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    sent = 0
    while p.poll() is None and time.monotonic() < t0 + 0.8:
        p.send_signal(signal.SIGINT)
        sent += 1
        time.sleep(0.05)
    try:
        p.wait(timeout=20)
        print("SIGINT during start-up (%d sent): sluice ended after %.1f s, status %d" %
              (sent, time.monotonic() - t0, p.returncode))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        failures.append("SIGINT during start-up (%d sent): sluice still ran 20 s later" % sent)


def main():
    sluice = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/app/sluice")
    gen = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "build/tools/sl-gen")
    if os.geteuid() != 0:
        print("live_check: skipped, DPDK needs root")
        return 77
    failures = []
    with tempfile.TemporaryDirectory(prefix="sluice-live-") as tmp:
        live_run(sluice, gen, tmp, failures)
        bad_run(sluice, tmp, failures)
        early_signal_run(sluice, gen, tmp, failures)
    for f in failures:
        print("FAIL: " + f)
    print("live_check: %s" % ("FAILED" if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
