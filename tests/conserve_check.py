#!/usr/bin/env python3
# conserve_check.py - integration test of the live appliance's accounting: every frame read is
# transmitted or counted as dropped, in run-to-completion and worker mode, with flow order kept.
"""
usage: conserve_check.py [SLUICE]   (default: build/app/sluice)

Writes a finite capture (two files, one per RX queue, a flow always in the same file) of UDP
frames carrying (flow, sequence number) in their payload, for tenants whose profiles drop,
mark and pass the excess, a tenant flooding the workers with max-queue, and unmatched
traffic. sluice reads it once (net_pcap without infinite_rx) and writes what it sends to two
files (net_pcap tx_pcap, one per TX queue). Runs, with more lcores than the 2 cores (--lcores
with @): run-to-completion with 2 forwarding lcores; --workers 2 with 2 policing lcores;
--workers 1 stopped by SIGTERM instead of --duration. Each run must show:
  - report packets = frames in the capture (all read);
  - per tenant packets = conform_packets + exceed_packets (bytes too);
  - frames in the TX files = read - dropped by policy - sum of queue_drops - tx_dropped;
  - every frame sent is one of the capture, once; a flow's frames leave by one file, in input
    order; frames of drop/pass/flood/unmatched leave as they came; of the mark tenant, exactly
    the exceeding ones carry DSCP 10 (ECN kept) when nothing of that tenant was lost, at most
    those otherwise; every IPv4 header checksum is valid;
  - run-to-completion: no queue_drops and no queue_hwm; worker mode: the flooding tenant's
    queue_hwm never above its max-queue, and it lost frames at hand-off (it floods).
Exit status 0 pass, 1 fail, 77 skipped (not root).
"""
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRAMES = 50000
DURATION = 3
MAX_QUEUE = 32
MARK_DSCP = 10
TOS_IN = 0x01  # ECN bits set on input: a mark must keep them
# tenant: (source prefix 10.N.0.0/16, flows, share of the frames)
TENANTS = [("drop", 1, 40, 0.15), ("mark", 2, 40, 0.15), ("pass", 3, 40, 0.15),
           ("flood", 4, 8, 0.45), (None, 5, 20, 0.10)]  # None: unmatched (172.16.x)
POLICY = """sluice: 1
unmatched: pass
profiles:
  drop:  { mode: shared, rate: 2mbit, burst: 3000B, exceed: drop }
  mark:  { mode: shared, rate: 2mbit, burst: 3000B, exceed: mark, dscp: %d }
  pass:  { mode: shared, rate: 2mbit, burst: 3000B, exceed: pass }
  flood: { mode: shared, rate: 100gbit, burst: 100MB, exceed: drop, max-queue: %d }
tenants:
  - { name: drop, profile: drop, match: { src: 10.1.0.0/16 } }
  - { name: mark, profile: mark, match: { src: 10.2.0.0/16 } }
  - { name: pass, profile: pass, match: { src: 10.3.0.0/16 } }
  - { name: flood, profile: flood, match: { src: 10.4.0.0/16 } }
""" % (MARK_DSCP, MAX_QUEUE)
MAGIC = 0x5e0c0ffe


