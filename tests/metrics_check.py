#!/usr/bin/env python3
# metrics_check.py - the Prometheus endpoint (--metrics): valid exposition text (promtool check
# metrics), figures that agree with each other and with the final report, in both modes.
"""
usage: metrics_check.py [SLUICE [SL_GEN]]   (defaults: build/app/sluice, build/tools/sl-gen)

Runs sluice as root (net_pcap infinite_rx -> net_null, no hugepages) with --metrics on a free
loopback port: run-to-completion for 6 s, with a SIGHUP reload in the middle, then worker
mode for 3 s. Scrapes /metrics several times and requires:
  - `promtool check metrics` accepts every scrape (no errors, no lint problems);
  - counters never decrease between scrapes; per tenant packets = conform + exceed;
    the tenants' packets + unmatched + malformed <= sluice_packets_total (+ a burst per
    lcore: lcores are read one after the other while they run);
  - after the reload: generation 2, reloads_total 1, last_reload_duration_seconds > 0;
  - per lcore: packets and a busy ratio in [0, 1], a worker in worker mode; its core losses
    (count and seconds: over 1 ms each, within the uptime);
  - the last scrape is at most the final report, tenant by tenant;
  - 404 for another path, 405 for POST; a bad --metrics address: exit 1 with a message.
Exit status 0 pass, 1 fail, 77 skipped (not root, or promtool missing: Debian `prometheus`).
"""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POLICY = """sluice: 1
profiles:
  shared-drop: { mode: shared, rate: 20mbit, burst: 20KB, exceed: drop }
  per-src:     { mode: dedicated, key: src-ip, rate: 2mbit, burst: 8KB, exceed: mark, dscp: 10 }
tenants:
  - { name: alpha, profile: shared-drop, match: {src: 10.1.0.0/16} }
  - { name: beta, profile: per-src, match: {src: 10.2.0.0/16} }
"""
failures = []


