#!/usr/bin/env python3
# shape_live_check.py - exceed: shape on real network stacks: sluice in worker mode between two
# network namespaces (veth pairs, net_af_packet), TCP and UDP through a shaped 50 mbit tenant.
"""
usage: shape_live_check.py [SLUICE]   (default: build/app/sluice)

Two namespaces, sla (198.18.0.1) and slb (198.18.0.2), each joined to the root namespace by a
veth pair whose root ends are sluice's ports (net_af_packet, offloads off: ethtool). sluice runs
with --workers 1 and a policy whose tenant a-to-b (198.18.0.1 -> 198.18.0.2) is shaped to
50 mbit (burst 64KB, max-delay 20ms); the reverse direction (ACKs) is unmatched and passes.
iperf3 and ping do the traffic. Checks, each figure printed:
  - one TCP stream for 8 s: goodput at least MIN_TCP of 50 Mbit/s (the issue's target is 95%;
    TCP over 1514-byte frames carries at most 95.6% of the frame rate), and never more than the
    rate over the run plus the burst;
  - 4 parallel TCP streams for 15 s: together as above, and each within MAX_SPREAD of their
    mean (fair: flows, the default of a shared shaped profile: lib/sl_fair.h);
  - UDP offered at 200 Mbit/s for 6 s: frames delivered (datagrams x their frame size, after
    the first second) within 1% of 50 Mbit/s; ping through the same tenant meanwhile: RTT at
    most max-delay + 2 ms (median of the pings after the first two);
  - sluice stopped (SIGINT) while UDP floods (frames waiting in the wheel): every frame read is
    sent or counted, exactly: rx of the two ports = tx + policy drops + queue_drops +
    tx_dropped; the report's packets = conform + exceed per tenant; shaped_packets > 0,
    shape_delay_max_us <= 20,000 + 1.
Exit status 0 pass, 1 fail, 77 skipped (not root, or namespaces, veth, iperf3 or ping missing).
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 50e6
BURST_BITS = 64000 * 8
MAX_DELAY_MS = 20
MIN_TCP = 0.90  # goodput / rate asserted (measured 0.954 on the AMD EPYC VM: perf/RESULTS.md)
MAX_SPREAD = 0.12  # 4 streams: the largest distance of one from their mean
NS = ('sla', 'slb')
IP = ('198.18.0.1', '198.18.0.2')
POLICY = f"""sluice: 1
profiles:
  fifty: {{ mode: shared, rate: 50mbit, burst: 64KB, exceed: shape, max-delay: {MAX_DELAY_MS}ms }}
tenants:
  - {{ name: a-to-b, profile: fifty, match: {{src: {IP[0]}/32, dst: {IP[1]}/32}} }}
