#!/usr/bin/env python3
# sl-mixtenants.py - write a policy of N tenants of mixed match shapes (IPv4/IPv6 prefixes, VLAN,
# QinQ, ports, lists of blocks), its one-tenant baseline, a capture of F flows spread evenly over
# the tenants and the frames every tenant must receive: the classifier's benchmark and its check.
"""
usage: sl-mixtenants.py --tenants N --out POLICY.yaml [--one-tenant ONE.yaml]
                        [--pcap CAP.pcap --flows F [--frames M] [--size B]] [--expect EXPECT.json]
                        [--mode dedicated|shared] [--max-keys K] [--no-catch-all]
                        [--unmatched-frac X] [--seed S]

N tenants (1..1,000,000) in file order, named tNNNNNN by position, all on one profile per-flow
(dedicated per 5-tuple at 1gbit, or --mode shared at 400gbit; --max-keys K sets the dedicated
table's size). The last is the catch-all 'rest' (match: {}) unless --no-catch-all; with N >= 20
one tenant 'port1' (match: { port: 1, proto: tcp }) sits at position N // 20: a shape that costs
probes but never matches the benchmark's port 0. The others cycle through eight shapes, tenant i
(counted without port1) getting shape i % 8, each value distinct and disjoint from all others:

  shape     match: space (distinct values)
  src4/24   src 10.a.b.0/24: 10.0.0.0-13.255.255.255 (262144)
  src4/20   src a.b.c.0/20: 20.0.0.0-83.255.255.255 (262144)
  src6/48   src 2001:db8:X::/48: 2001:db8::/30 (262144)
  vlan      vlan V (802.1Q): VID 1..4030 (4030)
  qinq      vlan S, inner-vlan C (802.1ad S-tag, 802.1Q C-tag): S 4031..4094 x C 1..4094 (262016)
  dst4-udp  dst 198.18.x.y/32, proto udp, dst-port 1000-1999: 198.18.0.0-198.21.255.255 (262144)
  dual      a list [{src 100.64.x.y/28}, {src 2001:dbc:X:Y00::/56}]: 100.64.0.0/10 and
            2001:dbc::/32 (262144)
  dst6-tcp  dst 2001:dbd:X:Y::/64, proto tcp, src-port 1024-65535: 2001:dbd::/32 (262144)

vlan has only 4030 values: above about 32,000 tenants its 4030 tenants are spread evenly over the
file and the other seven shapes cycle in the positions between them. A shape whose space cannot
hold its share is refused (never below 1,000,000 tenants). sluice reads policy files of at most
64 MiB, about 738,000 tenants of this mix: a bigger file is written with a warning.

--pcap writes F flows (default 100000), M frames (default F; frame k belongs to flow k % F) of B
bytes (default 64; more when the headers need it: IPv6, tags, TCP), back to back at 10 Gbit/s
from t = 1700000000 s. The flows go to the T shape tenants in turn, the m-th of them to the
(m % T)-th (port1 gets none; without --unmatched-frac, flow j to the (j % T)-th); with
--unmatched-frac X a fraction X of the flows, evenly spaced (X = 0.1: every 10th), matches no
shape tenant: untagged IPv4/UDP from 172.16.0.0/12 to 192.0.2.0/24, for 'rest' or, with
--no-catch-all, unmatched. Every flow is a distinct 5-tuple, VLAN tags aside: sources vary
inside the tenant's prefix and over the UDP/TCP source port; frames of prefix tenants are
untagged, frames of vlan, qinq and dst tenants come from sources no tenant matches
(172.16.0.0/12, 2001:dbe::/32) to 192.0.2.0/24 or 2001:dbf::/32 (dst tenants: their own dst).
vlan and qinq tenants and the dual-stack tenants alternate IPv4 and IPv6 flows. Headers and
IPv4/UDP/TCP checksums are valid. --expect writes {"tenants": {NAME: frames}, "unmatched": U}
for the tenants that get frames. --seed is accepted for the benchmark scripts; the output does
not depend on it (everything is deterministic). One summary line is printed.
"""
import argparse
import struct
import sys
from fractions import Fraction