def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def frame(flow, seq, size):
    """Ethernet + IPv4 + UDP, payload (magic, flow, seq), padded to size bytes."""
    tenant_net, idx = flow >> 8, flow & 0xff
    src = bytes([10, tenant_net, 0, idx + 1]) if tenant_net != 5 else bytes([172, 16, 0, idx + 1])
    dst = bytes([192, 0, 2, 1])
    payload = struct.pack("!III", MAGIC, flow, seq)
    payload += bytes(size - 14 - 20 - 8 - len(payload))
    udp = struct.pack("!HHHH", 1024 + idx, 9, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, TOS_IN, 20 + len(udp), seq & 0xffff, 0, 64, 17, 0,
                     src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01\x08\x00" + ip + udp


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, b in enumerate(frames):
            f.write(struct.pack("<IIII", 1700000000 + i // 1000000, i % 1000000, len(b), len(b)))
            f.write(b)


def read_pcap(path):
    with open(path, "rb") as f:
        d = f.read()
    out, o = [], 24
    while o + 16 <= len(d):
        incl = struct.unpack("<I", d[o + 8:o + 12])[0]
        out.append(d[o + 16:o + 16 + incl])
        o += 16 + incl
    return out


def build_capture(tmp):
    """Two rx files (flow parity), and the input sequence of every flow."""
    rng = random.Random(7)
    flows = []
    weights = []
    for name, net, nflows, share in TENANTS:
        for i in range(nflows):
            flows.append((name, (net << 8) | i))
            weights.append(share / nflows)
    files = ([], [])
    seq = {}
    for _ in range(FRAMES):
        name, flow = rng.choices(flows, weights)[0]
        s = seq.get(flow, 0)
        seq[flow] = s + 1
        files[flow & 1].append(frame(flow, s, rng.choice((64, 64, 128, 256, 512))))
    paths = [os.path.join(tmp, "in%d.pcap" % i) for i in (0, 1)]
    for p, fr in zip(paths, files):
        write_pcap(p, fr)
    tenant_of = {flow: name for name, flow in flows}
    return paths, tenant_of


def eal_args(lcores, rx, tx, prefix):
    return ["--no-huge", "-m", "2048", "--no-shconf", "--no-pci", "--no-telemetry",
            "--lcores=" + lcores, "--file-prefix=" + prefix, "--log-level=lib.eal:error",
            "--vdev=net_pcap0," + ",".join("rx_pcap=" + p for p in rx),
            "--vdev=net_pcap1," + ",".join("tx_pcap=" + p for p in tx)]


def run_sluice(cmd, sigterm_after):
    """Run to the end of --duration, or SIGTERM sigterm_after seconds after it forwards."""
    print("+ " + " ".join(cmd), flush=True)
    if not sigterm_after:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=DURATION + 60)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    head = []
    for line in p.stdout:  # set-up lines, until the lcores run (or sluice exits)
        head.append(line)
        if line.startswith("sluice: forwarding"):
            time.sleep(sigterm_after)
            p.send_signal(signal.SIGTERM)
            break
    out, err = p.communicate(timeout=60)
    return subprocess.CompletedProcess(cmd, p.returncode, "".join(head) + out, err)


def check_frames(tag, sent_files, rep, tenant_of, fails):
    """What left: known frames, once, per-flow order, one file per flow, marks, checksums."""
    by_name = {t["name"]: t for t in rep["tenants"]}
    seen, last, file_of, marked = set(), {}, {}, 0
    for fi, frames in enumerate(sent_files):
        for b in frames:
            ip = b[14:34]
            magic, flow, seq = struct.unpack("!III", b[42:54])
            if magic != MAGIC or flow not in tenant_of:
                fails.append("%s: a frame sent that is not one of the capture" % tag)
                return
            if csum(ip):
                fails.append("%s: flow %x seq %d: bad IPv4 header checksum" % (tag, flow, seq))
            if (flow, seq) in seen:
                fails.append("%s: flow %x seq %d sent twice" % (tag, flow, seq))
            seen.add((flow, seq))
            if file_of.setdefault(flow, fi) != fi:
                fails.append("%s: flow %x left by two TX queues" % (tag, flow))
            if seq <= last.get(flow, -1):
                fails.append("%s: flow %x: seq %d after %d (order lost)" % (
                    tag, flow, seq, last[flow]))
            last[flow] = seq
            tos = ip[1]
            if tenant_of[flow] == "mark" and tos == (MARK_DSCP << 2 | TOS_IN):
                marked += 1
            elif tos != TOS_IN:
                fails.append("%s: flow %x (%s) seq %d: TOS %#x, expected %#x" % (
                    tag, flow, tenant_of[flow], seq, tos, TOS_IN))
    m = by_name["mark"]
    lost = m["queue_drops"] + rep["tx_dropped"]
    if lost == 0 and marked != m["exceed_packets"]:
        fails.append("%s: %d frames carry DSCP %d, the mark tenant exceeded on %d" % (
            tag, marked, MARK_DSCP, m["exceed_packets"]))
    if not m["exceed_packets"] - lost <= marked <= m["exceed_packets"]:
        fails.append("%s: %d marked frames sent, %d exceeded and at most %d were lost" % (
            tag, marked, m["exceed_packets"], lost))
    if not m["exceed_packets"] or not m["conform_packets"]:
        fails.append("%s: the mark tenant should both conform and exceed" % tag)
    print("%s: %d frames sent in %d flows, %d marked" % (tag, len(seen), len(file_of), marked))


def check_report(tag, rep, workers, sent, fails):
    if rep["packets"] != FRAMES:
        fails.append("%s: read %d frames, the capture has %d" % (tag, rep["packets"], FRAMES))
    qd = 0
    for t in rep["tenants"]:
        for unit in ("packets", "bytes"):
            if t[unit] != t["conform_" + unit] + t["exceed_" + unit]:
                fails.append("%s: %s: %s %d != conform %d + exceed %d" % (
                    tag, t["name"], unit, t[unit], t["conform_" + unit], t["exceed_" + unit]))
        qd += t["queue_drops"]
        if not workers and (t["queue_drops"] or t["queue_hwm"]):
            fails.append("%s: %s: queue_drops %d, queue_hwm %d without workers" % (
                tag, t["name"], t["queue_drops"], t["queue_hwm"]))
        print("%s: %-6s packets %6d conform %6d exceed %6d queue_drops %6d queue_hwm %5d" % (
            tag, t["name"], t["packets"], t["conform_packets"], t["exceed_packets"],
            t["queue_drops"], t["queue_hwm"]))
    expect = rep["packets"] - rep["dropped"]["packets"] - qd - rep["tx_dropped"]
    print("%s: read %d = sent %d + dropped %d + queue_drops %d + tx_dropped %d%s" % (
        tag, rep["packets"], sent, rep["dropped"]["packets"], qd, rep["tx_dropped"],
        "" if sent == expect else "  <-- MISMATCH"))
    if sent != expect:
        fails.append("%s: %d frames sent, expected read - dropped - queue_drops - tx_dropped "
                     "= %d" % (tag, sent, expect))
    flood = {t["name"]: t for t in rep["tenants"]}["flood"]
    if workers and not 0 < flood["queue_hwm"] <= MAX_QUEUE:
        fails.append("%s: flood: queue_hwm %d, max-queue %d" % (tag, flood["queue_hwm"],
                                                              MAX_QUEUE))
    if workers and not flood["queue_drops"]:
        fails.append("%s: flood lost nothing at hand-off: max-queue %d was never reached" % (
            tag, MAX_QUEUE))


def one_run(sluice, tmp, rx, tenant_of, tag, lcores, workers, sigterm_after, fails):
    conf, report = os.path.join(tmp, "p.yaml"), os.path.join(tmp, tag + ".json")
    tx = [os.path.join(tmp, "%s-out%d.pcap" % (tag, i)) for i in (0, 1)]
    with open(conf, "w") as f:
        f.write(POLICY)
    args = ["--config", conf, "--report", report]
    if not sigterm_after:
        args += ["--duration", str(DURATION), "--quiet"]
    if workers:
        args += ["--workers", str(workers)]
    p = run_sluice([sluice] + eal_args(lcores, rx, tx, "sluice-conserve") + ["--"] + args,
                   sigterm_after)
    sys.stdout.write(p.stdout[-4000:])
    sys.stdout.write(p.stderr[-4000:])
    if p.returncode:
        fails.append("%s: sluice exited %d, expected 0" % (tag, p.returncode))
        return
    with open(report) as f:
        rep = json.load(f)
    sent = [read_pcap(t) if os.path.exists(t) else [] for t in tx]
    check_report(tag, rep, workers, sum(len(s) for s in sent), fails)
    check_frames(tag, sent, rep, tenant_of, fails)


def main():
    sluice = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/app/sluice")
    if os.geteuid() != 0:
        print("conserve_check: skipped, DPDK needs root")
        return 77
    fails = []
    with tempfile.TemporaryDirectory(prefix="sluice-conserve-") as tmp:
        rx, tenant_of = build_capture(tmp)
        one_run(sluice, tmp, rx, tenant_of, "rtc", "0@0,1@1,2@1", 0, 0, fails)
        one_run(sluice, tmp, rx, tenant_of, "workers2", "0@0,1@1,2@1,3@0,4@1", 2, 0, fails)
        one_run(sluice, tmp, rx, tenant_of, "workers1-sigterm", "0@0,1@1,2@1,3@0", 1, 2, fails)
    for f in fails:
        print("FAIL: " + f)
    print("conserve_check: %s" % ("FAILED" if fails else "ok"))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