"""
failures = []


def fail(msg):
    failures.append(msg)
    print(f'FAIL: {msg}')


def sh(*args, ns=None, check=True, **kw):
    cmd = (['ip', 'netns', 'exec', ns] if ns else []) + list(args)
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


def teardown():
    for n in NS:
        sh('ip', 'netns', 'del', n, check=False)
    for n in NS:
        sh('ip', 'link', 'del', n + '1', check=False)


def setup():
    """The two namespaces and veth pairs, offloads off on all four ends."""
    teardown()
    for n, ip in zip(NS, IP):
        sh('ip', 'netns', 'add', n)
        sh('ip', 'link', 'add', n + '0', 'type', 'veth', 'peer', 'name', n + '1')
        sh('ip', 'link', 'set', n + '0', 'netns', n)
        sh('ip', 'addr', 'add', ip + '/24', 'dev', n + '0', ns=n)
        sh('ip', 'link', 'set', 'lo', 'up', ns=n)
        sh('ip', 'link', 'set', n + '0', 'up', ns=n)
        sh('ip', 'link', 'set', n + '1', 'up')
        off = ['tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off']
        sh('ethtool', '-K', n + '0', *off, ns=n)
        sh('ethtool', '-K', n + '1', *off)


def iperf(args, secs):
    """iperf3 client in sla against a one-off server in slb; the JSON result."""
    srv = subprocess.Popen(['ip', 'netns', 'exec', NS[1], 'iperf3', '-s', '-1', '-p', '5201'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    try:
        r = sh('iperf3', '-c', IP[1], '-p', '5201', '-J', '-t', str(secs), *args, ns=NS[0],
               check=False, timeout=secs + 30)
    finally:
        try:
            srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError:
        fail(f'iperf3 {args}: no result: {r.stderr.strip()[:200]}')
        return None


def tcp_checks(streams, secs):
    j = iperf(['-P', str(streams)], secs)
    if not j:
        return None
    end = j['end']
    recv = end['sum_received']
    bits, el = recv['bytes'] * 8, recv['seconds']
    good = bits / el
    print(f'TCP x{streams}: {good / 1e6:.2f} Mbit/s goodput ({good / RATE:.3f} of the rate), '
          f'{end["sum_sent"].get("retransmits", 0)} retransmits')
    if good < MIN_TCP * RATE:
        fail(f'TCP x{streams}: goodput {good / 1e6:.2f} Mbit/s < {MIN_TCP} x 50')
    # payload below the frames that carried it: never above the rate over the run + burst
    if bits > RATE * el + BURST_BITS:
        fail(f'TCP x{streams}: {bits} bits in {el:.3f} s: more than rate + burst')
    if streams > 1:
        per = [s['receiver']['bytes'] * 8 / s['receiver']['seconds'] for s in end['streams']]
        mean = statistics.mean(per)
        spread = max(abs(p - mean) / mean for p in per)
        # fair: flows (the default of a shared shaped profile) gives each stream its share of
        # the queue: 0.7-8.1% from their mean in 14 runs of perf/shape-tcp.sh, against 2.8-24%
        # with fair: none (one FIFO, as tc tbf: 8-43%); asserted with some room for a busy host
        print(f'TCP x{streams}: streams ' + ', '.join(f'{p / 1e6:.2f}' for p in per) +
              f' Mbit/s, at most {spread:.1%} from their mean (the fastest '
              f'{max(per) / min(per) - 1:.1%} above the slowest)')
        if spread > MAX_SPREAD:
            fail(f'TCP x{streams}: a stream {spread:.1%} from their mean (more than '
                 f'{MAX_SPREAD:.0%})')
    return good


def udp_and_ping():
    """UDP at 200 Mbit/s for 6 s with pings alongside. Returns (frame rate, ping ms)."""
    secs, payload = 6, 1400
    srv = subprocess.Popen(['ip', 'netns', 'exec', NS[1], 'iperf3', '-s', '-1', '-p', '5202',
                            '-J'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(0.5)
    cli = subprocess.Popen(['ip', 'netns', 'exec', NS[0], 'iperf3', '-c', IP[1], '-p', '5202',
                            '-u', '-b', '200M', '-l', str(payload), '-t', str(secs), '-J'],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.0)
    pg = sh('ping', '-c', '15', '-i', '0.2', IP[1], ns=NS[0], check=False, timeout=30)
    rtts = [float(x) for x in re.findall(r'time=([0-9.]+) ms', pg.stdout)]
    cli.wait(timeout=60)
    sj, _ = srv.communicate(timeout=60)
    rate = None
    try:
        ivs = [iv['sum'] for iv in json.loads(sj)['intervals']][1:]  # the first holds the burst
        if ivs:
            byts = sum(iv['bytes'] for iv in ivs)
            el = sum(iv['seconds'] for iv in ivs)
            rate = (byts + byts / payload * (14 + 20 + 8)) * 8 / el  # frames on the wire
    except (json.JSONDecodeError, KeyError) as e:
        fail(f'UDP: no server result ({e})')
    med = statistics.median(rtts[2:]) if len(rtts) > 4 else None
    if rate is not None:
        print(f'UDP 200 -> 50 Mbit/s: delivered {rate / 1e6:.3f} Mbit/s of frames '
              f'({(rate - RATE) / RATE:+.2%})')
        if abs(rate - RATE) > 0.01 * RATE:
            fail(f'UDP: delivered {rate / 1e6:.3f} Mbit/s, not within 1% of 50')
    else:
        fail('UDP: no intervals to measure')
    if med is None:
        fail(f'ping under load: {len(rtts)} replies')
    else:
        print(f'ping under load: median RTT {med:.2f} ms (max {max(rtts):.2f}) over '
              f'{len(rtts)} replies; max-delay {MAX_DELAY_MS} ms')
        if med > MAX_DELAY_MS + 2:
            fail(f'ping under load: median RTT {med:.2f} ms > max-delay + 2 ms')
    return rate, med


# UDP at about 200 Mbit/s from sla for `secs` seconds, no control connection (iperf3's would
# hang once sluice stops)
BLAST = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
b, gap, end = bytes(1400), 1400 * 8 / 200e6, time.monotonic() + float(sys.argv[2])
t = time.monotonic()
while t < end:
    s.sendto(b, (sys.argv[1], 9))
    t += gap
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)
"""