MAX_TENANTS = 1000000
PORT_TENANT_FROM = 20  # N >= 20: one port tenant, at position N // 20 (first 10%)
T0_S = 1700000000
SLUICE_MAX_FILE = 64 << 20  # sluice refuses larger policy files (CFG_MAX_FILE, lib/sl_config.c)
LINE_BPS = 10 * 10**9
ETH_HDR = bytes.fromhex("020000000002" "020000000001")  # dst, src

# name, capacity (distinct values); the order is the cycle of the shapes
SHAPES = [
    ("src4/24", 4 << 16),
    ("src4/20", 64 << 12),
    ("src6/48", 4 << 16),
    ("vlan", 4030),
    ("qinq", 64 * 4094),
    ("dst4-udp", 1 << 18),
    ("dual", 1 << 18),
    ("dst6-tcp", 1 << 18),
]
SRC4_24, SRC4_20, SRC6_48, VLAN, QINQ, DST4_UDP, DUAL, DST6_TCP = range(len(SHAPES))
PORT_SHAPE, REST_SHAPE = -1, -2
VLAN_FIRST, QINQ_S_FIRST, QINQ_C_COUNT = 1, 4031, 4094

# bases of the spaces (IPv4 as 32-bit, IPv6 as 128-bit integers)
B_SRC4_24 = 10 << 24
B_SRC4_20 = 20 << 24
B_SRC6_48 = 0x20010DB8 << 96
B_DST4 = (198 << 24) | (18 << 16)
B_DUAL4 = (100 << 24) | (64 << 16)
B_DUAL6 = 0x20010DBC << 96
B_DST6 = 0x20010DBD << 96
# sources and destinations no tenant matches
OUT_SRC4 = (172 << 24) | (16 << 16)  # 172.16.0.0/12
OUT_DST4 = (192 << 24) | (2 << 8)  # 192.0.2.0/24
OUT_SRC6 = 0x20010DBE << 96
OUT_DST6 = (0x20010DBF << 96) | 1
SPORT_FIRST, SPORT_COUNT = 1024, 65536 - 1024
DPORT = 5000  # of the frames whose destination port no tenant looks at
DST6_DPORT = 443


def ip4(v):
    return "%d.%d.%d.%d" % (v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255)


def ip6(g0, g1, g2, g3):
    """Compact text of the IPv6 address g0:g1:g2:g3:: (g0, g1 non-zero)."""
    if g3:
        return "%x:%x:%x:%x::" % (g0, g1, g2, g3)
    if g2:
        return "%x:%x:%x::" % (g0, g1, g2)
    return "%x:%x::" % (g0, g1)


# --- which tenant has which shape --------------------------------------------------------------

