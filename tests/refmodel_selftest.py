#!/usr/bin/env python3
# refmodel_selftest.py - checks tools/sl-refmodel.py itself on tiny hand-built captures whose
# conforming counts are worked out by hand below: the model must be right before it judges C.
"""Usage: refmodel_selftest.py [--refmodel tools/sl-refmodel.py] [--workdir DIR]"""
import argparse
import importlib.util
import struct
import sys
import tempfile
import unittest
from fractions import Fraction
from pathlib import Path

RM = None  # the refmodel module
WORKDIR = None
T0 = 1_700_000_000 * 10**9
MS = 10**6


def load_refmodel(path):
    spec = importlib.util.spec_from_file_location('sl_refmodel', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# --- tiny frame builders (independent of sl-gen) ----------------------------------------------

def eth(payload, et, vlans=()):
    hdr = b'\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01'
    tpids = [0x88A8, 0x8100] if len(vlans) == 2 else [0x8100] * len(vlans)
    for tpid, v in zip(tpids, vlans):
        hdr += struct.pack('>HH', tpid, v)
    return hdr + struct.pack('>H', et) + payload


def ipv4(src, dst, proto, l4, frag=0x4000, ihl=5, version=4, tot=None):
    tot = 20 + len(l4) if tot is None else tot
    h = struct.pack('>BBHHHBBH4s4s', version << 4 | ihl, 0, tot, 1, frag, 64, proto, 0,
                    bytes(map(int, src.split('.'))), bytes(map(int, dst.split('.'))))
    return h + l4


def ipv6(src, dst, nh, payload, plen=None):
    import ipaddress
    plen = len(payload) if plen is None else plen
    return (struct.pack('>IHBB', 0x60000000, plen, nh, 64) + ipaddress.ip_address(src).packed
            + ipaddress.ip_address(dst).packed + payload)


def udp(sport, dport, n=0):
    return struct.pack('>HHHH', sport, dport, 8 + n, 0) + bytes(n)


def v4udp(src, dst, size, sport=1000, dport=53, vlans=()):
    """An Ethernet/IPv4/UDP frame of exactly size bytes."""
    n = size - 14 - 4 * len(vlans) - 28
    return eth(ipv4(src, dst, 17, udp(sport, dport, n)), 0x0800, vlans)


def write_pcap(path, frames, nano=True, big_endian=False):
    """frames: (ts_ns, data[, orig_len])"""
    e = '>' if big_endian else '<'
    with open(path, 'wb') as f:
        f.write(struct.pack(e + 'IHHiIII', 0xA1B23C4D if nano else 0xA1B2C3D4, 2, 4, 0, 0,
                            65535, 1))
        for fr in frames:
            ts, data = fr[0], fr[1]
            orig = fr[2] if len(fr) > 2 else len(data)
            frac = ts % 10**9 if nano else ts % 10**9 // 1000
            f.write(struct.pack(e + 'IIII', ts // 10**9, frac, len(data), orig) + data)


def run(policy_yaml, frames, max_keys=None, **kw):
    d = Path(WORKDIR)
    (d / 'p.yaml').write_text(policy_yaml)
    write_pcap(d / 'c.pcap', frames, **kw)
    m = RM.Model(RM.load_policy(d / 'p.yaml'), max_keys or RM.DEFAULT_MAX_KEYS).run(
        RM.read_pcap(d / 'c.pcap'))
    return m.report(), m


def tenant(rep, name):
    return next(t for t in rep['tenants'] if t['name'] == name)


def shared(rate, burst, extra=''):
    return f"""sluice: 1
unmatched: pass
profiles:
  p:
    mode: shared
    rate: {rate}
    burst: {burst}
    exceed: drop
{extra}
tenants:
  - name: t
    profile: p
"""


class Buckets(unittest.TestCase):
    def test_bits_800kbit_burst_3000B(self):
        # 24000 bits at t=0; 1000 B = 8000 bits per frame, refill 800 bits/ms. Conform at
        # 0, 1, 2 ms (left: 16000, 8800, 1600), then 1600 + 800k >= 8000 at k = 8 -> t = 10 ms
        # (left 0), then every 10 ms: 10..90 -> 3 + 9 = 12 of 100 frames.
        fr = [(T0 + i * MS, v4udp('10.0.0.1', '10.0.0.2', 1000)) for i in range(100)]
        rep, m = run(shared('800kbit', '3000B'), fr)
        t = tenant(rep, 't')
        conf = [i for i, v in enumerate(m.verdicts) if v == RM.V_CONFORM]
        self.assertEqual(conf, [0, 1, 2] + list(range(10, 100, 10)))
        self.assertEqual((t['conform_packets'], t['conform_bytes']), (12, 12000))
        self.assertEqual((t['exceed_packets'], t['exceed_bytes']), (88, 88000))
        self.assertEqual(rep['dropped'], {'packets': 88, 'bytes': 88000})

    def test_packets_10pps_burst_2(self):
        # 2 tokens, +0.5 per 50 ms frame: conform at 0, 50, 100 ms (2->1, 1.5->0.5, 1->0),
        # then 0.5 at 150 (exceed), 1 at 200 (conform) ... every 100 ms: 3 + 8 = 11 of 20.
        fr = [(T0 + i * 50 * MS, v4udp('10.0.0.1', '10.0.0.2', 64)) for i in range(20)]
        rep, m = run(shared('10pps', '2pkt'), fr)
        conf = [i for i, v in enumerate(m.verdicts) if v == RM.V_CONFORM]
        self.assertEqual(conf, [0, 1, 2, 4, 6, 8, 10, 12, 14, 16, 18])
        self.assertEqual(tenant(rep, 't')['conform_bytes'], 11 * 64)

    def test_limit_window_binds(self):
        # limit 10KB/1s: 80000-bit bucket refilling 800 bits per 10 ms; 1000 B frames every
        # 10 ms: 80000 + 800k - 8000k >= 8000 for k <= 10 -> frames 0..10, then one frame per
        # 100 ms (t = 200..900 ms) -> 11 + 8 = 19 of 100. The 1gbit rate bucket never binds.
        fr = [(T0 + i * 10 * MS, v4udp('10.0.0.1', '10.0.0.2', 1000)) for i in range(100)]
        rep, _ = run(shared('1gbit', '100000B', '    limits:\n      - { limit: 10KB, per: 1s }'),
                     fr)
        self.assertEqual(tenant(rep, 't')['conform_packets'], 19)

    def test_exceed_takes_nothing(self):
        b = [RM.Bucket(Fraction(800, MS), 24000), RM.Bucket(Fraction(16, MS), 16000)]
        k = RM.KeyState(b, 0)
        self.assertTrue(k.take(b, 0, 8000))
        self.assertTrue(k.take(b, MS, 8000))
        self.assertEqual(k.tokens, [16800 - 8000, 8016 - 8000])
        self.assertFalse(k.take(b, 2 * MS, 8000))  # second bucket short: nothing taken
        self.assertEqual(k.tokens, [9600, 32])
        self.assertTrue(k.take(b, 500 * MS, 8000))  # 16 + 16 * 499 = 8000 >= 8000
        self.assertEqual(k.tokens, [16000, 0])

    def test_exact_fraction_refill(self):
        # 1 bit/s: after 1.5 s (refill 1.5 bits), 1.5 tokens, not 1 or 2.
        b = [RM.Bucket(Fraction(1, 10**9), 10)]
        k = RM.KeyState(b, 0)
        k.tokens = [Fraction(0)]
        self.assertFalse(k.take(b, 1_500_000_000, 2))
        self.assertEqual(k.tokens, [Fraction(3, 2)])

    def test_dedicated_src_ip_keys_start_full(self):
        # two keys, each alone would see test_bits_800kbit_burst_3000B; the second appears
        # 50 ms late and starts full (three conforming frames in a row).
        pol = shared('800kbit', '3000B').replace('mode: shared', 'mode: dedicated\n    key: src-ip')
        fr = [(T0 + i * MS, v4udp('10.0.0.1', '10.0.0.9', 1000)) for i in range(100)]
        fr += [(T0 + (50 + i) * MS, v4udp('10.0.0.2', '10.0.0.9', 1000)) for i in range(50)]
        fr.sort(key=lambda x: x[0])
        rep, _ = run(pol, fr)
        t = tenant(rep, 't')
        # key 2 at 50..99 ms: conform at 50, 51, 52, 60, 70, 80, 90 -> 7
        self.assertEqual((t['conform_packets'], t['keys']), (12 + 7, 2))

    def test_max_keys_when_full(self):
        # max-keys 2, 1 token per key, 1 pps (no refill within 6 ns); sources 1 2 3 4 3 1:
        # 1 and 2 get slots, the frames of 3, 4, 3 find the quota taken (quota_full 3), the
        # last frame of 1 finds its bucket empty (exceed). when-full drop: 3 4 3 refused
        # (exceed, dropped); pass: they conform; shared: 3 takes the one overflow token, 4 and
        # 3 again exceed.
        order = [1, 2, 3, 4, 3, 1]
        fr = [(T0 + i, v4udp(f'10.0.0.{s}', '10.9.9.9', 100)) for i, s in enumerate(order)]
        want = {'drop': ([RM.V_CONFORM, RM.V_CONFORM] + [RM.V_NOSLOT_DROP] * 3 + [RM.V_DROP], 2),
                'pass': ([RM.V_CONFORM, RM.V_CONFORM] + [RM.V_NOSLOT_FWD] * 3 + [RM.V_DROP], 5),
                'shared': ([RM.V_CONFORM] * 3 + [RM.V_DROP] * 3, 3)}
        for wf, (verdicts, conform) in want.items():
            pol = shared('1pps', '1pkt', f'    max-keys: 2\n    when-full: {wf}').replace(
                'mode: shared', 'mode: dedicated')
            rep, m = run(pol, fr)
            t = tenant(rep, 't')
            self.assertEqual(list(m.verdicts), verdicts, wf)
            self.assertEqual((t['conform_packets'], t['quota_full'], t['table_full'],
                              t['keys']), (conform, 3, 0, 2), wf)

    def test_key_budget(self):
        # the same sources, no quota, a budget of 3 units; a profile with a limit takes 2
        # units a key: one key, then the budget is taken (table_full); one bucket: 3 keys
        order = [1, 2, 3, 4, 3, 1]
        fr = [(T0 + i, v4udp(f'10.0.0.{s}', '10.9.9.9', 100)) for i, s in enumerate(order)]
        one = shared('1pps', '1pkt', '    when-full: drop').replace('mode: shared',
                                                                     'mode: dedicated')
        rep, _ = run(one, fr, max_keys=3)
        t = tenant(rep, 't')
        self.assertEqual((t['keys'], t['table_full'], t['quota_full']), (3, 1, 0))
        two = one.replace('    when-full: drop', '    when-full: drop\n    limits: [{limit: 10pkt, per: 1m}]')
        rep, _ = run(two, fr, max_keys=3)
        t = tenant(rep, 't')
        self.assertEqual((t['keys'], t['table_full'], t['quota_full']), (1, 4, 0))

    def test_orig_len_is_the_cost(self):
        # snapped records: 100 bytes captured, 1000 on the wire; cost and bytes use 1000
        f = v4udp('10.0.0.1', '10.0.0.2', 1000)[:100]
        fr = [(T0 + i * MS, f, 1000) for i in range(100)]
        rep, _ = run(shared('800kbit', '3000B'), fr)
        t = tenant(rep, 't')
        self.assertEqual((t['conform_packets'], t['bytes']), (12, 100000))

    def test_cost_capped_at_65535_bytes(self):
        # a frame of 66000 bytes on the wire costs 8 x 65535 = 524,280 bits (sl_engine.c
        # cost_of), its bytes count whole. Burst 70000 B (560,000 bits), 800 bits/ms: the
        # first leaves 35,720, the second (T0) exceeds, the third at 612 ms finds 35,720 +
        # 489,600 = 525,320 >= 524,280 (8 x 66000 = 528,000 would not fit)
        f = v4udp('10.0.0.1', '10.0.0.2', 1000)[:100]
        fr = [(T0, f, 66000), (T0, f, 66000), (T0 + 612 * MS, f, 66000)]
        rep, _ = run(shared('800kbit', '70000B'), fr)
        t = tenant(rep, 't')
        self.assertEqual((t['conform_packets'], t['conform_bytes'], t['exceed_packets'],
                          t['bytes']), (2, 132000, 1, 198000))

    def test_us_and_big_endian_pcaps(self):
        fr = [(T0 + i * MS, v4udp('10.0.0.1', '10.0.0.2', 1000)) for i in range(100)]
        for nano, be in ((False, False), (False, True), (True, True)):
            rep, _ = run(shared('800kbit', '3000B'), fr, nano=nano, big_endian=be)
            self.assertEqual(tenant(rep, 't')['conform_packets'], 12)


def tcp(sport, dport, flags):
    return struct.pack('>HHIIBBHHH', sport, dport, 0, 0, 0x50, flags, 0, 0, 0)


def v4tcp(src, sport, flags, dst='10.9.9.9'):
    return eth(ipv4(src, dst, 6, tcp(sport, 80, flags)), 0x0800)


SYN, ACK, FIN, RST = 0x02, 0x10, 0x11, 0x14  # FIN and RST with ACK, as hosts send them
SEC = 10**9


def flows_policy(cap, mode='shared', extra=''):
    key = '\n    key: src-ip' if mode == 'dedicated' else ''
    return f"""sluice: 1
unmatched: pass
profiles:
  p:
    mode: {mode}{key}
    rate: 1000pps
    burst: 1000pkt
    exceed: drop
    max-flows: {cap}
{extra}
tenants:
  - name: t
    profile: p
"""


class MaxFlows(unittest.TestCase):
    """The rules of lib/sl_flow.h on hand-built captures (the buckets never bind here)."""

    def verdicts(self, rep, m):
        return ''.join('A' if v == RM.V_CONFORM else 'r' for v in m.verdicts)

    def test_udp_cap_and_refused_memory(self):
        # cap 2: flows 1 and 2 admitted; 3 and 4 refused and remembered (2 = cap); 5 refused
        # and forgotten. Every frame of 1, 2 conforms; of 3, 4, 5 is refused.
        order = [1, 2, 3, 1, 4, 5, 2, 3, 5, 1]
        fr = [(T0 + i * MS, v4udp('10.0.0.1', '10.0.0.2', 100, sport=s))
              for i, s in enumerate(order)]
        rep, m = run(flows_policy(2), fr)
        self.assertEqual(self.verdicts(rep, m), 'AArArrArrA')
        t = tenant(rep, 't')
        self.assertEqual((t['flow_refused'], t['exceed_packets'], t['conform_packets']),
                         (5, 5, 5))
        self.assertEqual(t['flows'], 2)
        self.assertEqual(m.ts[0].flows.count[None], [2, 2])

    def test_tcp_fin_rst_syn(self):
        # cap 1. 1 SYN: admitted. 2 SYN: refused (remembered). 1 FIN: admitted, flow 1 ends.
        # 2 ACK: refused (a refused flow stays refused). 1 ACK: the tail of flow 1, admitted.
        # 3 SYN: room, admitted. 2 RST: refused, flow 2 ends. 2 SYN: a new flow 2, no room
        # (flow 3): refused. 3 RST: admitted, ends. 4 FIN, unknown: room, admitted, nothing
        # kept. 2 ACK: still refused. 2 SYN: refused (live). 5 SYN: room, admitted.
        seq = [(1, SYN), (2, SYN), (1, FIN), (2, ACK), (1, ACK), (3, SYN), (2, RST), (2, SYN),
               (3, RST), (4, FIN), (2, ACK), (2, SYN), (5, SYN)]
        fr = [(T0 + i * MS, v4tcp('10.0.0.1', 1000 + s, f)) for i, (s, f) in enumerate(seq)]
        rep, m = run(flows_policy(1), fr)
        self.assertEqual(self.verdicts(rep, m), 'ArAr' + 'AArr' + 'AArrA')
        t = tenant(rep, 't')
        self.assertEqual((t['flow_refused'], t['flows']), (6, 1))
        self.assertEqual(sorted(k[4] for k in m.ts[0].flows.flows), [1001, 1002, 1003, 1005])

    def test_idle_sweeps_and_lazy_end(self):
        # cap 1, flow-idle 1s; sweeps at the first frame >= 1 s after the previous one (the
        # first frame at T0 starts the clock).
        #  T0+0.1  A: admitted.
        #  T0+1.0  B: sweep (A idle 0.9 s: stays); B refused (remembered).
        #  T0+1.5  A: stale (1.4 s), not swept: ends and starts again, admitted.
        #  T0+1.6  C: refused (A).
        #  T0+2.0  D: sweep (B 1.0 s idle: removed; A 0.5, C 0.4: stay); refused.
        #  T0+2.7  B: a new flow, refused (A still counts until its own idle).
        #  T0+3.0  C: sweep (A 1.5 s: expires; C 1.4 s: removed; D 1.0 s: removed; B stays);
        #          C is new again: admitted.
        #  T0+3.2  B: refused (fresh since T0+2.7), and T0+3.8 again (fresh since T0+3.2).
        # Left: B (refused) and C (admitted); A went at the sweep of T0+3.0.
        seq = [(0.1, 'A'), (1.0, 'B'), (1.5, 'A'), (1.6, 'C'), (2.0, 'D'), (2.7, 'B'),
               (3.0, 'C'), (3.2, 'B'), (3.8, 'B')]
        port = {'A': 1, 'B': 2, 'C': 3, 'D': 4}
        fr = [(T0, v4udp('10.1.1.1', '10.0.0.2', 100))]  # unmatched by the tenant: a clock
        fr += [(T0 + round(t * SEC), v4udp('10.0.0.1', '10.0.0.2', 100, sport=port[f]))
               for t, f in seq]
        pol = flows_policy(1, extra='    flow-idle: 1s').replace(
            '    profile: p\n', '    profile: p\n    match: { src: 10.0.0.1 }\n')
        rep, m = run(pol, fr)
        self.assertEqual(self.verdicts(rep, m)[1:], 'Ar' + 'Arr' + 'rAr' + 'r')
        t = tenant(rep, 't')
        self.assertEqual((t['flow_refused'], t['flows']), (6, 1))
        self.assertEqual(sorted(k[4] for k in m.ts[0].flows.flows), [2, 3])

    def test_per_key_caps(self):
        # dedicated per source, cap 1: each source gets its first flow; the second flow of
        # each is refused; a refused frame creates no key and takes no token
        seq = [('10.0.0.1', 1), ('10.0.0.2', 1), ('10.0.0.1', 2), ('10.0.0.2', 2),
               ('10.0.0.3', 9), ('10.0.0.1', 1)]
        fr = [(T0 + i * MS, v4udp(src, '10.0.0.9', 100, sport=sp))
              for i, (src, sp) in enumerate(seq)]
        rep, m = run(flows_policy(1, 'dedicated'), fr)
        self.assertEqual(self.verdicts(rep, m), 'AArrAA')
        t = tenant(rep, 't')
        self.assertEqual((t['flow_refused'], t['flows'], t['keys']), (2, 3, 3))

    def test_refused_frames_take_no_tokens(self):
        # 3 tokens, no refill to speak of (1 pkt per 1000 s); cap 1: A admitted, B refused.
        # A A A conform (3 tokens), B B refused (no token taken), the 4th A exceeds.
        pol = flows_policy(1).replace('1000pps', '0.001pps').replace('1000pkt', '3pkt')
        seq = [1, 2, 1, 2, 1, 1]
        fr = [(T0 + i * MS, v4udp('10.0.0.1', '10.0.0.2', 100, sport=s))
              for i, s in enumerate(seq)]
        rep, m = run(pol, fr)
        t = tenant(rep, 't')
        self.assertEqual(self.verdicts(rep, m), 'ArArAr')
        self.assertEqual((t['conform_packets'], t['exceed_packets'], t['flow_refused']),
                         (3, 3, 2))

    def test_fragments_and_icmp(self):
        # cap 1. A UDP flow is admitted; a later fragment (no ports) is no flow: it is
        # policed (conforms); a first fragment carries its ports: a flow, refused; ICMP
        # frames are flows of (src, dst, proto): refused; non-IP frames are no flows.
        frames = [
            v4udp('10.0.0.1', '10.0.0.2', 100, sport=1),
            eth(ipv4('10.0.0.1', '10.0.0.2', 17, udp(7, 7, 30), frag=0x2000 | 185), 0x0800),
            eth(ipv4('10.0.0.1', '10.0.0.2', 17, udp(7, 7, 30), frag=0x2000), 0x0800),
            eth(ipv4('10.0.0.1', '10.0.0.2', 1, bytes(8)), 0x0800),
            eth(ipv6('2001:db8::1', '2001:db8::2', 44,
                     bytes([17, 0, 0x05, 0xC8, 0, 0, 0, 1]) + udp(1, 53, 10)), 0x86DD),
            eth(b'\x00' * 28, 0x0806),
        ]
        rep, m = run(flows_policy(1), [(T0 + i, f) for i, f in enumerate(frames)])
        self.assertEqual(self.verdicts(rep, m), 'AArrAA')
        p = RM.parse(frames[2])
        self.assertEqual((p.frag, p.has_ports), (True, True))
        self.assertEqual(RM.flow_of(RM.parse(frames[1])), None)
        self.assertEqual(RM.flow_of(RM.parse(frames[5])), None)
        self.assertEqual(RM.parse(v4tcp('10.0.0.1', 5, SYN | 0x01)).tcp_flags, 0x03)
        self.assertEqual(RM.parse(eth(ipv4('10.0.0.1', '10.0.0.2', 6, tcp(1, 2, SYN)[:13]),
                                      0x0800)).tcp_flags, 0)

    def test_profile_fields(self):
        base = {'mode': 'shared', 'rate': '8mbit', 'burst': '2KB', 'exceed': 'drop'}
        p = RM.Profile('x', dict(base, **{'max-flows': 5}))
        self.assertEqual((p.max_flows, p.flow_idle_ns), (5, 30 * SEC))
        p = RM.Profile('x', dict(base, **{'max-flows': 1 << 32, 'flow-idle': '2m',
                                          'max-queue': 64}))
        self.assertEqual((p.max_flows, p.flow_idle_ns, p.max_queue), (1 << 32, 120 * SEC, 64))
        self.assertIsNone(RM.Profile('x', base).max_flows)
        for bad in ({'max-flows': 0}, {'flow-idle': '30s'}, {'max-flows': 2, 'flow-idle': '1.5s'},
                    {'max-queue': 0}, {'max-flows': (1 << 32) + 1}):
            with self.assertRaises(RM.PolicyError, msg=str(bad)):
                RM.Profile('x', dict(base, **bad))


CLASSIFY = """sluice: 1
unmatched: drop
profiles:
  p: { mode: shared, rate: 1gbit, burst: 1MB, exceed: drop }
  d5: { mode: dedicated, key: 5-tuple, rate: 1gbit, burst: 1MB, exceed: drop }
  dd: { mode: dedicated, key: dst-ip, rate: 1gbit, burst: 1MB, exceed: drop }
tenants:
  - { name: qinq, profile: p, match: { vlan: 100 } }
  - { name: inner, profile: p, match: { vlan: 5 } }
  - { name: dns6, profile: p, match: { src: "2001:db8::/32", proto: udp, dst-port: 53 } }
  - { name: v6, profile: p, match: { src: "2001:db8::/32" } }
  - { name: icmp6, profile: p, match: { dst: "2001:db9::/32", proto: icmp } }
  - { name: web, profile: d5, match: { dst: 10.0.0.0/8, proto: tcp, dst-port: 80-88 } }
  - { name: frag4, profile: dd, match: { dst: 10.0.0.0/8, proto: udp } }
"""


class Classify(unittest.TestCase):
    def test_matches(self):
        hop_dst = bytes([60, 0, 1, 4, 0, 0, 0, 0]) + bytes([17, 0, 1, 4, 0, 0, 0, 0])
        tcp80 = struct.pack('>HHIIBBHHH', 5000, 80, 0, 0, 0x50, 0x10, 0, 0, 0)
        tcp90 = struct.pack('>HHIIBBHHH', 5000, 90, 0, 0, 0x50, 0x10, 0, 0, 0)
        frames = [
            v4udp('1.1.1.1', '2.2.2.2', 100, vlans=(100, 5)),  # qinq: outer tag 100
            v4udp('1.1.1.1', '2.2.2.2', 100, vlans=(5,)),  # inner
            eth(ipv6('2001:db8::1', '2001:db8::2', 0, hop_dst + udp(1, 53, 10)), 0x86DD),
            eth(ipv6('2001:db8::1', '2001:db8::2', 17, udp(1, 54, 10)), 0x86DD),  # v6
            # later fragment: no ports -> not dns6 -> v6
            eth(ipv6('2001:db8::1', '2001:db8::2', 44,
                     bytes([17, 0, 0x05, 0xC8, 0, 0, 0, 1]) + udp(1, 53, 10)), 0x86DD),
            eth(ipv6('2001:db7::1', '2001:db9::2', 58, bytes(8)), 0x86DD),  # icmp6
            eth(ipv6('2001:db7::1', '2001:db9::2', 1, bytes(8)), 0x86DD),  # proto 1: none
            eth(ipv4('9.9.9.9', '10.1.1.1', 6, tcp80), 0x0800),  # web
            eth(ipv4('9.9.9.9', '10.1.1.1', 6, tcp90), 0x0800),  # port out of range: none
            eth(ipv4('9.9.9.9', '10.1.1.1', 6, tcp80, frag=185), 0x0800),  # no ports: none
            eth(ipv4('9.9.9.9', '10.1.1.2', 17, udp(1, 2, 30), frag=0x2000 | 185), 0x0800),
            eth(ipv4('9.9.9.9', '10.1.1.3', 17, udp(1, 2, 30), frag=0x2000), 0x0800),
            eth(b'\x00' * 28, 0x0806),  # ARP: unmatched, not malformed
            # third tag: non-IP, outer vlan 7: unmatched
            eth(struct.pack('>HHHH', 8, 0x8100, 9, 0x0800) + b'\x00' * 40, 0x8100, (7,)),
        ]
        rep, m = run(CLASSIFY, [(T0 + i, f) for i, f in enumerate(frames)])
        got = [m.pol.tenants[i].name if i >= 0 else '-' for i in m.tenant_of]
        self.assertEqual(got, ['qinq', 'inner', 'dns6', 'v6', 'v6', 'icmp6', '-', 'web', '-',
                               '-', 'frag4', 'frag4', '-', '-'])
        self.assertEqual(tenant(rep, 'frag4')['keys'], 2)
        self.assertEqual(rep['unmatched']['packets'], 5)
        self.assertEqual(rep['malformed']['packets'], 0)
        self.assertEqual(rep['dropped']['packets'], 5)

    def test_malformed(self):
        good = v4udp('1.1.1.1', '10.1.1.1', 100)
        l4 = udp(1, 2, 10)
        ext = bytes([0, 0, 1, 4, 0, 0, 0, 0])
        frames = [
            good[:13],  # runt
            v4udp('1.1.1.1', '2.2.2.2', 100, vlans=(5,))[:17],  # VLAN tag cut
            good[:14 + 19],  # IPv4 header cut
            eth(ipv4('1.1.1.1', '10.1.1.1', 17, l4, ihl=4), 0x0800),
            eth(ipv4('1.1.1.1', '10.1.1.1', 17, l4, version=6), 0x0800),
            eth(ipv4('1.1.1.1', '10.1.1.1', 17, l4, ihl=15), 0x0800),  # header > frame
            eth(ipv4('1.1.1.1', '10.1.1.1', 17, l4, tot=19), 0x0800),  # total < header
            eth(ipv4('1.1.1.1', '10.1.1.1', 17, l4, tot=22), 0x0800),  # ports cut by total
            eth(ipv6('2001:db8::1', '2001:db8::2', 17, l4, plen=3), 0x86DD),
            eth(ipv6('2001:db8::1', '2001:db8::2', 17, l4)[:39], 0x86DD),
            eth(ipv6('2001:db8::1', '2001:db8::2', 0, ext * 8 + l4), 0x86DD),  # 9 ext headers
            eth(ipv6('2001:db8::1', '2001:db8::2', 0, ext * 7 + bytes([17]) + ext[1:] + l4),
                0x86DD),  # 8 ext headers: fine -> tenant v6
            # hop-by-hop header of 48 bytes in a 26-byte payload
            eth(ipv6('2001:db8::1', '2001:db8::2', 0, bytes([17, 5]) + bytes(6) + l4), 0x86DD),
            eth(ipv4('1.1.1.1', '10.1.1.1', 1, b''), 0x0800),  # ICMP without body: fine
        ]
        rep, m = run(CLASSIFY, [(T0 + i, f) for i, f in enumerate(frames)])
        self.assertEqual(list(m.verdicts), [RM.V_MALFORMED_DROP] * 11 + [RM.V_CONFORM]
                         + [RM.V_MALFORMED_DROP] + [RM.V_UNMATCHED_DROP])
        self.assertEqual(m.tenant_of[11], 3)
        self.assertEqual(rep['malformed'], {'packets': 12, 'bytes': sum(
            len(f) for f in frames[:11] + frames[12:13])})


def v6udp(src, dst, size, sport=1000, dport=53, vlans=()):
    """An Ethernet/IPv6/UDP frame of exactly size bytes."""
    n = size - 14 - 4 * len(vlans) - 48
    return eth(ipv6(src, dst, 17, udp(sport, dport, n)), 0x86DD, vlans)


def tagged(tags, payload=None, et=0x0800):
    """A frame with the given (TPID, TCI) tags in order, then et and an IPv4/UDP packet."""
    hdr = b'\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01'
    for tpid, tci in tags:
        hdr += struct.pack('>HH', tpid, tci)
    if payload is None:
        payload = ipv4('10.0.0.1', '10.0.0.2', 17, udp(1, 2, 10))
    return hdr + struct.pack('>H', et) + payload


def names(m):
    return [m.pol.tenants[i].name if i >= 0 else '-' for i in m.tenant_of]


class Matches(unittest.TestCase):
    """Lists of match blocks, inner-vlan, port, and the merge of several captures."""

    def test_list_one_bucket(self):
        # one tenant, an IPv4 and an IPv6 block, one shared bucket: 1000-byte frames every
        # 1 ms alternating IPv4 (even) and IPv6 (odd) conform exactly as one family alone in
        # test_bits_800kbit_burst_3000B: 0, 1, 2, then every 10 ms -> 12, of which IPv6 only
        # frame 1 (every later conforming index is even).
        pol = shared('800kbit', '3000B') + \
            '    match: [ { src: 10.0.0.0/24 }, { src: "2001:db8::/32" } ]\n'
        fr = [(T0 + i * MS, v4udp('10.0.0.1', '10.9.9.9', 1000) if i % 2 == 0 else
               v6udp('2001:db8::1', '2001:db9::9', 1000)) for i in range(100)]
        self.assertEqual(len(fr[1][1]), 1000)
        rep, m = run(pol, fr)
        conf = [i for i, v in enumerate(m.verdicts) if v == RM.V_CONFORM]
        self.assertEqual(conf, [0, 1, 2] + list(range(10, 100, 10)))
        t = tenant(rep, 't')
        self.assertEqual((t['packets'], t['conform_bytes'], t['keys']), (100, 12000, 1))

    def test_list_any_block_first_tenant(self):
        pol = """sluice: 1
unmatched: pass
profiles:
  p: { mode: shared, rate: 1gbit, burst: 1MB, exceed: drop }
tenants:
  - { name: a, profile: p, match: [ { vlan: 5 }, { dst: 10.9.0.0/16, proto: udp } ] }
  - { name: b, profile: p, match: { proto: udp } }
  - name: c
    profile: p
    match: [ { src: "2001:db8::/32", proto: icmp }, { proto: icmp }, {dst: 10.8.0.0/16} ]
  - { name: d, profile: p, match: [ { vlan: 5 } ] }
"""
        frames = [
            eth(ipv4('1.1.1.1', '10.8.0.1', 6, tcp(1, 2, 0)), 0x0800, (5,)),  # a: block 1
            v4udp('1.1.1.1', '10.9.1.1', 100),  # a: block 2
            v4udp('1.1.1.1', '10.8.1.1', 100),  # b (c's third block comes later)
            eth(ipv6('2001:db8::1', '2001:db9::1', 58, bytes(8)), 0x86DD),  # c: ICMPv6
            eth(ipv4('1.1.1.1', '2.2.2.2', 1, bytes(8)), 0x0800),  # c: block 2, ICMPv4
            # block 1 needs 2001:db8::/32, block 2 means ICMPv4 (no family given): none
            eth(ipv6('2001:db9::1', '2001:db9::2', 58, bytes(8)), 0x86DD),
            # protocol 1 in IPv6: not block 1 (ICMPv6 is 58 there), but block 2: icmp without
            # an address is protocol number 1, compared in any family
            eth(ipv6('2001:db8::1', '2001:db9::2', 1, bytes(8)), 0x86DD),
            eth(ipv4('1.1.1.1', '10.8.0.1', 6, tcp(1, 2, 0)), 0x0800),  # c: block 3
        ]
        rep, m = run(pol, [(T0 + i, f) for i, f in enumerate(frames)])
        self.assertEqual(names(m), ['a', 'a', 'b', 'c', 'c', '-', 'c', 'c'])
        self.assertEqual(tenant(rep, 'd')['packets'], 0)  # a takes every vlan 5 frame

    def test_match_forms_and_errors(self):
        self.assertEqual(len(RM.Match('t', None).blocks), 1)  # no match: everything
        p = RM.parse(v4udp('1.1.1.1', '2.2.2.2', 100))
        self.assertTrue(RM.Match('t', None).matches(p, 7))
        self.assertTrue(RM.Match('t', {}).matches(p, 0))
        self.assertTrue(RM.Match('t', [{}]).matches(p, 3))
        b = RM.Match('t', {'port': '7', 'inner-vlan': 0, 'vlan': 4095}).blocks[0]
        self.assertEqual((b.port, b.inner_vlan, b.vlan), (7, 0, 4095))
        self.assertEqual(len(RM.Match('t', [{'vlan': 1}, {'port': 2}, {}]).blocks), 3)
        for bad in ([], [{}, None], [{'src': '10.0.0.0/8', 'dst': '::/0'}], {'inner-vlan': 4096},
                    {'port': 65536}, {'vlan': -1}, {'port': 'x'}, {'port': '07'},
                    {'inner_vlan': 1}, [{'vlan': 1}, {'dst-port': 53}], 'vlan', {'port': True}):
            with self.assertRaises(RM.PolicyError, msg=str(bad)):
                RM.Match('t', bad)

    def test_parse_inner_vlan(self):
        q, d, c = 0x88A8, 0x8100, 0x9100
        cases = [
            ([], (None, None)),
            ([(d, 100)], (100, None)),
            ([(q, 300), (d, 10)], (300, 10)),
            ([(c, 0xE000 | 300), (d, 0x1000 | 10)], (300, 10)),  # PCP and DEI bits dropped
            ([(d, 7), (d, 8)], (7, 8)),
            ([(q, 300), (q, 4095)], (300, 4095)),
        ]
        for tags, want in cases:
            p = RM.parse(tagged(tags))
            self.assertEqual((p.vlan, p.inner_vlan, p.family), want + (4,), tags)
        # a third tag: the parse stops there, a non-IP frame with both IDs kept
        p = RM.parse(tagged([(q, 300), (d, 10)], struct.pack('>HH', 5, 0x0800) + bytes(40),
                            et=0x8100))
        self.assertEqual((p.vlan, p.inner_vlan, p.family, p.proto), (300, 10, 0, 0))
        # a TPID sluice does not take (0x88e7) is no tag: non-IP, untagged
        p = RM.parse(tagged([(0x88E7, 300)]))
        self.assertEqual((p.vlan, p.inner_vlan, p.family), (None, None, 0))
        self.assertIsNone(RM.parse(tagged([(q, 300)])[:20]))  # second tag cut: malformed

    def test_inner_vlan_tenants(self):
        pol = """sluice: 1
unmatched: pass
profiles:
  p: { mode: shared, rate: 1gbit, burst: 1MB, exceed: drop }
tenants:
  - { name: sub-a, profile: p, match: { vlan: 300, inner-vlan: 10 } }
  - { name: sub-b, profile: p, match: { vlan: 300, inner-vlan: 20 } }
  - { name: svlan, profile: p, match: { vlan: 300 } }
  - { name: c10, profile: p, match: { inner-vlan: 10 } }
"""
        q, d = 0x88A8, 0x8100
        third = struct.pack('>HH', 99, 0x0800) + bytes(40)
        frames = [tagged([(q, 300), (d, 10)]), tagged([(q, 300), (d, 20)]),
                  tagged([(d, 300)]), tagged([(q, 300), (d, 30)]), tagged([(q, 301), (d, 10)]),
                  tagged([(d, 10)]), tagged([(q, 20), (d, 300)]), tagged([]),
                  tagged([(q, 300), (d, 10)], third, et=0x8100), tagged([(q, 7), (d, 10)])]
        rep, m = run(pol, [(T0 + i, f) for i, f in enumerate(frames)])
        self.assertEqual(names(m), ['sub-a', 'sub-b', 'svlan', 'svlan', 'c10', '-', '-', '-',
                                    'sub-a', 'c10'])
        self.assertEqual(rep['unmatched']['packets'], 3)

    def test_port_tenants(self):
        pol = """sluice: 1
unmatched: drop
profiles:
  p: { mode: shared, rate: 1gbit, burst: 1MB, exceed: drop }
tenants:
  - { name: up, profile: p, match: { port: 0, src: 10.5.0.0/16 } }
  - { name: down, profile: p, match: { port: 1, dst: 10.5.0.0/16 } }
  - { name: p1, profile: p, match: [ { port: 1 }, { port: 3, vlan: 9 } ] }
"""
        inside = v4udp('10.5.1.1', '10.5.2.2', 100)
        outside = v4udp('1.1.1.1', '2.2.2.2', 100)
        seq = [(inside, 0), (inside, 1), (inside, 2), (outside, 1), (outside, 0),
               (v4udp('1.1.1.1', '10.5.0.9', 100), 0), (v4udp('1.1.1.1', '10.5.0.9', 100), 1),
               (v4udp('1.1.1.1', '2.2.2.2', 100, vlans=(9,)), 3), (outside, 3), (outside, 65535)]
        d = Path(WORKDIR)
        (d / 'p.yaml').write_text(pol)
        m = RM.Model(RM.load_policy(d / 'p.yaml')).run(
            [(T0 + i, len(f), f, port) for i, (f, port) in enumerate(seq)])
        self.assertEqual(names(m), ['up', 'down', '-', 'p1', '-', '-', 'down', 'p1', '-', '-'])
        self.assertEqual(m.report()['dropped']['packets'], 5)
        # without a port (one capture, run() with 3-tuples) every frame is port 0's
        m = RM.Model(RM.load_policy(d / 'p.yaml')).run([(T0, len(inside), inside)])
        self.assertEqual(names(m), ['up'])

    def test_merge(self):
        # the earliest next frame; equal timestamps: the lower port; each capture in its own
        # order even where it goes back in time (capture 3: 40 then 15)
        caps = [[(10, 1, b'a0'), (20, 1, b'a1'), (20, 1, b'a2'), (30, 1, b'a3')],
                [(5, 1, b'b0'), (20, 1, b'b1'), (25, 1, b'b2')],
                [(20, 1, b'c0')],
                [(40, 1, b'd0'), (15, 1, b'd1')],
                []]
        got = [(ts, data.decode(), port) for ts, _, data, port in RM.merge(caps)]
        self.assertEqual(got, [(5, 'b0', 1), (10, 'a0', 0), (20, 'a1', 0), (20, 'a2', 0),
                               (20, 'b1', 1), (20, 'c0', 2), (25, 'b2', 1), (30, 'a3', 0),
                               (40, 'd0', 3), (15, 'd1', 3)])
        self.assertEqual(list(RM.merge([])), [])

    def test_cli_several_in(self):
        # two captures as --in: port 0 and port 1, merged; the same report as in-process
        import contextlib
        import io
        import json
        d = Path(WORKDIR)
        pol = """sluice: 1
unmatched: pass
profiles:
  up: { mode: shared, rate: 800kbit, burst: 3000B, exceed: drop }
  down: { mode: shared, rate: 1gbit, burst: 1MB, exceed: drop }
tenants:
  - { name: up, profile: up, match: { port: 0 } }
  - { name: down, profile: down, match: { port: 1 } }
"""
        (d / 'p.yaml').write_text(pol)
        f = v4udp('10.0.0.1', '10.0.0.2', 1000)
        write_pcap(d / 'a.pcap', [(T0 + i * MS, f) for i in range(100)])
        write_pcap(d / 'b.pcap', [(T0 + i * MS, f) for i in range(50)], nano=False)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = RM.main(['--config', str(d / 'p.yaml'), '--in', str(d / 'a.pcap'), '--in',
                          str(d / 'b.pcap'), '--json'])
        self.assertEqual(rc, 0)
        rep = json.loads(out.getvalue())
        # up: test_bits_800kbit_burst_3000B (12 of 100); down: all 50
        self.assertEqual([(t['packets'], t['conform_packets']) for t in rep['tenants']],
                         [(100, 12), (50, 50)])
        self.assertEqual(rep['packets'], 150)
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
            RM.main(['--config', str(d / 'p.yaml')] + ['--in', str(d / 'a.pcap')] * 17)


class Units(unittest.TestCase):
    def test_rates(self):
        self.assertEqual(RM.parse_rate('8mbit'), ('bits', Fraction(8, 1000)))
        self.assertEqual(RM.parse_rate('1.5kbit'), ('bits', Fraction(15, 10**7)))
        self.assertEqual(RM.parse_rate('0.5pps'), ('packets', Fraction(1, 2 * 10**9)))
        self.assertEqual(RM.parse_rate('2.5mpps'), ('packets', Fraction(25, 10**4)))
        self.assertEqual(RM.parse_rate('1tbit'), ('bits', Fraction(1000)))
        for bad in ('8mbps', '8Mbps', '8', 'mbit', '0kbit', '-1bit'):
            with self.assertRaises(RM.PolicyError):
                RM.parse_rate(bad)

    def test_sizes_and_durations(self):
        self.assertEqual(RM.parse_size('20000B'), ('bits', 160000))
        self.assertEqual(RM.parse_size('1.5KB'), ('bits', 12000))
        self.assertEqual(RM.parse_size('2KiB'), ('bits', 16384))
        self.assertEqual(RM.parse_size('1.5MiB'), ('bits', 1572864 * 8))
        self.assertEqual(RM.parse_size('10pkt'), ('packets', 10))
        for bad in ('1.5B', '0B', '2.5pkt', '10', '1kb'):
            with self.assertRaises(RM.PolicyError):
                RM.parse_size(bad)
        self.assertEqual(RM.parse_duration('1m'), 60 * 10**9)
        self.assertEqual(RM.parse_duration('2d'), 2 * 86400 * 10**9)
        with self.assertRaises(RM.PolicyError):
            RM.parse_duration('1.5s')

    def test_profile_limits(self):
        p = RM.Profile('x', {'mode': 'shared', 'rate': '8mbit', 'burst': '20000B',
                             'exceed': 'mark', 'dscp': 10,
                             'limits': [{'limit': '5MB', 'per': '1m'}]})
        self.assertEqual([(b.rate, b.burst) for b in p.buckets],
                         [(Fraction(8, 1000), 160000), (Fraction(40 * 10**6, 60 * 10**9),
                                                        40 * 10**6)])
        for bad in ({'burst': '20pkt'}, {'exceed': 'mark'}, {'dscp': 3},
                    {'mode': 'private'}, {'mode': None}, {'exceed': None}):
            d = {'mode': 'shared', 'rate': '8mbit', 'burst': '2KB', 'exceed': 'drop'}
            d.update(bad)
            with self.assertRaises(RM.PolicyError, msg=str(bad)):
                RM.Profile('x', {k: v for k, v in d.items() if v is not None})
        for bad in ({'src': '10.0.0.1/8'}, {'dst-port': 53}, {'proto': 'icmp', 'src-port': 1},
                    {'src': '10.0.0.0/8', 'dst': '::/0'}, {'proto': 'sctp'}):
            with self.assertRaises(RM.PolicyError, msg=str(bad)):
                RM.Match('t', bad)
        with self.assertRaises(RM.PolicyError):
            RM.Profile('x', {'mode': 'shared', 'rate': '8mbit', 'burst': '2KB', 'exceed': 'mark'})


def shaped(rate, burst, extra='', mode='shared'):
    """shared() with exceed: shape (extra: more profile lines, e.g. max-delay)."""
    pol = shared(rate, burst, extra).replace('exceed: drop', 'exceed: shape')
    return pol.replace('mode: shared', f'mode: {mode}') if mode != 'shared' else pol


def outcomes(m):
    """'C' conform, 'S' shaped (waited), 'x' dropped by shaping, 'd' other drops, per frame."""
    return ''.join({RM.V_CONFORM: 'C', RM.V_SHAPED: 'S', RM.V_SHAPE_DROP: 'x'}.get(v, 'd')
                   for v in m.verdicts)


def shape_counts(t):
    return tuple(t[k] for k in ('conform_packets', 'shaped_packets', 'shape_drops',
                                'exceed_packets', 'shape_delay_max_us'))


class Shaping(unittest.TestCase):
    """exceed: shape: debts, waits, departures (hand-computed)."""

    def test_burst_then_spaced_by_cost_over_rate(self):
        # 800 bits/ms, burst 24000 bits, 1000 B (8000 bits) frames; max-delay 1s: debt
        # 800000 bits, never reached. Six frames at T0: three take the burst (0 left), then
        # -8000, -16000, -24000: waits 10, 20, 30 ms, one frame per cost / rate = 10 ms.
        fr = [(T0, v4udp('10.0.0.1', '10.0.0.2', 1000, sport=i)) for i in range(6)]
        rep, m = run(shaped('800kbit', '3000B', '    max-delay: 1s'), fr)
        self.assertEqual(m.pol.profiles['p'].buckets[0].debt, 800000)
        self.assertEqual(outcomes(m), 'CCCSSS')
        self.assertEqual(m.depart, [T0, T0, T0, T0 + 10 * MS, T0 + 20 * MS, T0 + 30 * MS])
        t = tenant(rep, 't')
        self.assertEqual(shape_counts(t), (6, 3, 0, 0, 30000))
        self.assertEqual((t['shaped_bytes'], t['conform_bytes']), (3000, 6000))
        self.assertEqual(rep['dropped']['packets'], 0)
        self.assertEqual(m.output_order(), list(range(6)))

    def test_over_max_delay_dropped(self):
        # as above with max-delay 20ms: debt 16000 bits. At T0: C C C, -8000 (10 ms), -16000
        # (20 ms), -24000 < -16000: dropped (tokens stay at -16000). At T0 + 5 ms: -12000 -
        # 8000 = -20000 < -16000: dropped. At T0 + 10 ms: -8000 - 8000 = -16000, exactly the
        # debt: taken, waits 20 ms (leaves at T0 + 30 ms). elapsed_s is arrivals only: 10 ms.
        fr = [(T0, v4udp('10.0.0.1', '10.0.0.2', 1000, sport=i)) for i in range(6)]
        fr += [(T0 + 5 * MS, v4udp('10.0.0.1', '10.0.0.2', 1000, sport=6)),
               (T0 + 10 * MS, v4udp('10.0.0.1', '10.0.0.2', 1000, sport=7))]
        rep, m = run(shaped('800kbit', '3000B', '    max-delay: 20ms'), fr)
        self.assertEqual(m.pol.profiles['p'].buckets[0].debt, 16000)
        self.assertEqual(outcomes(m), 'CCCSSxxS')
        self.assertEqual(m.depart, [T0] * 3 + [T0 + 10 * MS, T0 + 20 * MS, None, None,
                                                T0 + 30 * MS])
        t = tenant(rep, 't')
        self.assertEqual(shape_counts(t), (6, 3, 2, 2, 20000))
        self.assertEqual((t['exceed_bytes'], rep['dropped']), (2000, {'packets': 2,
                                                                       'bytes': 2000}))
        self.assertEqual(rep['elapsed_s'], 0.01)
        self.assertEqual(m.ts[0].keys[None].tokens, [-16000])

    def test_queue_cap_in_packets(self):
        # 1000 pps (1 token per ms), burst 10pkt, queue 3pkt, no max-delay: the default is
        # 8 packets / 1000 pps = 8 ms, raised to 20 ms (a debt of 20 tokens), and the queue
        # caps it at 3. 20 frames at T0: 10 conform, 3 wait 1, 2, 3 ms, 7 dropped. At
        # T0 + 2.5 ms: -3 + 2.5 - 1 = -1.5: waits 1.5 ms, leaves at T0 + 4 ms, after the
        # others (FIFO). Then T0 + 2.6 ms: -1.5 + 0.1 - 1 = -2.4 (2.4 ms, at T0 + 5 ms).
        fr = [(T0, v4udp('10.0.0.1', '10.0.0.2', 100, sport=i)) for i in range(20)]
        fr += [(T0 + 2500 * 1000, v4udp('10.0.0.1', '10.0.0.2', 100, sport=20)),
               (T0 + 2600 * 1000, v4udp('10.0.0.1', '10.0.0.2', 100, sport=21))]
        rep, m = run(shaped('1000pps', '10pkt', '    queue: 3pkt'), fr)
        prof = m.pol.profiles['p']
        self.assertEqual((prof.max_delay_ns, prof.queue, prof.buckets[0].debt),
                         (20 * MS, 3, 3))
        self.assertEqual(outcomes(m), 'C' * 10 + 'SSS' + 'x' * 7 + 'SS')
        self.assertEqual(m.depart[10:13] + m.depart[20:],
                         [T0 + MS, T0 + 2 * MS, T0 + 3 * MS, T0 + 4 * MS, T0 + 5 * MS])
        self.assertEqual(shape_counts(tenant(rep, 't')), (15, 5, 7, 7, 3000))

    def test_limit_bucket_sets_the_wait(self):
        # rate 8 Mbit/s (debt 8,000,000 bits at max-delay 1s), burst 16000 B; a limit of
        # 3000 B per 1 s: 24000 bits, refilling 24 bits/ms, its debt 24000 bits. 1000 B frames
        # at T0: the limit bucket empties after 3; then it owes 8000, 16000, 24000 bits (the
        # rate bucket is still positive): waits 333.33.. ms, 666.66.. ms, 1 s exactly,
        # rounded up to whole ns; the 7th would owe 32000 > 24000: dropped.
        fr = [(T0, v4udp('10.0.0.1', '10.0.0.2', 1000, sport=i)) for i in range(7)]
        rep, m = run(shaped('8mbit', '16000B', '    max-delay: 1s\n'
                            '    limits: [ { limit: 3000B, per: 1s } ]'), fr)
        self.assertEqual([b.debt for b in m.pol.profiles['p'].buckets], [8000000, 24000])
        self.assertEqual(outcomes(m), 'CCCSSSx')
        self.assertEqual(m.depart, [T0] * 3 + [T0 + 333333334, T0 + 666666667, T0 + 10**9,
                                               None])
        self.assertEqual(shape_counts(tenant(rep, 't')), (6, 3, 1, 1, 1000000))
        self.assertEqual(m.ts[0].keys[None].tokens, [128000 - 48000, -24000])
        # the wait is the largest of the buckets': 10 ms (8000 bits at 800 bits/ms) over 1.5 ms
        b = [RM.Bucket(Fraction(800, MS), 24000, 9000), RM.Bucket(Fraction(16, MS), 16000, 100)]
        k = RM.KeyState(b, 0)
        k.tokens = [Fraction(-8000), Fraction(-24)]
        self.assertEqual(k.wait(b), 10 * MS)
        k.tokens = [Fraction(8000), Fraction(-24)]
        self.assertEqual(k.wait(b), Fraction(3 * MS, 2))
        self.assertFalse(k.take(b, 0, 77))  # -24 - 77 < -100: nothing taken
        self.assertTrue(k.take(b, 0, 76))  # -100 = -debt: taken
        self.assertEqual(k.tokens, [8000 - 76, -100])

    def test_default_max_delay(self):
        # ceil(8 x 1514 x 8 bits / rate) or ceil(8 pkt / rate) ns, within 20 ms..1 s
        cases = [('50mbit', 20 * MS),  # 1,937,920 ns: raised to 20 ms
                 ('1mbit', 96896000),  # 96896 bits at 1 bit/us
                 ('700kbit', 138422858),  # 138,422,857.14.. rounded up
                 ('100kbit', 968960000),
                 ('64kbit', 10**9),  # 1.514 s: lowered to 1 s
                 ('100pps', 80 * MS), ('30pps', 266666667), ('7pps', 10**9),
                 ('1kpps', 20 * MS)]
        for rate, want in cases:
            unit = RM.parse_rate(rate)[0]
            d = {'mode': 'shared', 'rate': rate, 'exceed': 'shape',
                 'burst': '10pkt' if unit == 'packets' else '10KB'}
            p = RM.Profile('x', d)
            self.assertEqual(p.max_delay_ns, want, rate)
            self.assertEqual(RM.shape_default_delay(unit, RM.parse_rate(rate)[1]), want)
        # the debt: floor(rate x max-delay): 700 bits/ms x 138.422858 ms = 96896.0006
        p = RM.Profile('x', {'mode': 'shared', 'rate': '700kbit', 'burst': '1KB',
                             'exceed': 'shape'})
        self.assertEqual(p.buckets[0].debt, 96896)
        p = RM.Profile('x', {'mode': 'shared', 'rate': '30pps', 'burst': '1pkt',
                             'exceed': 'shape'})
        self.assertEqual(p.buckets[0].debt, 8)  # 30 x 0.266666667 = 8.00000001
        p = RM.Profile('x', {'mode': 'shared', 'rate': '1mbit', 'burst': '1KB',
                             'exceed': 'shape', 'queue': '1KB', 'max-delay': '500ms',
                             'limits': [{'limit': '100B', 'per': '1s'}]})
        self.assertEqual([b.debt for b in p.buckets], [8000, 400])  # queue, then 800 x 0.5

    def test_shape_fields_validated(self):
        base = {'mode': 'shared', 'rate': '8mbit', 'burst': '2KB', 'exceed': 'shape'}
        good = [({'max-delay': '1us'}, 1000), ({'max-delay': '1s'}, 10**9),
                ({'max-delay': '1000ms'}, 10**9), ({'max-delay': '250us'}, 250000),
                ({'max-delay': '20ms', 'queue': '64KB'}, 20 * MS)]
        for extra, want in good:
            self.assertEqual(RM.Profile('x', dict(base, **extra)).max_delay_ns, want, extra)
        self.assertEqual(RM.Profile('x', dict(base, queue='64KB')).queue, 512000)
        bad = [{'max-delay': '0ms'}, {'max-delay': '1001ms'}, {'max-delay': '2s'},
               {'max-delay': '999ns'}, {'max-delay': '1.5ms'}, {'max-delay': '20'},
               {'queue': '10pkt'}, {'queue': '0B'}, {'queue': '1.5B'},
               {'exceed': 'drop', 'max-delay': '20ms'}, {'exceed': 'pass', 'queue': '1KB'},
               {'exceed': 'mark', 'dscp': 1, 'max-delay': '20ms'}, {'exceed': 'shaping'},
               {'dscp': 5}]
        for extra in bad:
            with self.assertRaises(RM.PolicyError, msg=str(extra)):
                RM.Profile('x', dict(base, **extra))
        with self.assertRaises(RM.PolicyError):
            RM.Profile('x', dict(base, rate='1kpps', burst='5pkt', queue='10KB'))
        self.assertEqual(RM.Profile('x', dict(base, rate='1kpps', burst='5pkt',
                                              queue='10pkt')).queue, 10)
        # us and ms are durations everywhere now: a limit per 500 ms
        p = RM.Profile('x', dict(base, exceed='drop', limits=[{'limit': '1KB',
                                                               'per': '500ms'}]))
        self.assertEqual(p.buckets[1].rate, Fraction(8000, 500 * MS))
        self.assertEqual(RM.parse_duration('20ms'), 20 * MS)
        self.assertEqual(RM.parse_duration('7us'), 7000)

    def test_departure_order_across_keys(self):
        # dedicated per source, 1000 pps, burst 1pkt, max-delay 5ms. A: 3 frames at T0 (leave
        # at T0, +1, +2 ms); B: 2 frames at T0 + 0.5 ms (+0.5, +1.5 ms); C: a new key at
        # T0 + 1 ms conforms and leaves then, as A's second: equal departures in input order.
        seq = [('10.0.0.1', 0), ('10.0.0.1', 0), ('10.0.0.1', 0), ('10.0.0.2', 500000),
               ('10.0.0.2', 500000), ('10.0.0.3', MS)]
        fr = [(T0 + t, v4udp(src, '10.0.0.9', 100, sport=i)) for i, (src, t) in enumerate(seq)]
        rep, m = run(shaped('1000pps', '1pkt', '    max-delay: 5ms', 'dedicated'), fr)
        self.assertEqual(outcomes(m), 'CSSCSC')
        self.assertEqual(m.depart, [T0, T0 + MS, T0 + 2 * MS, T0 + MS // 2, T0 + 3 * MS // 2,
                                    T0 + MS])
        self.assertEqual(m.output_order(), [0, 3, 1, 5, 4, 2])
        t = tenant(rep, 't')
        self.assertEqual((t['keys'], t['shaped_packets'], t['shape_delay_max_us']), (3, 3, 2000))

    def test_delay_max_rounds_half_up(self):
        # 1000 pps, burst 1pkt: a frame at T0 empties it; one at T0 + 1500 ns finds 0.0015
        # tokens and owes 0.9985: waits 998,500 ns -> 999 us (half up, as sluice-replay).
        # One at T0 + 2500 ns instead waits 997,500 ns -> 998 us.
        pol = shaped('1000pps', '1pkt', '    max-delay: 5ms')
        for dt, us in ((1500, 999), (2500, 998), (500, 1000)):
            fr = [(T0, v4udp('10.0.0.1', '10.0.0.2', 100)),
                  (T0 + dt, v4udp('10.0.0.1', '10.0.0.2', 100, sport=2))]
            rep, m = run(pol, fr)
            self.assertEqual(tenant(rep, 't')['shape_delay_max_us'], us, dt)
            self.assertEqual(m.depart[1], T0 + 10**6)

    def test_refused_frames_of_a_shaped_profile(self):
        # max-flows 1: the second flow's frame is refused: dropped at once (V_DROP), in
        # exceed and flow_refused, not in shape_drops; it takes no token.
        pol = shaped('1000pps', '1pkt', '    max-delay: 5ms\n    max-flows: 1')
        fr = [(T0, v4udp('10.0.0.1', '10.0.0.2', 100, sport=1)),
              (T0, v4udp('10.0.0.1', '10.0.0.2', 100, sport=2)),
              (T0, v4udp('10.0.0.1', '10.0.0.2', 100, sport=1))]
        rep, m = run(pol, fr)
        self.assertEqual(list(m.verdicts), [RM.V_CONFORM, RM.V_DROP, RM.V_SHAPED])
        t = tenant(rep, 't')
        self.assertEqual((t['flow_refused'], t['exceed_packets'], t['shape_drops'],
                          t['shaped_packets']), (1, 1, 0, 1))
        self.assertEqual(m.depart, [T0, None, T0 + MS])
        # max-keys 1: sources 1 2 3 2 1 at T0. when-full drop: 2, 3, 2 dropped (no slot);
        # pass: forwarded at once; shared: 2 takes the overflow set's token, 3 and 2 wait
        # 1 and 2 ms on it; 1's second frame waits 1 ms on its own bucket.
        order = [1, 2, 3, 2, 1]
        fr = [(T0, v4udp(f'10.0.0.{s}', '10.9.9.9', 100, sport=i)) for i, s in enumerate(order)]
        C, S, ND, NF = RM.V_CONFORM, RM.V_SHAPED, RM.V_NOSLOT_DROP, RM.V_NOSLOT_FWD
        want = {'drop': ([C, ND, ND, ND, S], [T0, None, None, None, T0 + MS], 0),
                'pass': ([C, NF, NF, NF, S], [T0, T0, T0, T0, T0 + MS], 0),
                'shared': ([C, C, S, S, S], [T0, T0, T0 + MS, T0 + 2 * MS, T0 + MS], 0)}
        for wf, (verdicts, depart, drops) in want.items():
            rep, m = run(shaped('1000pps', '1pkt', f'    max-delay: 5ms\n    max-keys: 1\n'
                                f'    when-full: {wf}', 'dedicated'), fr)
            self.assertEqual(list(m.verdicts), verdicts, wf)
            self.assertEqual(m.depart, depart, wf)
            t = tenant(rep, 't')
            self.assertEqual((t['quota_full'], t['shape_drops']), (3, drops), wf)
            self.assertEqual(t['shaped_packets'], verdicts.count(S), wf)

    def test_non_shaped_unchanged(self):
        # a drop profile reports the shaping counters as 0 and forwards at arrival
        fr = [(T0 + i * MS, v4udp('10.0.0.1', '10.0.0.2', 1000)) for i in range(100)]
        rep, m = run(shared('800kbit', '3000B'), fr)
        t = tenant(rep, 't')
        self.assertEqual((t['shaped_packets'], t['shaped_bytes'], t['shape_drops'],
                          t['shape_delay_max_us']), (0, 0, 0, 0))
        self.assertEqual([d for d in m.depart if d is not None],
                         [T0 + i * MS for i in [0, 1, 2] + list(range(10, 100, 10))])
        self.assertEqual(m.pol.profiles['p'].buckets[0].debt, 0)


def run_reloads(policy_yaml, reloads, frames, max_keys=None):
    """run() with reloads: [(at_ns, policy_yaml)], absolute times."""
    d = Path(WORKDIR)
    (d / 'p.yaml').write_text(policy_yaml)
    write_pcap(d / 'c.pcap', frames)
    m = RM.Model(RM.load_policy(d / 'p.yaml'), max_keys or RM.DEFAULT_MAX_KEYS)
    for k, (at, y) in enumerate(reloads):
        (d / f'r{k}.yaml').write_text(y)
        m.reload(RM.load_policy(d / f'r{k}.yaml'), at)
    m.run(RM.read_pcap(d / 'c.pcap'))
    return m.report(), m


US = 1000


def f1000(i, src='10.0.0.1', dst='10.0.0.2'):
    return v4udp(src, dst, 1000, sport=1000 + i)


class Reloads(unittest.TestCase):
    """Model.reload: the policy changes before the first frame at or after a time; tenants
    carry their state by name as lib/sl_policy.c tenant_state_for does (hand-computed)."""

    def test_policer_keeps_tokens_new_rate(self):
        # 800 bits/ms, 24000 bits; 1000 B frames every ms: C at 0, 1, 2 (1600 left), then
        # 1600 + 800 k, 7200 at 9 ms. At 10 ms the rate is 1600 bits/ms (same profile name):
        # 7200 + 1600 = 8800: C (800), then 800 + 1600 k >= 8000 at k = 5: every 5 ms.
        fr = [(T0 + i * MS, f1000(i)) for i in range(30)]
        rep, m = run_reloads(shared('800kbit', '3000B'),
                             [(T0 + 10 * MS, shared('1600kbit', '3000B'))], fr)
        conf = [i for i, v in enumerate(m.verdicts) if v == RM.V_CONFORM]
        self.assertEqual(conf, [0, 1, 2, 10, 15, 20, 25])
        t = tenant(rep, 't')
        self.assertEqual((t['packets'], t['conform_packets'], t['exceed_packets'], t['keys']),
                         (30, 7, 23, 1))
        self.assertEqual(m.applied, [(T0 + 10 * MS, T0 + 10 * MS, 1)])
        self.assertEqual(list(m.gen_of), [0] * 10 + [1] * 20)

    def test_tokens_capped_at_new_burst(self):
        # 16000 bits left after frame 0; at 50 ms the burst is 1000 B: min(8000, 16000 +
        # 40000) = 8000: one frame, then 800 bits at 51 ms (dropped), 8000 at 60 ms
        fr = [(T0 + t * MS, f1000(t)) for t in (0, 50, 51, 60)]
        rep, m = run_reloads(shared('800kbit', '3000B'),
                             [(T0 + 50 * MS, shared('800kbit', '1000B'))], fr)
        self.assertEqual(list(m.verdicts), [RM.V_CONFORM, RM.V_CONFORM, RM.V_DROP,
                                            RM.V_CONFORM])

    def test_shaped_debt_carried_paid_at_new_rate(self):
        # 8000 bits/ms, burst 8000, max-delay 10 ms (debt 80000). 5 frames at T0: C, then
        # waits 1..4 ms (-32000). At 1 ms: 4000 bits/ms, debt 40000 (same scale: burst +
        # debt 48000 fits 88000's). The refill since T0 is at the new rate: -32000 + 4000 -
        # 8000 = -36000 >= -40000: waits 9 ms (leaves at 10 ms); the next at 1 ms would owe
        # 44000: dropped; at 3 ms -36000 + 8000 - 8000: 9 ms again (12 ms). The frames
        # waiting keep their departures (1..4 ms).
        fr = [(T0, f1000(i)) for i in range(5)] + [(T0 + MS, f1000(5)), (T0 + MS, f1000(6)),
                                                   (T0 + 3 * MS, f1000(7))]
        ex = '    max-delay: 10ms'
        rep, m = run_reloads(shaped('8mbit', '1000B', ex),
                             [(T0 + MS, shaped('4mbit', '1000B', ex))], fr)
        self.assertEqual(outcomes(m), 'CSSSSSxS')
        self.assertEqual(m.depart, [T0 + k * MS for k in range(5)] + [T0 + 10 * MS, None,
                                                                      T0 + 12 * MS])
        self.assertEqual(m.output_order(), [0, 1, 2, 3, 4, 5, 7])
        self.assertEqual(shape_counts(tenant(rep, 't')), (7, 6, 1, 1, 9000))
        self.assertEqual(m.policies[0][1], m.policies[1][1])  # the scale: {'p': [41]}
        self.assertEqual(m.scales, {'p': [41]})

    def test_tenant_removed_and_back(self):
        # as above; at 1 ms the tenant is gone (another takes 10.9.9.9): its frames are
        # unmatched (passed at arrival, among the 4 still waiting), the report lists only the
        # running policy's tenants, totals go on. At 2 ms it is back: a new tenant, full.
        gone = """sluice: 1
unmatched: pass
profiles:
  q: { mode: shared, rate: 1gbit, burst: 1MB, exceed: drop }
tenants:
  - { name: other, profile: q, match: { src: 10.9.9.9/32 } }
"""
        ex = '    max-delay: 10ms'
        fr = [(T0, f1000(i)) for i in range(5)] + [
            (T0 + MS, f1000(5)), (T0 + MS, f1000(6, src='10.9.9.9')), (T0 + 2 * MS, f1000(7))]
        rep, m = run_reloads(shaped('8mbit', '1000B', ex),
                             [(T0 + MS, gone), (T0 + 2 * MS, shaped('8mbit', '1000B', ex))], fr)
        self.assertEqual(list(m.verdicts), [RM.V_CONFORM] + [RM.V_SHAPED] * 4 +
                         [RM.V_UNMATCHED_FWD, RM.V_CONFORM, RM.V_CONFORM])
        self.assertEqual(m.depart, [T0 + k * MS for k in range(5)] + [T0 + MS, T0 + MS,
                                                                      T0 + 2 * MS])
        self.assertEqual(m.output_order(), [0, 1, 5, 6, 2, 7, 3, 4])
        self.assertEqual([m.tenant_at(i) and m.tenant_at(i).name for i in range(8)],
                         ['t'] * 5 + [None, 'other', 't'])
        self.assertEqual([t['name'] for t in rep['tenants']], ['t'])
        self.assertEqual((tenant(rep, 't')['packets'], rep['packets'], rep['unmatched']),
                         (1, 8, {'packets': 1, 'bytes': 1000}))

    def test_drop_to_shape_and_back_restart_full(self):
        # policer 8000 bits/ms, burst 8000: frame 0 leaves 0. At 0.5 ms it shapes (max-delay
        # 10 ms): full again, not 4000: C, then -8000: waits 1 ms. At 1 ms it drops again:
        # full again (not -4000): C. The counters carry; the longest wait is the state's.
        ex = '    max-delay: 10ms'
        fr = [(T0, f1000(0)), (T0 + 500 * US, f1000(1)), (T0 + 500 * US, f1000(2)),
              (T0 + MS, f1000(3))]
        rep, m = run_reloads(shared('8mbit', '1000B'),
                             [(T0 + 500 * US, shaped('8mbit', '1000B', ex)),
                              (T0 + MS, shared('8mbit', '1000B'))], fr)
        self.assertEqual(outcomes(m), 'CCSC')
        self.assertEqual(m.depart, [T0, T0 + 500 * US, T0 + 1500 * US, T0 + MS])
        t = tenant(rep, 't')
        self.assertEqual((t['conform_packets'], t['shaped_packets'], t['keys']), (4, 1, 1))
        self.assertEqual(t['shape_delay_max_us'], 0)  # sluice: it restarts with the state

    def test_scale_kept_or_changed(self):
        # shaped 8000 bits/ms, burst 8000 + debt 8000 (max-delay 1 ms): shift 43 (the cap).
        # Frame 0 leaves 0. A burst of 10 KB (80000 + 8000 < 2^19) keeps the scale: the debt
        # carries, 4000 - 8000: waits 0.5 ms. 100 KB (808000 > 2^19) needs shift 38: full.
        ex = '    max-delay: 1ms'
        fr = [(T0, f1000(0)), (T0 + 500 * US, f1000(1))]
        for burst, want, shift in (('10KB', 'CS', 43), ('100KB', 'CC', 38)):
            rep, m = run_reloads(shaped('8mbit', '1000B', ex),
                                 [(T0 + 500 * US, shaped('8mbit', burst, ex))], fr)
            self.assertEqual(outcomes(m), want, burst)
            self.assertEqual((m.policies[0][1]['p'], m.scales['p']), ([43], [shift]), burst)
        # a policer's tokens carry into a new scale: 4000 < 8000, dropped
        rep, m = run_reloads(shared('8mbit', '1000B'),
                             [(T0 + 500 * US, shared('8mbit', '100KB'))], fr)
        self.assertEqual(list(m.verdicts), [RM.V_CONFORM, RM.V_DROP])
        self.assertEqual((m.policies[0][1]['p'], m.scales['p']), ([43], [38]))

    def test_limit_added_starts_full(self):
        # 8000 bits/ms, burst 16000: frame 0 leaves 8000. At 1 ms a limit of 2000 B per
        # second (16 bits/ms) is added, full: 16000 / 16000 -> C C, then 0 / 0: dropped; at
        # 3 ms the rate bucket is full, the limit holds 32 bits: dropped.
        fr = [(T0, f1000(0))] + [(T0 + MS, f1000(i)) for i in (1, 2, 3)] + \
            [(T0 + 3 * MS, f1000(4))]
        rep, m = run_reloads(shared('8mbit', '2000B'), [(T0 + MS, shared(
            '8mbit', '2000B', '    limits:\n      - { limit: 2000B, per: 1s }'))], fr)
        self.assertEqual(outcomes(m), 'CCCdd')
        self.assertEqual(m.ts[0].keys[None].tokens, [16000, 32])

    def test_dedicated_keys(self):
        # per source 8000 bits/ms, burst 8000, a budget of 2 keys. Two sources at T0 (0
        # left). At 0.5 ms 16 Mbit/s: keys and tokens kept (8000: C, then 0: dropped). At
        # 1 ms the key is dst-ip: the keys restart (their budget freed): a new key, full.
        ded = shared('8mbit', '1000B').replace('mode: shared', 'mode: dedicated')
        fr = [(T0, f1000(0)), (T0, f1000(1, src='10.0.0.3')), (T0 + 500 * US, f1000(2)),
              (T0 + 500 * US, f1000(3)), (T0 + MS, f1000(4))]
        rep, m = run_reloads(ded, [
            (T0 + 500 * US, ded.replace('8mbit', '16mbit')),
            (T0 + MS, ded.replace('mode: dedicated', 'mode: dedicated\n    key: dst-ip'))],
            fr, max_keys=2)
        self.assertEqual(outcomes(m), 'CCCdC')
        t = tenant(rep, 't')
        self.assertEqual((t['keys'], t['table_full'], t['packets']), (1, 0, 5))

    def test_reload_order_and_cli(self):
        # reloads relative to the first frame, given out of order, equal times in the order
        # given; the command line (--reload SECONDS:FILE) gives the same report
        import contextlib
        import io
        import json
        d = Path(WORKDIR)
        ex = '    max-delay: 10ms'
        (d / 'p.yaml').write_text(shaped('8mbit', '1000B', ex))
        (d / 'r-4.yaml').write_text(shaped('4mbit', '1000B', ex))
        (d / 'r-2.yaml').write_text(shaped('2mbit', '1000B', ex))
        (d / 'r-8.yaml').write_text(shaped('8mbit', '1000B', ex))
        fr = [(T0 + 7 + k * 250 * US, f1000(k)) for k in range(20)]
        write_pcap(d / 'c.pcap', fr)
        m = RM.Model(RM.load_policy(d / 'p.yaml'))
        for at, f in ((2 * MS, 'r-8'), (MS, 'r-4'), (MS, 'r-2')):
            m.reload(RM.load_policy(d / f'{f}.yaml'), at, since_first=True)
        m.run(RM.read_pcap(d / 'c.pcap'))
        self.assertEqual([(at - T0 - 7, now - T0 - 7, g) for at, now, g in m.applied],
                         [(MS, MS, 1), (MS, MS, 2), (2 * MS, 2 * MS, 3)])
        self.assertEqual([str(p.profiles['p'].buckets[0].rate) for p, _ in m.policies],
                         ['1/125', '1/250', '1/500', '1/125'])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = RM.main(['--config', str(d / 'p.yaml'), '--in', str(d / 'c.pcap'), '--json',
                          '--reload', f'0.002:{d / "r-8.yaml"}', '--reload',
                          f'1e-3:{d / "r-4.yaml"}', '--reload', f'.0010000004:{d / "r-2.yaml"}'])
        self.assertEqual(rc, 0)
        self.assertEqual(json.loads(out.getvalue()), json.loads(json.dumps(m.report())))
        # the time counts from the first frame, not the earliest: a frame earlier than the
        # first (a capture going back) does not reach t0 + 5 ms
        m = RM.Model(RM.load_policy(d / 'p.yaml'))
        m.reload(RM.load_policy(d / 'r-4.yaml'), 5 * MS, since_first=True)
        m.run([(T0 + ms * MS, 1000, f1000(k)) for k, ms in enumerate((10, 5, 14, 15))])
        self.assertEqual(m.applied, [(T0 + 15 * MS, T0 + 15 * MS, 1)])
        self.assertEqual(list(m.gen_of), [0, 0, 0, 1])
        self.assertEqual(RM.parse_reload('0.0000000015:a:b'), (2, 'a:b'))  # halves up
        for bad in ('-1:x', '1', 'x:y', '1:', '1e9:x'):
            with self.assertRaises(ValueError):
                RM.parse_reload(bad)


# --- fair: flows (lib/sl_fair.h): a shared shaped tenant's flows share its queue --------------

M64 = (1 << 64) - 1


def fhash(src, dst, proto, sport, dport):
    """The flow hash of lib/sl_engine.c flow_hash_of, written out again here: the four
    little-endian 64-bit words of the 16-byte addresses (IPv4 in bytes 0..3), XOR ports and
    protocol, times 0x9e3779b97f4a7c15 mod 2^64."""
    import ipaddress
    a = b''.join(ipaddress.ip_address(x).packed.ljust(16, b'\0') for x in (src, dst))
    w = struct.unpack('<4Q', a)
    return ((w[0] ^ w[1] ^ w[2] ^ w[3] ^ (sport << 16 | dport) ^ proto << 40)
            * 0x9E3779B97F4A7C15) & M64


def same_group_ports(n):
    """(group, [n UDP source ports from 10.0.0.1 to 10.0.0.2:53 whose flows share a group of
    4 slots, distinct signatures], a port of another group)."""
    g = fhash('10.0.0.1', '10.0.0.2', 17, 1000, 53) >> 60
    ports, sigs, other = [], set(), None
    for sp in range(1000, 5000):
        h = fhash('10.0.0.1', '10.0.0.2', 17, sp, 53)
        if h >> 60 != g:
            other = other or sp
        elif (h >> 32 | 1) not in sigs and len(ports) < n:
            ports.append(sp)
            sigs.add(h >> 32 | 1)
    return g, ports, other


def fair(extra='', fair_line=None, burst='1000B'):
    """8 Mbit/s (8 bits/us), max-delay 10 ms: each bucket may owe 80,000 bits, so Q = 80000."""
    ex = '    max-delay: 10ms' + (f'\n    fair: {fair_line}' if fair_line else '') + extra
    return shaped('8mbit', burst, ex)


def fa(sport):
    """A 1000-byte (8000-bit) UDP frame of the flow from source port sport."""
    return v4udp('10.0.0.1', '10.0.0.2', 1000, sport=sport)


def slot_of(m, sport):
    """[d, d0, b, sig] of the fair slot of fa(sport)'s flow in the model's first tenant (by
    its signature, worked out from fhash), or None."""
    sig = fhash('10.0.0.1', '10.0.0.2', 17, sport, 53) >> 32 | 1
    return next((s for s in m.ts[0].fair.s if s[3] == sig), None)


class Fairness(unittest.TestCase):
    """fair: flows: FairSlots, hand-computed (rate 8 bits/us, 1000 B frames of 8000 bits,
    Q = 80000 but where said)."""

    def test_flow_hash(self):
        cases = [(v4udp('10.0.0.1', '10.0.0.2', 100, sport=1234, dport=53),
                  ('10.0.0.1', '10.0.0.2', 17, 1234, 53)),
                 (eth(ipv6('2001:db8::1', '2001:db8:ffff::2', 6, tcp(40000, 443, 0x10)),
                      0x86DD), ('2001:db8::1', '2001:db8:ffff::2', 6, 40000, 443)),
                 (eth(ipv4('10.0.0.1', '10.0.0.2', 1, bytes(12)), 0x0800),
                  ('10.0.0.1', '10.0.0.2', 1, 0, 0)),  # ICMP: no ports
                 (eth(ipv4('10.0.0.1', '10.0.0.2', 17, udp(7, 9, 8), frag=0x0010), 0x0800),
                  ('10.0.0.1', '10.0.0.2', 17, 0, 0))]  # a later fragment: no ports
        for data, want in cases:
            self.assertEqual(RM.flow_hash(RM.parse(data)), fhash(*want), want)
        self.assertEqual(RM.flow_hash(RM.parse(eth(bytes(46), 0x0806))), 0)  # not IP: all 0
        # 10.0.0.1 -> 10.0.0.2 UDP 1234 -> 53, worked out: the address words XOR to
        # 0x0200000a ^ 0x0100000a = 0x03000000, ports 1234 << 16 | 53 = 0x04d20035,
        # protocol 17 << 40 = 0x110000000000
        self.assertEqual(RM.flow_hash(RM.parse(cases[0][0])),
                         (0x110007d20035 * 0x9E3779B97F4A7C15) & M64)

    def test_fields(self):
        base = {'mode': 'shared', 'rate': '8mbit', 'burst': '2KB', 'exceed': 'shape'}
        self.assertEqual(RM.Profile('x', base).fair, 'flows')  # the shared default
        self.assertEqual(RM.Profile('x', dict(base, fair='none')).fair, 'none')
        self.assertEqual(RM.Profile('x', dict(base, mode='dedicated')).fair, 'none')
        self.assertEqual(RM.Profile('x', dict(base, mode='dedicated', fair='none')).fair,
                         'none')
        self.assertEqual(RM.Profile('x', dict(base, exceed='drop')).fair, 'none')
        for bad in ({'fair': 'flows', 'mode': 'dedicated'}, {'fair': 'none', 'exceed': 'drop'},
                    {'fair': 'flows', 'exceed': 'mark', 'dscp': 1}, {'fair': 'yes'},
                    {'fair': None}, {'fair': True}, {'fair': 'Flows'}):
            with self.assertRaises(RM.PolicyError, msg=str(bad)):
                RM.Profile('x', dict(base, **bad))
        # Q: the smallest debt of the buckets (the queue cap, or a limit's)
        p = RM.Profile('x', dict(base, queue='5000B', **{'max-delay': '10ms'}))
        self.assertEqual(p.fair_q, 40000)  # min(80000, 8 x 5000)
        p = RM.Profile('x', dict(base, limits=[{'limit': '1000B', 'per': '1s'}],
                                 **{'max-delay': '10ms'}))
        self.assertEqual((p.buckets[1].debt, p.fair_q), (80, 80))  # 8 bits/ms x 10 ms
        p = RM.Profile('x', dict(base, rate='1000pps', burst='5pkt', **{'max-delay': '10ms'}))
        self.assertEqual(p.fair_q, 10)
        self.assertIsNone(RM.Profile('x', dict(base, fair='none')).fair_q)

    def test_look(self):
        # FairSlots.look on slots set by hand: h >> 60 = 5, the group of slots 20..23; the
        # signature: h >> 32 with its low bit set. Backlogs (b) and shares in 2^-16 units
        # (U = 65536 a unit); a share is (Q << 16) // m, none when m = 1 (a flow alone)
        self.assertEqual((RM.FAIR_SHIFT, RM.FAIR_CAP), (16, 1 << 62))
        f, h = RM.FairSlots(), 0x5BCD1234 << 32 | 0x77
        sig = 0x5BCD1235
        # all empty: the first slot; nothing counts, so m = 0 + 1: alone, no share
        self.assertEqual(f.look(h, 100, 1000), (20, sig, 0, None))
        # d 150 120 50 40 at now 100: 20 -> 21 (120 < 150) -> 22 (50 < 120), which has
        # emptied: taken, though 23 empties earlier still. Counted: 20, 21 and 0 elsewhere
        # (22 and 23 have emptied: their bits go); 22 is not among them: m = 3 + 1, share
        # 1000 x 65536 // 4 = 16,384,000
        for i, d in zip(range(20, 24), (150, 120, 50, 40)):
            f.s[i] = [d, 10, 500, 0x1111 * i | 1]
        f.s[0] = [200, 10, 500, 3]
        f.active = 1 | 0xF << 20
        self.assertEqual(f.look(h, 100, 1000), (22, sig, 0, 16384000))
        self.assertEqual(f.active, 1 | 3 << 20)
        # held 60 ns after they empty, 22 counts again once noted (its bit), 23 does not:
        # n = 4 with its own: m = 4
        f.active |= 1 << 22
        self.assertEqual(f.look(h, 100, 1000, 60), (22, sig, 0, 16384000))
        # every slot of the group waiting: the one that empties first (23 at 110; 21 at 120);
        # m = 5: 65,536,000 // 5 = 13,107,200
        f.s[22][0], f.s[23][0] = 160, 110
        f.active |= 0xF << 20
        self.assertEqual(f.look(h, 100, 1000), (23, sig, 0, 13107200))
        # its own slot (23, d0 0): found; backlog 900 x (300 - 100) // (300 - 0) = 600
        f.s[23] = [300, 0, 900, sig]
        look = f.look(h, 100, 1000)
        self.assertEqual(look, (23, sig, 600, 13107200))
        # at 299 only 23 counts, its own: alone (m = 1), no share; at 300 nothing waits and
        # nothing counts: alone too
        self.assertEqual(f.look(h, 299, 1000)[2:], (3, None))  # 900 x 1 // 300
        self.assertEqual(f.look(h, 300, 1000)[2:], (0, None))
        self.assertEqual(f.active, 0)
        # taken at 100, leaving at 310: b 600 + 8 x 65536 = 524,888; d0 has passed: now; its
        # bit set
        f.note(look, 100, 310, 8)
        self.assertEqual((f.s[23], f.active), ([310, 100, 524888, sig], 1 << 23))
        # nothing of it leaves before d0 = 250: all of b waits until then, then it drains
        f.s[23] = [300, 250, 900, sig]
        self.assertEqual([f.look(h, now, 1000)[2] for now in (100, 249, 250, 275, 299)],
                         [900, 900, 900, 450, 18])
        look = f.look(h, 100, 1000)
        self.assertEqual(look, (23, sig, 900, None))  # alone
        f.note(look, 100, 320, 8)  # d0 to come: kept; 900 + 524,288
        self.assertEqual(f.s[23], [320, 250, 525188, sig])
        f.note((23, sig, 0, 1000), 400, 500, 8)  # nothing waited: d0 = its departure
        self.assertEqual(f.s[23], [500, 500, 524288, sig])
        # saturation at 2^62: b = min(2^62 - 5 + 8 x 65536, 2^62) (d0 500 still to come: kept)
        f.note((23, sig, (1 << 62) - 5, None), 400, 600, 8)
        self.assertEqual(f.s[23], [600, 500, 1 << 62, sig])
        # shares too: two flows (slot 0 waits until 1000), m = 2: (Q << 16) // 2 = Q << 15,
        # 2^62 for Q = 2^47 exactly, 2^62 - 2^15 for Q = 2^47 - 1, capped for Q = 2^50
        f, h0 = RM.FairSlots(), 0x0ABC0000 << 32
        f.s[0], f.active = [1000, 1000, 5, 3], 1
        self.assertEqual(f.look(h, 100, 1 << 47)[3], 1 << 62)
        self.assertEqual(f.look(h, 100, (1 << 47) - 1)[3], (1 << 62) - (1 << 15))
        self.assertEqual(f.look(h, 100, 1 << 50)[3], 1 << 62)
        self.assertEqual(f.look(h0, 100, 1 << 50)[2:], (0, 1 << 62))  # slot 0 (sig 3) is not its

    def test_admit(self):
        # FairSlots.admit((slot, sig, backlog, share), units): nothing waiting, alone (no
        # share) or backlog + (units << 16) within the share
        U = 65536
        admit = RM.FairSlots.admit
        self.assertTrue(admit((0, 1, 0, 0), 8))  # nothing waiting: over any share
        self.assertTrue(admit((0, 1, 1 << 62, None), 1 << 19))  # alone: its buckets decide
        self.assertTrue(admit((0, 1, 100, 100 + 8 * U), 8))  # exactly its share
        self.assertFalse(admit((0, 1, 101, 100 + 8 * U), 8))  # 1/65536 of a unit over
        self.assertFalse(admit((0, 1, 1, 8 * U), 8))
        self.assertTrue(admit((0, 1, 1, 8 * U + 1), 8))

    def test_flow_over_its_share_dropped(self):
        # Two flows fair-dropped (b and shares in 2^-16 units: U = 65536 a bit here). A0 takes
        # the burst (no wait: no slot). B0, alone (no share), nothing waiting: waits 1 ms (B:
        # d = d0 = 1 ms, b 8000U), A1 2 ms (A: d = d0 = 2 ms, b 8000U). Two flows wait: a
        # share is (80000 << 16) // 2 = 40000U. A2..A5: none of A's frames has left (d0 2 ms):
        # its backlog is b, 8000U .. 32000U, + 8000U <= 40000U: taken (A: d 6 ms, d0 2 ms, b
        # 40000U). A6: 48000U > 40000U: a fair drop, though the bucket (-48000) could owe 8000
        # more. B1: 8000U + 8000U: taken, 7 ms (-56000; B: d 7, d0 1, b 16000U). At 4 ms:
        # -56000 + 32000 = -24000. A7: A drains from 2 ms to 6 ms: 40000U x (6 - 4) // (6 - 2)
        # = 20000U, + 8000U <= 40000U: taken, -32000, 4 ms (A: d 8, d0 4 (2 has passed: now),
        # b 28000U). A8: 28000U x 4 // 4 + 8000U: taken (9 ms, b 36000U); A9, A10: 36000U +
        # 8000U > 40000U: fair drops.
        U = 65536
        A, B = 1, 2
        seq = [(0, A), (0, B)] + [(0, A)] * 6 + [(0, B)] + [(4, A)] * 4
        fr = [(T0 + t * MS, fa(s)) for t, s in seq]
        rep, m = run(fair(), fr)
        self.assertEqual(outcomes(m), 'CSSSSSSxSSSxx')
        self.assertEqual(m.depart, [T0] + [T0 + k * MS for k in range(1, 7)] + [None] +
                         [T0 + k * MS for k in (7, 8, 9)] + [None, None])
        t = tenant(rep, 't')
        self.assertEqual((t['shaped_packets'], t['shape_drops'], t['fair_drops'],
                          t['exceed_packets'], t['exceed_bytes']), (9, 3, 3, 3, 3000))
        self.assertEqual(m.ts[0].keys[None].tokens, [-40000])  # the drops took nothing
        fs = m.ts[0].fair
        la = fs.look(RM.flow_hash(RM.parse(fa(A))), T0 + 4 * MS, 80000)
        self.assertEqual(la[2:], (36000 * U, 40000 * U))
        self.assertEqual(fs.s[la[0]][:3], [T0 + 9 * MS, T0 + 4 * MS, 36000 * U])
        lb = fs.look(RM.flow_hash(RM.parse(fa(B))), T0 + 4 * MS, 80000)
        self.assertEqual(fs.s[lb[0]][:3], [T0 + 7 * MS, T0 + MS, 16000 * U])
        # fair: none: one FIFO, all taken (the bucket reaches -64000)
        rep, m = run(fair(fair_line='none'), fr)
        self.assertEqual(outcomes(m), 'C' + 'S' * 12)
        self.assertEqual(tenant(rep, 't')['fair_drops'], 0)
        self.assertEqual(m.ts[0].fair.s, RM.FairSlots().s)  # never used

    def test_flow_counts_for_max_delay(self):
        # A flow counts among the n for max-delay (10 ms) after its last frame left (U =
        # 65536). As in test_flow_over_its_share_dropped: B0 leaves at 1 ms, A1..A5 at 2..6 ms
        # (A: b 40000U, d0 2 ms), A6 is a fair drop. At 3 ms B has nothing waiting but still
        # counts: a share is 40000U. A7: 40000U x (6 - 3) // (6 - 2) = 30000U, + 8000U: taken
        # (-48000 + 24000 - 8000: 4 ms, at 7 ms; A: b 38000U, d0 3 ms). A8: 38000U + 8000U >
        # 40000U: a fair drop (with B not counted A would be alone: its bucket would take it).
        # At 11 ms (1 + 10) B no longer counts: A is alone, never a fair drop. A9 takes the
        # burst, A10..A19 wait 1..10 ms (A: d0 12 ms, d 21 ms, b 8000U..80000U = Q), A20 is
        # refused by the bucket (-88000 < -80000): a shape drop, not a fair one.
        U = 65536
        A, B = 1, 2
        seq = [(0, A), (0, B)] + [(0, A)] * 6 + [(3, A)] * 2 + [(11, A)] * 12
        fr = [(T0 + t * MS, fa(s)) for t, s in seq]
        rep, m = run(fair(), fr)
        self.assertEqual(outcomes(m), 'CSSSSSSxSxC' + 'S' * 10 + 'x')
        self.assertEqual(m.depart[8:12] + m.depart[-2:],
                         [T0 + 7 * MS, None, T0 + 11 * MS, T0 + 12 * MS, T0 + 21 * MS, None])
        t = tenant(rep, 't')
        self.assertEqual((t['shape_drops'], t['fair_drops']), (3, 2))
        la = m.ts[0].fair.look(RM.flow_hash(RM.parse(fa(A))), T0 + 11 * MS, 80000, 10 * MS)
        self.assertEqual(m.ts[0].fair.s[la[0]][:3], [T0 + 21 * MS, T0 + 12 * MS, 80000 * U])
        self.assertEqual(la[3], None)  # B stopped counting at 11 ms: A alone

    def test_nothing_waiting_always_admitted(self):
        # One flow alone has the whole queue and no share (U = 65536): A1..A10 wait 1..10 ms
        # (A's b 80000U, the bucket at -80000); A11 would hold 88000U, over Q, but a flow
        # alone is never a fair drop: its bucket refuses it (-88000 < -80000), a shape drop.
        # B0 has nothing waiting (m = 2, a share of 40000U): past the fairness, refused by
        # the bucket too: a shape drop, not a fair one. At 10 ms A's frames have all left
        # (backlog 0): A12 waits 1 ms (-8000), and B1 2 ms.
        A, B = 1, 2
        U = 65536
        fr = [(T0, fa(A)) for _ in range(12)] + [(T0, fa(B)), (T0 + 10 * MS, fa(A)),
                                                 (T0 + 10 * MS, fa(B))]
        rep, m = run(fair(), fr)
        self.assertEqual(outcomes(m), 'C' + 'S' * 10 + 'xxSS')
        self.assertEqual(m.depart[11:], [None, None, T0 + 11 * MS, T0 + 12 * MS])
        t = tenant(rep, 't')
        self.assertEqual((t['shape_drops'], t['fair_drops']), (2, 0))
        # A12 and B1 left nothing waiting: d = d0 = their departure, b a frame
        self.assertEqual(slot_of(m, A)[:3], [T0 + 11 * MS, T0 + 11 * MS, 8000 * U])
        self.assertEqual(slot_of(m, B)[:3], [T0 + 12 * MS, T0 + 12 * MS, 8000 * U])
        # two flows: B0 second, waiting until 1 ms, so from A1 on two flows count and a share
        # is (80000 << 16) // 2 = 40000U: A1..A5 wait 2..6 ms (A: b 8000U..40000U, d0 2 ms),
        # A6..A10 are fair drops, though the bucket (-48000) would take 4 of them. At 10 ms
        # (-48000 + 80000, capped at the burst: 8000) B1 leaves at once, A11 waits 1 ms.
        fr = [(T0, fa(A)), (T0, fa(B))] + [(T0, fa(A)) for _ in range(10)] + \
            [(T0 + 10 * MS, fa(B)), (T0 + 10 * MS, fa(A))]
        rep, m = run(fair(), fr)
        self.assertEqual(outcomes(m), 'CS' + 'S' * 5 + 'x' * 5 + 'CS')
        self.assertEqual(m.depart[1:7], [T0 + k * MS for k in range(1, 7)])
        self.assertEqual(m.depart[12:], [T0 + 10 * MS, T0 + 11 * MS])
        t = tenant(rep, 't')
        self.assertEqual((t['shape_drops'], t['fair_drops']), (5, 5))
        self.assertEqual(m.ts[0].keys[None].tokens, [-8000])
        # B1 left at once: B's slot as B0 left it
        self.assertEqual(slot_of(m, A)[:3], [T0 + 11 * MS, T0 + 11 * MS, 8000 * U])
        self.assertEqual(slot_of(m, B)[:3], [T0 + MS, T0 + MS, 8000 * U])
        # a frame over any share, of a flow with nothing waiting: 8 flows wait one frame each
        # (-64000; a share for a ninth: (80000 << 16) // 9 = 582,542,222, 8888.9 units): a
        # ninth flow's frame of 1500 B (12000 bits) is taken (-76000), its second (24000U =
        # 1,572,864,000 > 582,542,222) is not
        fr = [(T0, fa(100))] + [(T0, fa(10 + k)) for k in range(8)] + \
            [(T0, v4udp('10.0.0.1', '10.0.0.2', 1500, sport=99))] * 2
        rep, m = run(fair(), fr)
        self.assertEqual(outcomes(m), 'C' + 'S' * 8 + 'Sx')
        self.assertEqual(tenant(rep, 't')['fair_drops'], 1)

    def test_full_group_evicts_the_first_to_empty(self):
        # Six flows F1..F6 of one group of 4 slots (Z: another group; U = 65536). Z takes the
        # burst. At T0: F1..F4 wait 1..4 ms and take slots g..g+3 (F1 alone: no share); F1, F2
        # again (backlog 8000U, + 8000U <= (80000 << 16) // 4 = 20000U): 5, 6 ms. F5 is new,
        # the group full: it takes the slot that empties first, F3's (3 ms; F4's empties at
        # 4), waits 7 ms. F3, evicted, is new again (its frame still waits): F4's slot (4 ms),
        # 8 ms. F4: F1's (5 ms), 9 ms. F1: F2's (6 ms),
        # 10 ms (-80000). F2: F5's (7 ms), past the fairness (backlog 0), refused by the
        # bucket. At 5.5 ms (-80000 + 44000): F6 evicts F5 (7 ms; F4 9, F1 10, F3 8), waits
        # 5.5 ms; F3 finds its slot: its one frame leaves at 8 ms (d0), so backlog 8000U, +
        # 8000U <= 20000U (4 flows): 6.5 ms (12 ms) with b 16000U, d0 still 8 ms.
        U = 65536
        g, (f1, f2, f3, f4, f5, f6), z = same_group_ports(6)
        seq = [(0, z), (0, f1), (0, f2), (0, f3), (0, f4), (0, f1), (0, f2), (0, f5), (0, f3),
               (0, f4), (0, f1), (0, f2), (5.5, f6), (5.5, f3)]
        fr = [(T0 + int(t * MS), fa(s)) for t, s in seq]
        rep, m = run(fair(), fr)
        self.assertEqual(outcomes(m), 'C' + 'S' * 10 + 'xSS')
        self.assertEqual(m.depart, [T0] + [T0 + k * MS for k in range(1, 11)] +
                         [None, T0 + 11 * MS, T0 + 12 * MS])
        t = tenant(rep, 't')
        self.assertEqual((t['shape_drops'], t['fair_drops']), (1, 0))
        sig = {p: fhash('10.0.0.1', '10.0.0.2', 17, p, 53) >> 32 | 1 for p in (f4, f1, f6, f3)}
        self.assertEqual(m.ts[0].fair.s[4 * g:4 * g + 4],
                         [[T0 + 9 * MS, T0 + 9 * MS, 8000 * U, sig[f4]],
                          [T0 + 10 * MS, T0 + 10 * MS, 8000 * U, sig[f1]],
                          [T0 + 11 * MS, T0 + 11 * MS, 8000 * U, sig[f6]],
                          [T0 + 12 * MS, T0 + 8 * MS, 16000 * U, sig[f3]]])
        self.assertEqual(sum(1 for s in m.ts[0].fair.s if s != [0, 0, 0, 0]), 4)

    def test_packet_units(self):
        # 1000 pps (1 token per ms), burst 1pkt, max-delay 20ms: Q = 20 packets, a frame 1
        # unit, U = 65536 in b and the shares. One flow alone: A0 takes the burst; frame k at
        # 10k us finds 0.01k - (k - 1): taken while -0.99k >= -20, k <= 20 (A1 leaves at 1
        # ms: d0; A20 waits 19.8 ms: d 20 ms). Until d0 A's backlog is all it has taken: k - 1
        # for Ak, and A21..A29 would hold 21 > Q, but A is alone: its bucket decides, and
        # refuses them (0.01k - 21 < -20): shape drops, not fair ones. At 1.5 ms (-19.8 + 1.3
        # = -18.5): taken, 19.5 ms (d 21 ms); its slot from backlog 20U x (20 - 1.5) //
        # (20 - 1) = 1,310,720 x 18.5 // 19 = 1,276,227, + U = 1,341,763, d0 1.5 ms (1 ms has
        # passed).
        U = 65536
        fr = [(T0 + 10 * US * k, fa(1)) for k in range(30)] + [(T0 + 1500 * US, fa(1))]
        pol = shaped('1000pps', '1pkt', '    max-delay: 20ms')
        rep, m = run(pol, fr)
        self.assertEqual(m.pol.profiles['p'].fair_q, 20)
        self.assertEqual(outcomes(m), 'C' + 'S' * 20 + 'x' * 9 + 'S')
        self.assertEqual((m.depart[1], m.depart[20], m.depart[30]),
                         (T0 + MS, T0 + 20 * MS, T0 + 21 * MS))
        t = tenant(rep, 't')
        self.assertEqual((t['shape_drops'], t['fair_drops']), (9, 0))
        self.assertEqual([s for s in m.ts[0].fair.s if s[3]],
                         [[T0 + 21 * MS, T0 + 1500 * US, 1341763,
                           fhash('10.0.0.1', '10.0.0.2', 17, 1, 53) >> 32 | 1]])
        # Two flows: B0 takes the burst, B1 waits 1 ms (B: d = d0 = 1 ms, b U). A share is
        # (20 << 16) // 2 = 10U: A1..A10 wait 2..11 ms (A: d0 2 ms, b 10U, the bucket at -11),
        # A11 (11U > 10U) is a fair drop though the bucket could owe 9 more. At 5.5 ms (-5.5;
        # B, gone at 1 ms, counts until 21 ms): A's backlog 10U x (11 - 5.5) // (11 - 2) =
        # 655,360 x 5.5 // 9 = 400,497 (4.11 packets, which whole units would round to 4 and
        # admit 4 frames): + U = 466,033, taken (6.5 ms: 12 ms; d0 5.5 ms), 531,569 (13 ms),
        # 597,105 (14 ms), then 662,641 > 655,360: a fair drop. B2 has nothing waiting: taken,
        # 9.5 ms (15 ms).
        A, B = 1, 2
        seq = [(0, B)] * 2 + [(0, A)] * 11 + [(5.5, A)] * 4 + [(5.5, B)]
        fr = [(T0 + int(t * MS), fa(s)) for t, s in seq]
        rep, m = run(pol, fr)
        self.assertEqual(outcomes(m), 'CS' + 'S' * 10 + 'x' + 'SSSx' + 'S')
        self.assertEqual(m.depart, [T0] + [T0 + k * MS for k in range(1, 12)] + [None] +
                         [T0 + k * MS for k in (12, 13, 14)] + [None, T0 + 15 * MS])
        t = tenant(rep, 't')
        self.assertEqual((t['shape_drops'], t['fair_drops']), (2, 2))
        self.assertEqual(slot_of(m, A)[:3], [T0 + 14 * MS, T0 + 5500 * US, 597105])
        self.assertEqual(slot_of(m, B)[:3], [T0 + 15 * MS, T0 + 15 * MS, U])

    def test_slots_carried_with_the_tokens(self):
        # U = 65536. A0 takes the burst; A1..A5, alone, wait 1..5 ms (A: d 5 ms, d0 1 ms, b
        # 40000U); B0 6 ms (B: d = d0 = 6 ms, b 8000U). Reloads at 0.1 ms (fair: none) and 0.2
        # ms (fair left out: flows), both before the frames at 0.2 ms: the same tokens, the
        # same slots. A6: backlog 40000U (nothing left before 1 ms), + 8000U > (80000 << 16)
        # // 2 = 40000U: a fair drop. B1: 8000U + 8000U: taken (-46400 - 8000: 6.8 ms, at 7
        # ms; B: d0 6 ms kept, b 16000U). With fair: none left running, both are taken (A6 at
        # 6.8 ms) and the slots stay as the frames at T0 left them.
        U = 65536
        A, B = 1, 2
        fr = [(T0, fa(A)) for _ in range(6)] + [(T0, fa(B)), (T0 + 200 * US, fa(A)),
                                                (T0 + 200 * US, fa(B))]
        rep, m = run_reloads(fair(), [(T0 + 100 * US, fair(fair_line='none')),
                                      (T0 + 200 * US, fair())], fr)
        self.assertEqual(outcomes(m), 'C' + 'S' * 6 + 'xS')
        self.assertEqual(m.depart[7:], [None, T0 + 7 * MS])
        self.assertEqual(tenant(rep, 't')['fair_drops'], 1)
        self.assertEqual(slot_of(m, A)[:3], [T0 + 5 * MS, T0 + MS, 40000 * U])
        self.assertEqual(slot_of(m, B)[:3], [T0 + 7 * MS, T0 + 6 * MS, 16000 * U])
        rep, m = run_reloads(fair(), [(T0 + 100 * US, fair(fair_line='none'))], fr)
        self.assertEqual(outcomes(m), 'C' + 'S' * 8)
        self.assertEqual(m.depart[7:], [T0 + 7 * MS, T0 + 8 * MS])
        self.assertEqual(slot_of(m, A)[:3], [T0 + 5 * MS, T0 + MS, 40000 * U])
        self.assertEqual(slot_of(m, B)[:3], [T0 + 6 * MS, T0 + 6 * MS, 8000 * U])
        # a reload that makes a new state (a burst of 1 MB: burst + debt 92 x larger, another
        # scale) starts the slots anew, and the bucket full: A6 and B1 leave at once
        rep, m = run_reloads(fair(), [(T0 + 100 * US, fair(burst='1MB'))], fr)
        self.assertNotEqual(m.policies[0][1], m.policies[1][1])
        self.assertEqual(outcomes(m), 'C' + 'S' * 6 + 'CC')
        self.assertEqual(m.ts[0].fair.s, RM.FairSlots().s)


def main():
    global RM, WORKDIR
    ap = argparse.ArgumentParser()
    ap.add_argument('--refmodel', default=str(Path(__file__).resolve().parent.parent / 'tools'
                                              / 'sl-refmodel.py'))
    ap.add_argument('--workdir')
    a, rest = ap.parse_known_args()
    RM = load_refmodel(a.refmodel)
    with tempfile.TemporaryDirectory(dir=a.workdir) as d:
        WORKDIR = d
        prog = unittest.main(argv=[sys.argv[0]] + rest, exit=False, verbosity=2)
    return 0 if prog.result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main())
