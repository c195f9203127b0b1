#!/usr/bin/env python3
# sl-soak.py - run the appliance for a given time under mixed load and check that it holds:
# memory and file descriptors flat after warm-up, every frame accounted for, no error lines.
"""
usage: sl-soak.py [--duration S] [--sluice PATH] [--gen PATH] [--ctl PATH] [--workdir DIR]

Runs as root (DPDK without hugepages; net_pcap infinite_rx -> net_null, -l 0-1) for S seconds
(default 60) under:
  - traffic over many keys: dedicated per-source tenants (KEYS sources), a shared tenant, a
    shaped-free mix of drop and mark profiles, unmatched traffic;
  - a key flood past a quota: a tenant with max-keys 1000 offered 20,000 sources;
  - idle eviction: every reload swaps which /16 one dedicated tenant matches, so the keys of
    the other /16 go idle (idle: 2s) and are evicted, and come back after the next swap;
  - reloads every RELOAD_S seconds (SIGHUP, then the telemetry /sluice/reload alternately);
  - telemetry (sluice-ctl stats) every 2 s and Prometheus scrapes (--metrics) every second.
Samples VmRSS and the open file descriptors every 5 s. Passes when:
  - after warm-up (the first 20% of the run, at least 10 s), RSS grows by at most 4 MB and
    the fd count does not change;
  - the final report: packets = the ports' rx; rx = tx + dropped + queue_drops + tx_dropped;
    per tenant packets = conform + exceed; every reload applied (reload_failures 0);
  - no line of sluice's output says error, cannot, refused or failed (but the counters named
    "... failures N", "errors 0", and the notes of keys "refused a key": the flood's).
Prints the samples and the verdict. Exit 0 pass, 1 fail, 77 skipped (not root).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = 50000
RELOAD_S = 4
PREFIX = 'sl-soak'


def policy(swap):
    """The soak policy; swap moves tenant 'movers' between 10.3/16 and 10.4/16."""
    movers = '10.4.0.0/16' if swap else '10.3.0.0/16'
    return f"""sluice: 1
profiles:
  per-src:   {{ mode: dedicated, key: src-ip, rate: 1mbit, burst: 4KB, exceed: drop, idle: 2s }}
  per-flow:  {{ mode: dedicated, key: 5-tuple, rate: 2mbit, burst: 8KB, exceed: mark, dscp: 10,
                idle: 2s }}
  quota:     {{ mode: dedicated, key: src-ip, rate: 500kbit, burst: 3KB, exceed: drop,
                max-keys: 1000, when-full: drop, idle: 2s }}
  shared:    {{ mode: shared, rate: 50mbit, burst: 64KB, exceed: drop,
                limits: [{{limit: 100MB, per: 1m}}] }}
tenants:
  - {{ name: many-keys, profile: per-src, match: {{src: 10.1.0.0/16}} }}
  - {{ name: flows, profile: per-flow, match: {{src: 10.2.0.0/16}} }}
  - {{ name: movers, profile: per-src, match: {{src: {movers}}} }}
  - {{ name: flooder, profile: quota, match: {{src: 10.9.0.0/16}} }}
  - {{ name: office, profile: shared, match: [{{src: 192.168.0.0/16}}, {{src: 2001:db8::/32}}] }}