def assign_shapes(s):
    """Shape of each of the s shape tenants (list of ints) and their counts; ValueError if full."""
    n = len(SHAPES)
    want = [s // n + (1 if k < s % n else 0) for k in range(n)]
    if all(w <= SHAPES[k][1] for k, w in enumerate(want)):
        return [i % n for i in range(s)], want
    # scarce shapes (vlan) take all their space, spread evenly; the others cycle in between
    capped = [k for k in range(n) if want[k] > SHAPES[k][1]]
    free = [k for k in range(n) if k not in capped]
    shape = [None] * s
    for k in capped:
        c = SHAPES[k][1]
        for q in range(c):
            p = (q * s + s // (2 * c)) // c + k
            while p < s and shape[p] is not None:
                p += 1
            if p >= s:
                p = shape.index(None)
            shape[p] = k
    cyc = 0
    for p in range(s):
        if shape[p] is None:
            shape[p] = free[cyc % len(free)]
            cyc += 1
    counts = [0] * n
    for k in shape:
        counts[k] += 1
    for k in free:
        if counts[k] > SHAPES[k][1]:
            raise ValueError("shape %s would need %d distinct values, its space has %d" % (
                SHAPES[k][0], counts[k], SHAPES[k][1]))
    return shape, counts


def tenants(n, catch_all):
    """The tenants in file order as (name, shape, value index in its shape), the shape tenants
    among them (in file order) and the count of each shape."""
    port_at = n // 20 if n >= PORT_TENANT_FROM else -1
    s = n - (1 if catch_all else 0) - (1 if port_at >= 0 else 0)
    shapes, counts = assign_shapes(s)
    seen = [0] * len(SHAPES)
    out = []
    for k in shapes:
        if len(out) == port_at:
            out.append(("port1", PORT_SHAPE, 0))
        out.append(("t%06d" % len(out), k, seen[k]))
        seen[k] += 1
    shaped = [t for t in out if t[1] >= 0]
    if catch_all:
        out.append(("rest", REST_SHAPE, 0))
    return out, shaped, counts


def match_text(k, v):
    if k == SRC4_24:
        return "{ src: %s/24 }" % ip4(B_SRC4_24 + (v << 8))
    if k == SRC4_20:
        return "{ src: %s/20 }" % ip4(B_SRC4_20 + (v << 12))
    if k == SRC6_48:
        return "{ src: %s/48 }" % ip6(0x2001, 0xDB8 + (v >> 16), v & 0xFFFF, 0)
    if k == VLAN:
        return "{ vlan: %d }" % (VLAN_FIRST + v)
    if k == QINQ:
        return "{ vlan: %d, inner-vlan: %d }" % (QINQ_S_FIRST + v // QINQ_C_COUNT,
                                                 1 + v % QINQ_C_COUNT)
    if k == DST4_UDP:
        return "{ dst: %s/32, proto: udp, dst-port: 1000-1999 }" % ip4(B_DST4 + v)
    if k == DUAL:
        return "[ { src: %s/28 }, { src: %s/56 } ]" % (
            ip4(B_DUAL4 + (v << 4)), ip6(0x2001, 0xDBC, v >> 8, (v & 0xFF) << 8))
    if k == DST6_TCP:
        return "{ dst: %s/64, proto: tcp, src-port: 1024-65535 }" % ip6(0x2001, 0xDBD, v >> 16,
                                                                         v & 0xFFFF)
    if k == PORT_SHAPE:
        return "{ port: 1, proto: tcp }"
    return "{}"


def profile_line(mode, max_keys):
    if mode == "shared":
        return "  per-flow: { mode: shared, rate: 400gbit, burst: 100000B, exceed: drop }"
    return "  per-flow: { mode: dedicated, key: 5-tuple, rate: 1gbit, burst: 100000B, " \
           "exceed: drop%s }" % (", max-keys: %d" % max_keys if max_keys else "")


def policy_text(title, prof, tlist):
    lines = ["# %s" % title, "sluice: 1", "unmatched: pass", "profiles:", prof, "tenants:"]
    lines += ["  - { name: %s, profile: per-flow, match: %s }" % (name, match_text(k, v))
              for name, k, v in tlist]
    return "\n".join(lines) + "\n"


# --- frames ------------------------------------------------------------------------------------

_LAYOUTS = {}


def _layout(ntags, v6, tcp, size):
    """struct and L4 segment length (header + zero payload) of one kind of frame."""
    key = (ntags, v6, tcp, size)
    if key not in _LAYOUTS:
        hdr = 14 + 4 * ntags + (40 if v6 else 20) + (20 if tcp else 8)
        flen = max(size, hdr)
        fmt = "!12s" + "HH" * ntags + "H" + ("IHBBQQQQ" if v6 else "BBHHHBBHII") + \
              ("HHIIBBHHH" if tcp else "HHHH") + ("%dx" % (flen - hdr) if flen > hdr else "")
        _LAYOUTS[key] = (struct.Struct(fmt).pack, flen - hdr + (20 if tcp else 8))
    return _LAYOUTS[key]


def frame(tags, v6, tcp, src, dst, sport, dport, size):
    """One Ethernet frame: tags () / (vid,) / (s, c) (802.1ad + 802.1Q); src, dst integers;
    IPv4 or IPv6, UDP or TCP (ACK), valid checksums, zero payload up to size bytes."""
    pack, seg = _layout(len(tags), v6, tcp, size)
    proto = 6 if tcp else 17
    # one's complement sums as residues mod 0xffff (2^16 = 1): the words of an address are
    # its value mod 0xffff; the zero payload adds nothing
    asum = src % 0xFFFF + dst % 0xFFFF
    if tcp:
        r = (asum + proto + seg + sport + dport + 2 + 0x5010 + 0xFFFF) % 0xFFFF
        l4 = (sport, dport, 1, 1, 0x50, 0x10, 0xFFFF, 0xFFFF - r if r else 0, 0)
    else:
        r = (asum + proto + 2 * seg + sport + dport) % 0xFFFF
        l4 = (sport, dport, seg, 0xFFFF - r if r else 0xFFFF)
    if len(tags) == 2:
        l2 = (ETH_HDR, 0x88A8, tags[0], 0x8100, tags[1])
    elif tags:
        l2 = (ETH_HDR, 0x8100, tags[0])
    else:
        l2 = (ETH_HDR,)
    if v6:
        m = (1 << 64) - 1
        l3 = (0x86DD, 0x60000000, seg, proto, 64, src >> 64, src & m, dst >> 64, dst & m)
    else:
        r = (0x4500 + 20 + seg + 0x4000 + proto + asum) % 0xFFFF
        l3 = (0x0800, 0x45, 0, 20 + seg, 0, 0, 64, proto, 0xFFFF - r if r else 0, src, dst)
    return pack(*l2, *l3, *l4)


def split_host(k, hosts):
    """The k-th flow of a tenant: (host offset 1..hosts, source port)."""
    return 1 + k % hosts, SPORT_FIRST + k // hosts


def flow_frame(t, k, j, size):
    """Frame of flow j, the k-th flow of tenant t (None: an unmatched-style flow)."""
    o4 = OUT_SRC4 + (j & 0xFFFFF)  # outside sources: unique per flow j
    o4port = SPORT_FIRST + (j >> 20)
    o4dst = OUT_DST4 + 1 + j % 254
    if t is None:
        return frame((), False, False, o4, o4dst, o4port, DPORT, size)
    s, v = t[1], t[2]
    if s == SRC4_24:
        h, sp = split_host(k, 254)
        return frame((), False, False, B_SRC4_24 + (v << 8) + h, o4dst, sp, DPORT, size)
    if s == SRC4_20:
        h, sp = split_host(k, 4094)
        return frame((), False, False, B_SRC4_20 + (v << 12) + h, o4dst, sp, DPORT, size)
    if s == SRC6_48:
        h, sp = split_host(k, 1 << 32)
        return frame((), True, False, B_SRC6_48 + (v << 80) + h, OUT_DST6, sp, DPORT, size)
    if s == VLAN or s == QINQ:
        tags = (VLAN_FIRST + v,) if s == VLAN else (QINQ_S_FIRST + v // QINQ_C_COUNT,
                                                      1 + v % QINQ_C_COUNT)
        if k % 2:
            return frame(tags, True, False, OUT_SRC6 + 1 + j, OUT_DST6,
                         SPORT_FIRST + j % SPORT_COUNT, DPORT, size)
        return frame(tags, False, False, o4, o4dst, o4port, DPORT, size)
    if s == DST4_UDP:
        return frame((), False, False, o4, B_DST4 + v, o4port, 1000 + k % 1000, size)
    if s == DUAL:
        if k % 2:
            h, sp = split_host(k // 2, 1 << 32)
            return frame((), True, False, B_DUAL6 + (v << 72) + h, OUT_DST6, sp, DPORT, size)
        h, sp = split_host(k // 2, 14)
        return frame((), False, False, B_DUAL4 + (v << 4) + h, o4dst, sp, DPORT, size)
    # DST6_TCP
    return frame((), True, True, OUT_SRC6 + 1 + j, B_DST6 + (v << 64) + 1 + k,
                 SPORT_FIRST + j % SPORT_COUNT, DST6_DPORT, size)


# distinct flows a tenant's frames can take (source hosts x source ports); the shapes not
# listed take their sources from the flow number: no limit
MAX_FLOWS = {SRC4_24: 254 * SPORT_COUNT, SRC4_20: 4094 * SPORT_COUNT, DUAL: 2 * 14 * SPORT_COUNT}


def is_unmatched(j, frac):
    """Flow j is one of the evenly spaced fraction frac (j = 1/frac - 1, 2/frac - 1, ...)."""
    return (j + 1) * frac.numerator // frac.denominator > j * frac.numerator // frac.denominator


def write_pcap(path, frames, nframes):
    """frames[k % len(frames)] for k < nframes, back to back at LINE_BPS."""
    nf = len(frames)
    lens = [len(f) for f in frames]
    total = 24 + 16 * nframes + sum(lens) * (nframes // nf) + sum(lens[:nframes % nf])
    buf = bytearray(total)
    struct.pack_into("<IHHiIII", buf, 0, 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    pack = struct.Struct("<IIII").pack_into
    off, t_ps, ps_per_byte = 24, 0, 8 * 10**12 // LINE_BPS  # a frame takes (len + 20) bytes
    for k in range(nframes):
        f = frames[k % nf]
        ln = lens[k % nf]
        t_us = t_ps // 1000000
        pack(buf, off, T0_S + t_us // 1000000, t_us % 1000000, ln, ln)
        off += 16
        buf[off:off + ln] = f
        off += ln
        t_ps += (ln + 20) * ps_per_byte
    with open(path, "wb") as fp:
        fp.write(buf)


# --- main --------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tenants", type=int, required=True, metavar="N")
    ap.add_argument("--out", required=True, metavar="POLICY.yaml")
    ap.add_argument("--one-tenant", metavar="ONE.yaml")
    ap.add_argument("--pcap", metavar="CAP.pcap")
    ap.add_argument("--flows", type=int, default=100000, metavar="F")
    ap.add_argument("--frames", type=int, metavar="M")
    ap.add_argument("--size", type=int, default=64, metavar="B")
    ap.add_argument("--expect", metavar="EXPECT.json")
    ap.add_argument("--mode", choices=("dedicated", "shared"), default="dedicated")
    ap.add_argument("--max-keys", type=int, metavar="K")
    ap.add_argument("--no-catch-all", action="store_true")
    ap.add_argument("--unmatched-frac", default="0", metavar="X")
    ap.add_argument("--seed", type=int, default=1, metavar="S")
    a = ap.parse_args()
    if not 1 <= a.tenants <= MAX_TENANTS:
        ap.error("--tenants: 1..%d" % MAX_TENANTS)
    if a.max_keys is not None:
        if a.mode != "dedicated":
            ap.error("--max-keys: only with --mode dedicated")
        if not 1 <= a.max_keys <= 1 << 26:
            ap.error("--max-keys: 1..%d" % (1 << 26))
    if not 1 <= a.flows <= 1 << 24:
        ap.error("--flows: 1..%d" % (1 << 24))
    nframes = a.flows if a.frames is None else a.frames
    if not 1 <= nframes <= 1 << 27:
        ap.error("--frames: 1..%d" % (1 << 27))
    if not 60 <= a.size <= 9216:
        ap.error("--size: 60..9216 bytes")
    try:
        frac = Fraction(a.unmatched_frac)
    except (ValueError, ZeroDivisionError):
        frac = None
    if frac is None or not 0 <= frac <= 1:
        ap.error("--unmatched-frac: a number from 0 to 1 (0.1, 1/3), got %r" % a.unmatched_frac)
    if (a.expect or a.frames is not None) and not a.pcap:
        ap.error("--expect and --frames need --pcap")
    catch_all = not a.no_catch_all
    try:
        tlist, shaped, counts = tenants(a.tenants, catch_all)
    except ValueError as e:
        ap.error("--tenants %d: %s" % (a.tenants, e))
    T = len(shaped)
    unmatched_flows = [] if not a.pcap else [j for j in range(a.flows)
                                             if not T or (frac and is_unmatched(j, frac))]
    matched = a.flows - len(unmatched_flows) if a.pcap else 0
    if matched:
        per_tenant = -(-matched // T)  # the most flows one tenant gets
        for k in sorted({t[1] for t in shaped[:matched]}):
            if per_tenant > MAX_FLOWS.get(k, per_tenant):
                ap.error("--flows %d: the %s tenants would need %d distinct flows each, their "
                         "prefix and source ports give %d" % (a.flows, SHAPES[k][0],
                                                              per_tenant, MAX_FLOWS[k]))
    prof = profile_line(a.mode, a.max_keys)
    text = policy_text("%d tenants of mixed match shapes written by tools/sl-mixtenants.py (%s)"
                       % (a.tenants, a.mode), prof, tlist)
    with open(a.out, "w") as f:
        f.write(text)
    if len(text) > SLUICE_MAX_FILE:
        print("sl-mixtenants: warning: %s has %d bytes, sluice refuses policy files over %d "
              "(CFG_MAX_FILE in lib/sl_config.c): about %d tenants of this mix fit" % (
                  a.out, len(text), SLUICE_MAX_FILE, a.tenants * SLUICE_MAX_FILE // len(text)),
              file=sys.stderr)
    if a.one_tenant:
        with open(a.one_tenant, "w") as f:
            f.write(policy_text("the baseline of %s: one tenant matching everything, written by "
                                "tools/sl-mixtenants.py" % a.out, prof, [("all", REST_SHAPE, 0)]))
    summary = "sl-mixtenants: %s: %d tenant%s (%s%s%s)" % (
        a.out, a.tenants, "s" if a.tenants > 1 else "",
        ", ".join("%s %d" % (SHAPES[k][0], c) for k, c in enumerate(counts)),
        ", port 1" if a.tenants >= PORT_TENANT_FROM else "", ", catch-all 1" if catch_all else "")
    if a.pcap:
        # flow j: an unmatched-style flow, or the m-th other flow: the (m % T)-th shape tenant
        # and its (m // T)-th flow
        frames, owner = [], []
        um, m = set(unmatched_flows), 0
        for j in range(a.flows):
            if j in um:
                frames.append(flow_frame(None, 0, j, a.size))
                owner.append(-1)
            else:
                frames.append(flow_frame(shaped[m % T], m // T, j, a.size))
                owner.append(m % T)
                m += 1
        write_pcap(a.pcap, frames, nframes)
        if a.expect:
            got = [0] * T
            lost = 0
            full, part = divmod(nframes, a.flows)  # frames of flow j: full + (j < part)
            for j, i in enumerate(owner):
                c = full + (j < part)
                if i < 0:
                    lost += c
                else:
                    got[i] += c
            lines = ['  "%s": %d' % (t[0], c) for t, c in zip(shaped, got) if c]
            if catch_all and lost:
                lines.append('  "rest": %d' % lost)
            with open(a.expect, "w") as f:
                f.write('{"tenants": {%s}, "unmatched": %d}\n' % (
                    "\n" + ",\n".join(lines) + "\n " if lines else "", 0 if catch_all else lost))
        summary += "; %s: %d flows (%d to no shape tenant), %d frames of %d+ bytes" % (
            a.pcap, a.flows, len(unmatched_flows), nframes, a.size)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
