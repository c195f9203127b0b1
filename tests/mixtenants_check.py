#!/usr/bin/env python3
# mixtenants_check.py - integration test of tools/sl-mixtenants.py: its mixed-shape policies are
# accepted by sluice --check, and sluice-replay gives every tenant exactly the frames it says.
"""Usage: mixtenants_check.py SLUICE-REPLAY SLUICE WORKDIR

Two cases, each with a 20000-flow capture of 64-byte frames, a tenth of the flows matching no
shape tenant: 1000 tenants ending with the catch-all 'rest', and 100 tenants without it (those
flows are unmatched). For each: the policy and its one-tenant baseline pass sluice --check;
sluice-replay --report gives every tenant exactly the packets of the generator's --expect file
(tenants absent from it: 0), the same unmatched packets, no malformed frame and every frame
read; the baseline's one tenant gets every frame; a second run of the generator writes the
same files. Exit 0, or 1 with what differs.
"""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

GEN = Path(__file__).resolve().parent.parent / "tools" / "sl-mixtenants.py"
FLOWS = 20000
CASES = [("n1000", ["--tenants", "1000", "--unmatched-frac", "0.1"]),
         ("n100-nocatch", ["--tenants", "100", "--unmatched-frac", "0.1", "--no-catch-all"])]
TIMEOUT = 60


def run(cmd):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=TIMEOUT)


def digest(paths):
    return [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]


def check_case(replay, sluice, wd, name, args):
    errs = []
    pol, one, cap, exp, rep = (wd / (name + s) for s in (
        ".yaml", "-one.yaml", ".pcap", "-expect.json", "-report.json"))
    gen = [sys.executable, GEN, *args, "--out", pol, "--one-tenant", one, "--pcap", cap,
           "--flows", FLOWS, "--expect", exp]
    r = run(gen)
    if r.returncode:
        return ["sl-mixtenants %s: exit %d: %s" % (" ".join(args), r.returncode, r.stderr)]
    print(r.stdout.strip())
    first = digest((pol, one, cap, exp))
    r = run(gen)
    if r.returncode or digest((pol, one, cap, exp)) != first:
        errs.append("sl-mixtenants %s: a second run wrote different files" % " ".join(args))
    n = int(args[args.index("--tenants") + 1])
    for p, tenants in ((pol, n), (one, 1)):
        r = run([sluice, "--check", p])
        if r.returncode or "%d tenants" % tenants not in r.stdout:
            errs.append("sluice --check %s: exit %d, expected 'ok ... %d tenants'\n%s%s" % (
                p.name, r.returncode, tenants, r.stdout[:2000], r.stderr[:2000]))
    if errs:
        return errs
    expect = json.loads(exp.read_text())
    want = expect["tenants"]
    total = sum(want.values()) + expect["unmatched"]
    if total != FLOWS:
        errs.append("%s: expect file counts %d frames, the capture has %d" % (exp.name, total,
                                                                              FLOWS))
    for p, want_t, want_u in ((pol, want, expect["unmatched"]), (one, {"all": FLOWS}, 0)):
        r = run([replay, "--config", p, "--in", cap, "--report", rep, "--quiet"])
        if r.returncode:
            errs.append("sluice-replay --config %s: exit %d: %s" % (p.name, r.returncode,
                                                                    r.stderr[:2000]))
            continue
        report = json.loads(rep.read_text())
        got = {t["name"]: t["packets"] for t in report["tenants"]}
        diff = ["  %s: replay %d, expected %d" % (t, got.get(t, 0), want_t.get(t, 0))
                for t in sorted(set(got) | set(want_t)) if got.get(t, 0) != want_t.get(t, 0)]
        missing = sorted(set(want_t) - set(got))
        if diff:
            errs.append("%s: %d tenants differ%s:\n%s" % (
                p.name, len(diff), " (%d not in the report)" % len(missing) if missing else "",
                "\n".join(diff[:20]) + ("\n  ..." if len(diff) > 20 else "")))
        if report["unmatched"]["packets"] != want_u:
            errs.append("%s: unmatched %d packets, expected %d" % (
                p.name, report["unmatched"]["packets"], want_u))
        if report["malformed"]["packets"]:
            errs.append("%s: %d malformed packets" % (p.name, report["malformed"]["packets"]))
        if report["packets"] != FLOWS:
            errs.append("%s: %d packets read, the capture has %d" % (p.name, report["packets"],
                                                                     FLOWS))
        if not errs:
            print("%s: %d tenants, %d with frames, %d unmatched: as expected" % (
                p.name, len(got), sum(1 for v in got.values() if v), want_u))
    return errs


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    replay, sluice, wd = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    os.makedirs(wd, exist_ok=True)
    errs = []
    for name, args in CASES:
        errs += check_case(replay, sluice, wd, name, args)
    for e in errs:
        print("FAIL " + e)
    print("mixtenants_check: %s" % ("FAILED" if errs else "ok"))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