"""


def rss_fds(pid):
    with open(f'/proc/{pid}/status') as f:
        rss = int(re.search(r'VmRSS:\s+(\d+)', f.read()).group(1))
    return rss, len(os.listdir(f'/proc/{pid}/fd'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--duration', type=float, default=60)
    ap.add_argument('--sluice', default=os.path.join(ROOT, 'build/app/sluice'))
    ap.add_argument('--gen', default=os.path.join(ROOT, 'build/tools/sl-gen'))
    ap.add_argument('--ctl', default=os.path.join(ROOT, 'tools/sluice-ctl'))
    ap.add_argument('--workdir')
    a = ap.parse_args()
    if os.geteuid() != 0:
        print('SKIP: needs root (DPDK without hugepages)')
        return 77
    tmp = a.workdir or tempfile.mkdtemp(prefix='sl-soak.')
    os.makedirs(tmp, exist_ok=True)
    cap, pol, rep = (os.path.join(tmp, n) for n in ('cap.pcap', 'p.yaml', 'r.json'))
    subprocess.run([a.gen, '--out', cap, '--duration', '0.5', '--quiet', '--seed', '7',
                    '--flow', f'rate=200mbit,size=128,src=10.1.0.0/16,keys={KEYS}',
                    '--flow', 'rate=50mbit,size=600,src=10.2.0.0/16,keys=500,proto=tcp',
                    '--flow', 'rate=40mbit,size=200,src=10.3.0.0/16,keys=5000',
                    '--flow', 'rate=40mbit,size=200,src=10.4.0.0/16,keys=5000',
                    '--flow', 'rate=60mbit,size=100,src=10.9.0.0/16,keys=20000',
                    '--flow', 'rate=100mbit,size=1000,src=192.168.0.0/16,keys=100',
                    '--flow', 'rate=30mbit,size=700,src=2001:db8::/48,dst=2001:db8:1::1',
                    '--flow', 'rate=20mbit,size=300,src=172.16.0.1,vlan=7'], check=True)
    with open(pol, 'w') as f:
        f.write(policy(False))
    port = 9300 + os.getpid() % 500
    cmd = [a.sluice, '--no-huge', '-m', '2048', '--no-shconf', '--no-pci', '-l', '0-1',
           f'--file-prefix={PREFIX}', '--log-level=lib.eal:error',
           '--log-level=pmd.net.pcap:error', f'--vdev=net_pcap0,rx_pcap={cap},infinite_rx=1',
           '--vdev=net_null0,no-rx=1', '--', '--config', pol, '--duration', str(a.duration),
           '--stats-interval', '100000', '--report', rep, '--max-keys', '200000',
           '--metrics', f'127.0.0.1:{port}']
    log = open(os.path.join(tmp, 'sluice.log'), 'w')
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    t0 = time.monotonic()
    samples, problems, reloads, scrapes, stats = [], [], 0, 0, 0
    up = False  # the endpoint answered once: sluice is forwarding
    next_reload = next_sample = next_stats = 5.0
    swap = False
    try:
        while proc.poll() is None:
            t = time.monotonic() - t0
            if up and t >= a.duration + 3:
                # sluice's --duration began about when its endpoint first answered (t = 5):
                # it is stopping, and what it closes meanwhile is not a failure
                time.sleep(0.2)
                continue
            if t >= next_sample:
                samples.append((t, *rss_fds(proc.pid)))
                next_sample += 5
            if not up:
                try:
                    urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=10)
                    up = True
                    t0 = time.monotonic() - 5  # the schedule starts now
                    t = 5
                except OSError:
                    time.sleep(0.2)
                    continue
            if t >= next_reload and t < a.duration - 3:
                swap = not swap
                with open(pol + '.new', 'w') as f:
                    f.write(policy(swap))
                os.replace(pol + '.new', pol)
                if reloads % 2:
                    r = subprocess.run([a.ctl, '--prefix', PREFIX, 'reload'],
                                       capture_output=True, text=True, timeout=60)
                    if r.returncode:
                        problems.append(f'sluice-ctl reload: exit {r.returncode}: '
                                        f'{r.stdout.strip()[:200]}')
                else:
                    proc.send_signal(signal.SIGHUP)
                reloads += 1
                next_reload += RELOAD_S
            if t >= next_stats:
                r = subprocess.run([a.ctl, '--prefix', PREFIX, 'stats'], capture_output=True,
                                   text=True, timeout=60)
                if r.returncode:
                    problems.append(f'sluice-ctl stats: exit {r.returncode}')
                stats += 1
                next_stats += 2
            try:
                urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=10).read()
                scrapes += 1
            except OSError as e:
                problems.append(f'scrape at {t:.0f} s: {e}')
            time.sleep(1)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    out = open(os.path.join(tmp, 'sluice.log')).read()
    if proc.returncode != 0:
        problems.append(f'exit status {proc.returncode}')
    for line in out.splitlines():
        low = line.lower()
        clean = re.sub(r'(reload|tx) failures \d+', '', low)
        clean = clean.replace('refused a key', '')  # the table-full notes: the flood, expected
        clean = re.sub(r'errors 0\b', '', clean)  # the port lines' counters
        if re.search(r'error|cannot|refused|failed', clean):
            problems.append(f'output: {line.strip()[:200]}')
    # memory and fds after warm-up
    warm = max(10.0, 0.2 * a.duration)
    after = [s for s in samples if s[0] >= warm]
    print('t s      VmRSS kB   fds')
    for t, rss, fds in samples:
        print(f'{t:6.0f} {rss:10d} {fds:5d}')
    if len(after) >= 2:
        grow = after[-1][1] - after[0][1]
        if grow > 4096:
            problems.append(f'RSS grew {grow} kB after warm-up ({after[0][1]} -> {after[-1][1]})')
        if len({s[2] for s in after}) != 1:
            problems.append(f'fds changed after warm-up: {[s[2] for s in after]}')
    else:
        problems.append(f'{len(after)} samples after warm-up: run longer')
    # accounting
    try:
        with open(rep) as f:
            r = json.load(f)
    except (OSError, ValueError) as e:
        problems.append(f'report: {e}')
        r = None
    if r:
        rx = sum(int(m.group(1)) for m in re.finditer(r'port \d+ \S+: rx (\d+)', out))
        tx = sum(int(m.group(1)) for m in re.finditer(r'port \d+ \S+: rx \d+, tx (\d+)', out))
        lost = r['dropped']['packets'] + sum(t['queue_drops'] for t in r['tenants']) + \
            r['tx_dropped']
        if rx != r['packets'] or rx != tx + lost:
            problems.append(f'accounting: rx {rx}, report {r["packets"]}, tx {tx} + lost {lost}')
        for t in r['tenants']:
            if t['packets'] != t['conform_packets'] + t['exceed_packets']:
                problems.append(f'{t["name"]}: packets != conform + exceed')
        if r['reload_failures'] or r['generation'] != reloads + 1:
            problems.append(f'reloads: generation {r["generation"]} after {reloads}, '
                            f'failures {r["reload_failures"]}')
        ev = {t['name']: t['keys_evicted'] for t in r['tenants']}
        qf = {t['name']: t['quota_full'] for t in r['tenants']}
        print(f'frames {r["packets"]} (rx {rx}, tx {tx}, dropped {r["dropped"]["packets"]}); '
              f'reloads {reloads}, telemetry {stats}, scrapes {scrapes}; movers evicted '
              f'{ev.get("movers")}, flooder quota_full {qf.get("flooder")}')
        if a.duration >= 30 and not ev.get('movers'):
            problems.append('no idle key was evicted')
        if not qf.get('flooder'):
            problems.append('the flood never hit its quota')
    for p in problems[:20]:
        print(f'FAIL: {p}')
    print('sl-soak: ' + ('FAIL' if problems else 'pass') + f' ({a.duration:.0f} s)')
    if not a.workdir:
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