def fail(msg):
    failures.append(msg)
    print(f'FAIL: {msg}')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def parse(text):
    """{(name, frozenset(labels)): value} of a scrape."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m:
            fail(f'unparsable line: {line}')
            continue
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ''))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def scrape(port, check=True):
    with urllib.request.urlopen(f'http://127.0.0.1:{port}/metrics', timeout=10) as r:
        ctype = r.headers.get('Content-Type', '')
        text = r.read().decode()
    if 'text/plain' not in ctype or 'version=0.0.4' not in ctype:
        fail(f'Content-Type {ctype!r}')
    if check:
        p = subprocess.run(['promtool', 'check', 'metrics'], input=text, text=True,
                           capture_output=True)
        if p.returncode != 0:
            fail(f'promtool check metrics: {(p.stdout + p.stderr).strip()[:600]}')
    return parse(text)


def tenant(m, metric, name):
    for (n, labels), v in m.items():
        if n == metric and ('tenant', name) in labels:
            return v
    return None


def check_scrape(m, where):
    for t in ('alpha', 'beta'):
        p = tenant(m, 'sluice_tenant_packets_total', t)
        c = tenant(m, 'sluice_tenant_conform_packets_total', t)
        e = tenant(m, 'sluice_tenant_exceed_packets_total', t)
        if None in (p, c, e) or p != c + e:
            fail(f'{where}: {t}: packets {p} != conform {c} + exceed {e}')
    tot = sum(v for (n, _), v in m.items() if n == 'sluice_tenant_packets_total')
    tot += m[('sluice_unmatched_packets_total', frozenset())]
    tot += m[('sluice_malformed_packets_total', frozenset())]
    # counters are read lcore by lcore while they run: a burst being finished may show in
    # its tenants' counts before the total (one burst per lcore at most)
    if tot > m[('sluice_packets_total', frozenset())] + 64 * 2:
        fail(f'{where}: tenants + unmatched + malformed {tot} > packets + a burst per lcore')
    for (n, labels), v in m.items():
        if n == 'sluice_lcore_busy_ratio' and not 0 <= v <= 1:
            fail(f'{where}: busy ratio {v} of {dict(labels)}')
    # every lcore's core losses, as counts and seconds, within the time it ran
    lcores = {k[1] for k in m if k[0] == 'sluice_lcore_packets_total'}
    up = m[('sluice_uptime_seconds', frozenset())]
    for fam in ('sluice_lcore_stalls_total', 'sluice_lcore_stalled_seconds_total'):
        got = {k[1] for k in m if k[0] == fam}
        if got != lcores:
            fail(f'{where}: {fam} for {sorted(map(dict, got), key=str)}, want every lcore')
    for lab in lcores:
        n = m.get(('sluice_lcore_stalls_total', lab), 0)
        sec = m.get(('sluice_lcore_stalled_seconds_total', lab), 0)
        if not 0 <= sec <= up + 1 or sec < n * 1e-3 or (n == 0 and sec != 0):
            fail(f'{where}: {dict(lab)}: {n} stalls of {sec} s in {up} s')


def monotonic(a, b, where):
    for k, v in a.items():
        if k[0].endswith('_total') and k in b and b[k] < v:
            fail(f'{where}: {k[0]}{dict(k[1])} went from {v} to {b[k]}')


def run(sluice, cap, tmp, workers):
    pol = os.path.join(tmp, 'p.yaml')
    rep = os.path.join(tmp, 'r.json')
    port = free_port()
    lcores = ['--lcores=0@0,1@1,2@0'] if workers else ['-l', '0-1']
    cmd = [sluice, '--no-huge', '-m', '1024', '--no-shconf', '--no-pci', *lcores,
           '--no-telemetry', f'--vdev=net_pcap0,rx_pcap={cap},infinite_rx=1',
           '--vdev=net_null0,no-rx=1', '--log-level=error', '--', '--config', pol,
           '--duration', '3' if workers else '6', '--quiet', '--report', rep,
           '--metrics', f'127.0.0.1:{port}'] + (['--workers', '1'] if workers else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    mode = 'worker' if workers else 'rtc'
    scrapes = []
    try:
        for _ in range(50):  # wait for the endpoint
            try:
                scrapes.append(scrape(port))
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        if not scrapes:
            fail(f'{mode}: no endpoint')
            return
        time.sleep(1)
        scrapes.append(scrape(port))
        if not workers:
            proc.send_signal(signal.SIGHUP)
            time.sleep(1.5)
            scrapes.append(scrape(port))
            req = urllib.request.Request(f'http://127.0.0.1:{port}/metrics', data=b'x')
            for url, want, r in ((f'http://127.0.0.1:{port}/nope', 404, None), (None, 405, req)):
                try:
                    urllib.request.urlopen(r or url, timeout=5)
                    fail(f'{url or "POST"}: answered 200, want {want}')
                except urllib.error.HTTPError as e:
                    if e.code != want:
                        fail(f'{url or "POST"}: {e.code}, want {want}')
        time.sleep(0.5)
        scrapes.append(scrape(port))
    finally:
        out, _ = proc.communicate(timeout=30)
    if proc.returncode != 0:
        fail(f'{mode}: exit {proc.returncode}: {out[-600:]}')
        return
    for i, m in enumerate(scrapes):
        check_scrape(m, f'{mode} scrape {i}')
        if i:
            monotonic(scrapes[i - 1], m, f'{mode} scrapes {i - 1}..{i}')
    last = scrapes[-1]
    roles = {dict(k[1]).get('role') for k in last if k[0] == 'sluice_lcore_packets_total'}
    want_roles = {'police', 'worker'} if workers else {'forward'}
    if roles != want_roles:
        fail(f'{mode}: lcore roles {roles}, want {want_roles}')
    if not workers:
        g = last[('sluice_policy_generation', frozenset())]
        n = last[('sluice_reloads_total', frozenset())]
        d = last[('sluice_last_reload_duration_seconds', frozenset())]
        print(f'{mode}: after SIGHUP: generation {g:.0f}, reloads {n:.0f}, last reload '
              f'{d * 1e3:.2f} ms')
        if g != 2 or n != 1 or not 0 < d < 5:
            fail(f'{mode}: after the reload: generation {g}, reloads {n}, duration {d}')
    with open(rep) as f:
        r = json.load(f)
    for t in r['tenants']:
        for k in ('packets', 'conform_packets', 'exceed_packets', 'bytes'):
            v = tenant(last, f'sluice_tenant_{k}_total', t['name'])
            if v is None or v > t[k]:
                fail(f'{mode}: {t["name"]}.{k}: last scrape {v} > report {t[k]}')
    busy = [v for k, v in last.items() if k[0] == 'sluice_lcore_busy_ratio']
    print(f'{mode}: {len(scrapes)} scrapes valid; {len(last)} series; packets '
          f'{last[("sluice_packets_total", frozenset())]:.0f} (report {r["packets"]}); '
          f'busy ratios {", ".join(f"{b:.3f}" for b in busy)}')


def main():
    sluice = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'build/app/sluice')
    gen = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, 'build/tools/sl-gen')
    if os.geteuid() != 0:
        print('SKIP: needs root (DPDK without hugepages)')
        return 77
    if not shutil.which('promtool'):
        print('SKIP: promtool is not installed (Debian package prometheus; tools/bootstrap '
              'installs it)')
        return 77
    bad = subprocess.run([sluice, '--no-huge', '--', '--config', 'x.yaml', '--metrics',
                          'localhost'], capture_output=True, text=True)
    if bad.returncode != 1 or 'ADDR:PORT' not in bad.stderr:
        fail(f'--metrics localhost: exit {bad.returncode}, {bad.stderr.strip()[:200]}')
    with tempfile.TemporaryDirectory(prefix='metrics-check.') as tmp:
        cap = os.path.join(tmp, 'c.pcap')
        subprocess.run([gen, '--out', cap, '--duration', '1', '--quiet', '--flow',
                        'rate=200mbit,size=600,src=10.1.0.0/24', '--flow',
                        'rate=50mbit,size=300,src=10.2.0.0/24,keys=20', '--flow',
                        'rate=10mbit,src=192.0.2.9'], check=True)
        with open(os.path.join(tmp, 'p.yaml'), 'w') as f:
            f.write(POLICY)
        run(sluice, cap, tmp, workers=False)
        run(sluice, cap, tmp, workers=True)
    print('metrics_check: ' + ('FAIL' if failures else 'pass'))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