def stop_under_load(proc):
    """Stop sluice (SIGINT) while UDP floods the shaped tenant: frames are waiting in the
    wheel at the stop."""
    blast = subprocess.Popen(['ip', 'netns', 'exec', NS[0], sys.executable, '-c', BLAST, IP[1],
                              '3'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    blast.wait(timeout=10)
    return out


def port_totals(text):
    rx = tx = 0
    for m in re.finditer(r'port \d+ \S+: rx (\d+), tx (\d+)', text):
        rx += int(m.group(1))
        tx += int(m.group(2))
    return rx, tx


def main():
    sluice = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'build/app/sluice')
    if os.geteuid() != 0:
        print('SKIP: needs root (network namespaces, af_packet)')
        return 77
    for tool in ('iperf3', 'ping', 'ethtool', 'ip'):
        if not shutil.which(tool):
            print(f'SKIP: {tool} is not installed (tools/bootstrap installs it)')
            return 77
    try:
        setup()
    except subprocess.CalledProcessError as e:
        teardown()
        print(f'SKIP: cannot make namespaces and veth pairs here: {e.stderr.strip()[:200]}')
        return 77
    tmp = tempfile.mkdtemp(prefix='shape-live.')
    pol, rep = os.path.join(tmp, 'p.yaml'), os.path.join(tmp, 'r.json')
    with open(pol, 'w') as f:
        f.write(POLICY)
    # main lcore 0; policing lcore on core 1; the worker shares core 0 with the main lcore,
    # which sleeps between its checks
    cmd = [sluice, '--no-huge', '-m', '1024', '--no-shconf', '--no-pci',
           '--lcores=0@0,1@1,2@0', f'--vdev=net_af_packet0,iface={NS[0]}1',
           f'--vdev=net_af_packet1,iface={NS[1]}1', '--log-level=error', '--',
           '--config', pol, '--workers', '1', '--stats-interval', '1000', '--report', rep]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        time.sleep(3)
        if proc.poll() is not None:
            fail(f'sluice exited at start: {proc.stdout.read()[-800:]}')
            return 1
        ping = sh('ping', '-c', '3', '-i', '0.2', IP[1], ns=NS[0], check=False, timeout=20)
        if ' 0% packet loss' not in ping.stdout:
            fail(f'no path through sluice: {ping.stdout.strip()[-200:]}')
            return 1
        tcp_checks(1, 8)
        tcp_checks(4, 15)
        udp_and_ping()
        out = stop_under_load(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        teardown()
    if proc.returncode != 0:
        fail(f'sluice exit status {proc.returncode}: {out[-800:]}')
    m = re.search(r'shaping: .*', out)
    print('sluice: ' + (m.group(0) if m else 'no shaping line'))
    try:
        with open(rep) as f:
            r = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        fail(f'report: {e}')
        return 1
    t = r['tenants'][0]
    rx, tx = port_totals(out)
    lost = r['dropped']['packets'] + sum(x['queue_drops'] for x in r['tenants']) + \
        r['tx_dropped']
    print(f'conservation: rx {rx} = tx {tx} + dropped {r["dropped"]["packets"]} + '
          f'queue_drops {t["queue_drops"]} + tx_dropped {r["tx_dropped"]} '
          f'({rx - tx - lost:+d}); report packets {r["packets"]}')
    if rx != r['packets'] or rx != tx + lost:
        fail(f'conservation: rx {rx}, report {r["packets"]}, tx {tx} + lost {lost}')
    if t['packets'] != t['conform_packets'] + t['exceed_packets']:
        fail('a-to-b: packets != conform + exceed')
    if not t['shaped_packets'] or t['shape_delay_max_us'] > MAX_DELAY_MS * 1000 + 1:
        fail(f'a-to-b: shaped_packets {t["shaped_packets"]}, shape_delay_max_us '
             f'{t["shape_delay_max_us"]}')
    shutil.rmtree(tmp, ignore_errors=True)
    print('shape_live_check: ' + ('FAIL' if failures else 'pass'))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
