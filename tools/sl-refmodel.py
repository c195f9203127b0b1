#!/usr/bin/env python3
# sl-refmodel.py - independent reference model of the sluice policer: a YAML policy and pcaps
# in, the report JSON out; exact token arithmetic with fractions.Fraction, no C code used.
"""Reference model of sluice.

Reads the policy (python3-yaml) and Ethernet pcaps (pure Python: microsecond or nanosecond
magic, either byte order), parses, classifies and polices every frame and prints the report
JSON of sluice-replay (elapsed_s, packets, bytes, dropped, tenants[], unmatched, malformed).
A tenant's keys is the number of distinct keys it has seen (1 for a shared tenant that saw
traffic): sluice reports live keys, the same while no key has been idle for its profile's idle.

Ports, as sluice-replay: the k-th --in (0-based, at most 16) is the traffic of DPDK port k.
The captures are merged (merge()): repeatedly the earliest next frame of all captures, on equal
timestamps the one of the lower port; each capture keeps its own order.

Classification (class Match): a tenant's match is one block (a mapping) or a non-empty list of
blocks; a missing match is {} (everything). A frame belongs to the first tenant in file order
one of whose blocks holds. A block holds when every field it gives holds: vlan / inner-vlan
(the outer / inner VLAN ID: the first / second of up to two tags of TPID 0x8100, 0x88a8 or
0x9100, a third tag ends the parse as a non-IP frame; an untagged frame has neither, a single-
tagged one no inner), port (the DPDK port the frame came in on), src / dst (the frame is of the
prefix's family, address in the prefix), proto (0 for non-IP; icmp is 58 in a block whose src
or dst is IPv6, else 1), src-port / dst-port (the frame has ports, and they are in the ranges).

Bucket semantics: every bucket of a key is full (= burst) when the key is first seen; it refills
continuously at amount/per_ns tokens per ns, capped at burst; a frame conforms iff every bucket
holds at least its cost (8 x min(frame length, 65535) in bits mode, as lib/sl_engine.c
cost_of; 1 in packet mode), and only then the cost is taken from all of them. Time is the pcap
timestamp in ns.

Shaping (exceed: shape): a frame that does not fit may wait instead of being dropped. Every
bucket b of a shaped profile (the rate/burst one and each limit) may owe a debt of at most
D_b = floor(rate_b x max_delay_ns) tokens, and at most queue_tokens when `queue` is given
(queue: bytes for a bit rate, 8 x bytes tokens; Npkt for a packet rate). Without max-delay
(1us..1s) it is ceil(C / rate) ns, C = 8 x 1514 x 8 bits (bit rates) or 8 packets, at least
20 ms and at most 1 s; max-delay and queue are refused on a profile that does not shape. A
bucket's tokens t_b start at burst_b and refill as above (v_b = min(burst_b, t_b + rate_b x dt),
from a negative t_b too). A frame of cost c is taken iff v_b - c >= -D_b for every bucket: then
t_b = v_b - c everywhere, and it waits w = max over b of -t_b / rate_b (0 when no t_b < 0) ns:
it leaves at now + ceil(w) (Model.depart), V_SHAPED when w > 0, else V_CONFORM. Taken frames
count in conform_*, those with w > 0 in shaped_packets / shaped_bytes too; shape_delay_max_us
is the largest ceil(w) in us, rounded half up. A frame not taken is dropped (V_SHAPE_DROP), its
buckets only refilled; it counts in exceed_* and shape_drops. A frame refused by max-flows, or
by a full key table with when-full: drop, is dropped (V_DROP / V_NOSLOT_DROP, not in
shape_drops): there is nothing to wait for; when-full: pass forwards it at once, when-full:
shared shapes it on the tenant's overflow buckets by the same rules. Every other forwarded frame
leaves at its arrival. sluice-replay --out writes forwarded frames in departure order (equal
departures in input order: Model.output_order()); elapsed_s stays first forwarded arrival to
last arrival.

Flow fairness (fair: flows | none, exceed: shape only, else refused; the default is flows for a
shared profile and none for a dedicated one, which refuses flows; lib/sl_fair.h, FairSlots): a
fair tenant's flows share its queue Q = min over b of D_b (units: bits or packets). Its frame,
after max-flows (a refused frame never gets here), has units u = 8 x min(length, 65535) (bit
rates) or 1 and flow hash h (flow_hash(): the XOR of the four little-endian 64-bit words of the
16-byte source and destination (IPv4 in bytes 0..3, the rest 0; all 0 when not IP), sport << 16
| dport (0 without ports: ICMP, later fragments, non-IP) and proto << 40 (0 for non-IP), times
0x9e3779b97f4a7c15 mod 2^64). The tenant has 64 slots (d, d0, b, sig), all 0 at first, in 16
groups of 4: its flow had b/2^16 units waiting, the last leaving at d, the oldest at d0 (b and
the share below in 2^-16 units, saturating at 2^62: FAIR_SHIFT, FAIR_CAP). The frame's
group is slots g..g+3, g = 4 x (h >> 60), its signature sig = (h >> 32) | 1. Its slot: the
first of its group whose sig matches (found), else the first of the group, replaced by each
later one (in order) whose d is below its d while its d > now (a slot whose frames have all
left, else the one that empties first). n = the slots that count: a slot counts from a frame
noted in it (below) until the tenant's first frame at a now >= d + max-delay (a flow counts
for max-delay after its last frame left; the first such frame in capture order, as sluice's
bitmap: a capture may go back in time); m = n + 1, or n when its slot is one of them; share =
min((Q << 16) // m, 2^62), none when m = 1 (a flow alone is never a fair drop: its buckets
decide). backlog = 0 when not found or d <= now, else b while d0 > now, else
b x (d - now) // (d - d0). If backlog > 0, m > 1 and backlog + (u << 16) > share the frame is
a fair drop:
V_SHAPE_DROP, counted in exceed_*, shape_drops and fair_drops, its buckets untouched (not even
refilled). Else the buckets decide as above; a frame taken with a wait (ceil(w) > 0 ns) sets
its slot to d = now + ceil(w), b = min(backlog + (u << 16), 2^62), sig, and d0 = d when
backlog = 0, else d0 as
it was while d0 > now, else now (a frame taken without a wait, or dropped by its buckets,
leaves the slots alone). All of it in integers, time in ns.

max-flows (the rules of lib/sl_flow.h, class Flows): a frame of a flow the profile refuses gets
the exceed action without touching any bucket or key, and counts in flow_refused (and exceed).
Idle flows are swept at sluice-replay's maintenance times: at the first frame at or after one
second of capture time since the previous sweep (the first frame starts the clock), before
that frame; a tenant's flows is its active admitted flows at the end. The flow and domain
tables are assumed never to fill.

Reloads (Model.reload, --reload SECONDS:FILE as sluice-replay's): before the first frame at
or after t0 + SECONDS (t0 the first frame's timestamp of the merged captures; SECONDS rounded
to the nearest ns), in time order, the running policy is replaced as sluice does on SIGHUP
(lib/sl_policy.c tenant_state_for; TenantState.after_reload). Tenants carry over by name: the
counters always; the tokens, their time of last update and the longest wait when the unit
(bits / packets) and the shaping (exceed: shape or not) are unchanged and every bucket both
profiles have keeps its fixed-point scale (bucket_shift: it changes only when a burst + debt
grows past about 16x): the new rate, burst and debt apply from the next frame to the tokens
as they are (the refill since the last update is at the new rate, capped at the new burst);
a limit added starts full (also one removed by an earlier reload); the fair slots carry with
them, whatever fair says before and after (untouched while a profile with fair: none runs,
used as they are when fair: flows comes back). Otherwise the buckets restart full, the fair
slots all 0, and the longest wait from 0, but for a policer (neither profile shapes, same
unit) whose tokens carry into the new scale. A tenant removed leaves the report (which lists
the running policy's tenants); its later frames are classified by the new policy; a tenant
added back later starts anew. Totals, unmatched, malformed and dropped continue. A frame
already waiting keeps its departure; frames after the reload wait behind the debt as it
stands, paid at the new rate (a faster rate lets them leave before frames still waiting).
Dedicated tenants keep their keys (and tokens) only when the key signature holds (profile
name, key, bucket count, unit, shaping, scales), else their keys restart and the old ones'
budget units are freed at once (sluice: at its next eviction scan); max-flows carries per
TenantState.after_reload. The dedicated and max-flows rules are read from the C, not checked
by tests/replay_check.py.

Used as a module by tests/replay_check.py: load_policy(), read_pcap(), merge(), Model (its
verdicts, tenant_of (an index into the tenants of the policy running then: tenant_at(i)),
gen_of and depart per frame, reload(), output_order(), report()), parse_reload(); and by
tests/refmodel_selftest.py, which also reads flow_hash(), FairSlots and a tenant's state
(Model.ts[i]: its keys' tokens, its fair slots).
"""
import argparse
import array
import ipaddress
import json
import re
import struct
import sys
from fractions import Fraction

VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
PORT_PROTOS = (6, 17, 132, 136)  # TCP, UDP, SCTP, UDP-Lite: the protocols ports are read for
IP6_EXT = (0, 43, 44, 51, 60)  # hop-by-hop, routing, fragment, AH, destination options
IP6_EXT_MAX = 8  # a ninth extension header is malformed
DEFAULT_IDLE_NS = 60 * 10**9
DEFAULT_FLOW_IDLE_NS = 30 * 10**9
SWEEP_NS = 10**9  # sluice-replay runs the engine's maintenance once per capture second
TCP_FIN, TCP_SYN, TCP_RST = 0x01, 0x02, 0x04
DEFAULT_MAX_KEYS = 1 << 20

# Frame outcomes (Model.verdicts): what happened to each frame.
V_CONFORM, V_DROP, V_MARK, V_PASS = 0, 1, 2, 3  # tenant frames
V_UNMATCHED_FWD, V_UNMATCHED_DROP = 4, 5
V_MALFORMED_FWD, V_MALFORMED_DROP = 6, 7
V_NOSLOT_FWD, V_NOSLOT_DROP = 8, 9  # dedicated table full: when-full pass / drop
V_SHAPED, V_SHAPE_DROP = 10, 11  # exceed: shape: taken but waited / over its debt, dropped
FORWARDED = frozenset((V_CONFORM, V_MARK, V_PASS, V_UNMATCHED_FWD, V_MALFORMED_FWD,
                       V_NOSLOT_FWD, V_SHAPED))


class PolicyError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Units (exact): rates -> (unit, amount, per_ns), sizes -> (unit, tokens), durations -> ns

RATE_UNITS = {'bit': ('bits', 1), 'kbit': ('bits', 10**3), 'mbit': ('bits', 10**6),
              'gbit': ('bits', 10**9), 'tbit': ('bits', 10**12), 'pps': ('packets', 1),
              'kpps': ('packets', 10**3), 'mpps': ('packets', 10**6)}
SIZE_UNITS = {'B': 1, 'KB': 10**3, 'MB': 10**6, 'GB': 10**9, 'KiB': 1 << 10, 'MiB': 1 << 20,
              'GiB': 1 << 30}
DURATION_UNITS = {'us': 10**3, 'ms': 10**6, 's': 10**9, 'm': 60 * 10**9, 'h': 3600 * 10**9,
                  'd': 86400 * 10**9}  # -> ns
NUM_UNIT = re.compile(r'^([0-9]+(?:\.[0-9]+)?)([A-Za-z]+)$')


def _num_unit(what, s):
    m = NUM_UNIT.match(str(s).strip())
    if not m:
        raise PolicyError(f'{what}: {s!r}: expected a number and a unit')
    return Fraction(m.group(1)), m.group(2)


def parse_rate(s):
    """'8mbit' -> ('bits', Fraction tokens per ns)."""
    v, u = _num_unit('rate', s)
    if u not in RATE_UNITS or v <= 0:
        raise PolicyError(f'rate: {s!r}: expected N[.N] with unit {"|".join(RATE_UNITS)}')
    unit, mul = RATE_UNITS[u]
    return unit, v * mul / 10**9


def parse_size(s):
    """'20000B' -> ('bits', 160000); '10pkt' -> ('packets', 10)."""
    v, u = _num_unit('size', s)
    if u == 'pkt':
        if v.denominator != 1 or v <= 0:
            raise PolicyError(f'size: {s!r}: whole packets > 0 expected')
        return 'packets', int(v)
    if u not in SIZE_UNITS:
        raise PolicyError(f'size: {s!r}: unit must be B KB MB GB KiB MiB GiB or pkt')
    b = v * SIZE_UNITS[u]
    if b.denominator != 1 or b <= 0:
        raise PolicyError(f'size: {s!r}: not a whole number of bytes > 0')
    return 'bits', int(b) * 8


def parse_duration(s):
    v, u = _num_unit('duration', s)
    if u not in DURATION_UNITS or v.denominator != 1 or v <= 0:
        raise PolicyError(f'duration: {s!r}: expected N us|ms|s|m|h|d, N whole and > 0')
    return int(v) * DURATION_UNITS[u]


# ---------------------------------------------------------------------------------------------
# Policy

SHAPE_MIN_DELAY_NS, SHAPE_MAX_DELAY_NS = 10**3, 10**9  # max-delay: 1us..1s
SHAPE_DEFAULT_MIN_NS = 20 * 10**6  # the default max-delay is at least 20 ms
SHAPE_DEFAULT_COST = {'bits': 8 * 1514 * 8, 'packets': 8}  # 8 full frames: the default delay


def shape_default_delay(unit, rate):
    """Default max-delay (ns) of a shaped profile of rate (tokens per ns): the time 8 frames
    of 1514 bytes (8 packets) take, rounded up, within 20 ms..1 s."""
    c = SHAPE_DEFAULT_COST[unit]
    ns = -(-c // rate)  # ceil of a Fraction
    return int(min(max(ns, SHAPE_DEFAULT_MIN_NS), SHAPE_MAX_DELAY_NS))


class Bucket:
    __slots__ = ('rate', 'burst', 'debt')

    def __init__(self, rate, burst, debt=0):
        self.rate = rate  # Fraction, tokens per ns
        self.burst = Fraction(burst)  # tokens
        self.debt = debt  # tokens it may owe (exceed: shape), an integer; 0 otherwise


class Profile:
    def __init__(self, name, d):
        if not isinstance(d, dict):
            raise PolicyError(f'profile {name}: expected a mapping')
        self.name = name
        self.mode = d.get('mode')
        if self.mode not in ('shared', 'dedicated'):
            raise PolicyError(f'profile {name}: mode: shared or dedicated (required)')
        self.key = d.get('key', 'src-ip')
        if self.key not in ('src-ip', 'dst-ip', '5-tuple'):
            raise PolicyError(f'profile {name}: key: src-ip, dst-ip or 5-tuple')
        if 'rate' not in d or 'burst' not in d:
            raise PolicyError(f'profile {name}: rate and burst are required')
        self.unit, rate = parse_rate(d['rate'])
        bunit, burst = parse_size(d['burst'])
        if bunit != self.unit:
            raise PolicyError(f'profile {name}: burst {d["burst"]!r} is not in {self.unit}')
        self.buckets = [Bucket(rate, burst)]
        for lim in d.get('limits') or []:
            lunit, amount = parse_size(lim['limit'])
            if lunit != self.unit:
                raise PolicyError(f'profile {name}: limit {lim["limit"]!r} not in {self.unit}')
            self.buckets.append(Bucket(Fraction(amount, parse_duration(lim['per'])), amount))
        self.exceed = d.get('exceed')
        if self.exceed not in ('drop', 'mark', 'pass', 'shape'):
            raise PolicyError(f'profile {name}: exceed: drop, mark, pass or shape (required)')
        self.dscp = d.get('dscp')
        if self.exceed == 'mark' and not (isinstance(self.dscp, int) and 0 <= self.dscp <= 63):
            raise PolicyError(f'profile {name}: exceed: mark needs dscp 0..63')
        if self.exceed != 'mark' and self.dscp is not None:
            raise PolicyError(f'profile {name}: dscp is only for exceed: mark')
        if len(self.buckets) > 4:
            raise PolicyError(f'profile {name}: at most 3 limits')
        self._shape(name, d)
        self.idle_ns = parse_duration(d['idle']) if 'idle' in d else DEFAULT_IDLE_NS
        self.max_keys = int(d.get('max-keys', 0))
        self.when_full = d.get('when-full', 'shared')
        if self.when_full not in ('shared', 'pass', 'drop'):
            raise PolicyError(f'profile {name}: when-full: shared, pass or drop')
        self.max_flows = d.get('max-flows')
        if self.max_flows is not None and not (isinstance(self.max_flows, int)
                                               and 1 <= self.max_flows <= 1 << 32):
            raise PolicyError(f'profile {name}: max-flows: 1..2^32')
        if 'flow-idle' in d and self.max_flows is None:
            raise PolicyError(f'profile {name}: flow-idle is only for max-flows')
        self.flow_idle_ns = parse_duration(d.get('flow-idle', '30s')) if self.max_flows \
            else None
        self.max_queue = d.get('max-queue')  # worker rings only: nothing to model in replay
        if self.max_queue is not None and not (isinstance(self.max_queue, int)
                                               and 1 <= self.max_queue <= 1 << 32):
            raise PolicyError(f'profile {name}: max-queue: 1..2^32')

    def _shape(self, name, d):
        """max-delay, queue and fair (exceed: shape only) and the debt of every bucket."""
        self.max_delay_ns = self.queue = self.fair_q = None
        self.fair = 'none'
        if self.exceed != 'shape':
            for f in ('max-delay', 'queue', 'fair'):
                if f in d:
                    raise PolicyError(f'profile {name}: {f} is only for exceed: shape')
            return
        if self.mode == 'shared':
            self.fair = 'flows'  # the default of a shared shaped profile
        if 'fair' in d:
            if d['fair'] not in ('none', 'flows'):
                raise PolicyError(f'profile {name}: fair: none or flows')
            if d['fair'] == 'flows' and self.mode != 'shared':
                raise PolicyError(f'profile {name}: fair: flows is for shared profiles')
            self.fair = d['fair']
        if 'max-delay' in d:
            self.max_delay_ns = parse_duration(d['max-delay'])
            if not SHAPE_MIN_DELAY_NS <= self.max_delay_ns <= SHAPE_MAX_DELAY_NS:
                raise PolicyError(f'profile {name}: max-delay {d["max-delay"]!r}: 1us..1s')
        else:
            self.max_delay_ns = shape_default_delay(self.unit, self.buckets[0].rate)
        if 'queue' in d:
            qunit, self.queue = parse_size(d['queue'])
            if qunit != self.unit:
                raise PolicyError(f'profile {name}: queue {d["queue"]!r} is not in {self.unit}')
        for b in self.buckets:
            b.debt = int(b.rate * self.max_delay_ns)  # floor: both are >= 0
            if self.queue is not None:
                b.debt = min(b.debt, self.queue)
        # fair: flows: the tenant's queue, what its flows share (Q): its smallest debt
        self.fair_q = min(b.debt for b in self.buckets) if self.fair == 'flows' else None


# The fixed-point scale of a bucket (lib/sl_tb.c sl_tb_compile): tokens are kept in units of
# 2^-shift token. Only reloads see it: a tenant's shaped tokens carry over in the same scale
# only. shift is the largest leaving SL_TB_HEADROOM bits for the burst (+ the shaping debt) to
# grow, at most 43 in bits mode (61 in packets); a reload reuses the previous shift of the
# profile of that name while the bucket fits it (its burst + debt grew at most 16x).
SHIFT_CAP = {'bits': 43, 'packets': 61}
TB_HEADROOM = 4
TB_MAX_FP, TB_MIN_RATE = 1 << 62, 1 << 8


def bucket_shift(b, unit, hint=None):
    w = int(b.burst) + b.debt  # debt: 0 unless shaping
    cap = SHIFT_CAP[unit]

    def fits(s):
        r = -(-(b.rate * 2**s).numerator // (b.rate * 2**s).denominator)  # ceil, per ns
        return w <= TB_MAX_FP >> s and TB_MIN_RATE <= r <= TB_MAX_FP
    if hint is not None and hint <= cap and fits(hint):
        return hint
    return min(cap, 62 - TB_HEADROOM - w.bit_length())


def profile_scales(prof, old=None, old_shifts=None):
    """[shift per bucket] of prof; old (the profile of that name in the running policy, or
    None) and old_shifts (its shifts) when prof comes with a reload."""
    hint_ok = old is not None and old.unit == prof.unit and \
        (old.exceed == 'shape') == (prof.exceed == 'shape')
    return [bucket_shift(b, prof.unit, old_shifts[i] if hint_ok and i < len(old.buckets)
                         else None) for i, b in enumerate(prof.buckets)]


def policy_scales(pol, old=None, old_scales=None):
    """{profile name: [shift per bucket]} of pol, reloaded over old (scales old_scales)."""
    return {n: profile_scales(p, old.profiles.get(n) if old else None,
                              old_scales.get(n) if old_scales else None)
            for n, p in pol.profiles.items()}


def _port_range(what, v):
    m = re.match(r'^\s*([0-9]+)\s*(?:-\s*([0-9]+)\s*)?$', str(v))
    lo = int(m.group(1)) if m else -1
    hi = int(m.group(2)) if m and m.group(2) else lo
    if not m or not 0 <= lo <= hi <= 65535:
        raise PolicyError(f'{what}: {v!r}: expected N or N-M within 0..65535')
    return lo, hi


def _id(tname, d, field, hi):
    """vlan, inner-vlan, port: None when absent, else an integer 0..hi (as sluice, a quoted
    decimal too)."""
    v = d.get(field)
    if isinstance(v, str) and re.fullmatch(r'0|[1-9][0-9]*', v):
        v = int(v)
    if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= hi):
        raise PolicyError(f'tenant {tname}: match: {field}: 0..{hi}')
    return v


class Block:
    """One match block: every field it gives must hold."""
    PROTOS = {'tcp': 6, 'udp': 17, 'icmp': 1}
    FIELDS = {'vlan', 'inner-vlan', 'port', 'src', 'dst', 'proto', 'src-port', 'dst-port'}

    def __init__(self, tname, d):
        if not isinstance(d, dict):
            raise PolicyError(f'tenant {tname}: match: a mapping of fields (or {{}}) expected')
        unknown = set(d) - self.FIELDS
        if unknown:
            raise PolicyError(f'tenant {tname}: match: unknown field(s) {sorted(unknown)}')
        self.vlan = _id(tname, d, 'vlan', 4095)
        self.inner_vlan = _id(tname, d, 'inner-vlan', 4095)
        self.port = _id(tname, d, 'port', 65535)
        try:
            self.src = ipaddress.ip_network(str(d['src'])) if 'src' in d else None
            self.dst = ipaddress.ip_network(str(d['dst'])) if 'dst' in d else None
        except ValueError as e:
            raise PolicyError(f'tenant {tname}: match: {e}') from None
        fams = {n.version for n in (self.src, self.dst) if n is not None}
        if len(fams) > 1:
            raise PolicyError(f'tenant {tname}: src and dst of different families')
        self.family = fams.pop() if fams else 0
        self.proto = None
        if 'proto' in d:
            p = d['proto']
            self.proto = self.PROTOS.get(p, p) if isinstance(p, str) else int(p)
            if p == 'icmp' and self.family == 6:
                self.proto = 58
            if not isinstance(self.proto, int) or not 0 <= self.proto <= 255:
                raise PolicyError(f'tenant {tname}: proto: tcp, udp, icmp or 0..255')
        self.sport = _port_range('src-port', d['src-port']) if 'src-port' in d else None
        self.dport = _port_range('dst-port', d['dst-port']) if 'dst-port' in d else None
        if (self.sport or self.dport) and self.proto not in (6, 17):
            raise PolicyError(f'tenant {tname}: src-port/dst-port need proto tcp or udp')
        # prefixes as integers over the packet's address bytes
        self.src_net = self._net(self.src)
        self.dst_net = self._net(self.dst)

    @staticmethod
    def _net(n):
        if n is None:
            return None
        bits = n.max_prefixlen
        mask = ((1 << bits) - 1) ^ ((1 << (bits - n.prefixlen)) - 1)
        return int(n.network_address), mask

    def holds(self, p, port):
        if self.vlan is not None and p.vlan != self.vlan:
            return False
        if self.inner_vlan is not None and p.inner_vlan != self.inner_vlan:
            return False
        if self.port is not None and port != self.port:
            return False
        if self.family and p.family != self.family:
            return False
        if self.src_net and (p.src_int & self.src_net[1]) != self.src_net[0]:
            return False
        if self.dst_net and (p.dst_int & self.dst_net[1]) != self.dst_net[0]:
            return False
        if self.proto is not None and p.proto != self.proto:
            return False
        if self.sport or self.dport:
            if not p.has_ports:
                return False
            if self.sport and not self.sport[0] <= p.sport <= self.sport[1]:
                return False
            if self.dport and not self.dport[0] <= p.dport <= self.dport[1]:
                return False
        return True


class Match:
    """A tenant's match: one block, or a list of blocks of which any may hold."""

    def __init__(self, tname, d):
        if d is None:
            d = {}  # no match (or an empty one): everything
        if isinstance(d, list):
            if not d:
                raise PolicyError(f'tenant {tname}: match: empty list (write {{}} for '
                                  'everything)')
            self.blocks = [Block(tname, b) for b in d]
        else:
            self.blocks = [Block(tname, d)]

    def matches(self, p, port=0):
        for b in self.blocks:
            if b.holds(p, port):
                return True
        return False


class Tenant:
    def __init__(self, d, profiles):
        self.name = d.get('name')
        if not self.name or d.get('profile') not in profiles:
            raise PolicyError(f'tenant {self.name!r}: needs a name and a known profile')
        self.profile = profiles[d['profile']]
        self.match = Match(self.name, d.get('match'))


class Policy:
    def __init__(self, doc):
        if not isinstance(doc, dict) or doc.get('sluice') != 1:
            raise PolicyError('expected a mapping with "sluice: 1"')
        self.unmatched = doc.get('unmatched', 'pass')
        if self.unmatched not in ('pass', 'drop'):
            raise PolicyError('unmatched: pass or drop')
        self.profiles = {n: Profile(n, p) for n, p in (doc.get('profiles') or {}).items()}
        self.tenants = [Tenant(t, self.profiles) for t in doc.get('tenants') or []]


def load_policy(path):
    import yaml
    with open(path) as f:
        return Policy(yaml.safe_load(f))


# ---------------------------------------------------------------------------------------------
# pcap reader

def read_pcap(path):
    """Yields (ts_ns, orig_len, data) per record."""
    with open(path, 'rb') as f:
        buf = f.read()
    if len(buf) < 24:
        raise ValueError(f'{path}: not a pcap file')
    for endian in '<>':
        magic = struct.unpack(endian + 'I', buf[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            break
    else:
        raise ValueError(f'{path}: not a pcap file (magic {buf[:4].hex()})')
    mul = 1000 if magic == 0xA1B2C3D4 else 1
    linktype = struct.unpack(endian + 'I', buf[20:24])[0] & 0x0FFFFFFF
    if linktype != 1:
        raise ValueError(f'{path}: link type {linktype}, only Ethernet (1) is supported')
    rec = struct.Struct(endian + 'IIII')
    off, n = 24, len(buf)
    while off + 16 <= n:
        sec, frac, caplen, origlen = rec.unpack_from(buf, off)
        off += 16
        if off + caplen > n:
            raise ValueError(f'{path}: truncated record at offset {off - 16}')
        yield sec * 10**9 + frac * mul, origlen, buf[off:off + caplen]
        off += caplen


MAX_IN = 16  # sluice-replay takes at most 16 captures (ports 0..15)


def merge(captures):
    """The frames of several captures as sluice-replay sees them: (ts_ns, orig_len, data,
    port), port k for captures[k]; repeatedly the earliest next frame of all captures, on
    equal timestamps the lowest port's. Each capture is an iterable of (ts_ns, orig_len, data)
    and keeps its own order, even where its timestamps go back."""
    its = [iter(c) for c in captures]
    heads = [next(it, None) for it in its]
    while True:
        k = min((i for i, h in enumerate(heads) if h is not None),
                key=lambda i: (heads[i][0], i), default=None)
        if k is None:
            return
        yield heads[k] + (k,)
        heads[k] = next(its[k], None)


def pcap_is_nano(path):
    with open(path, 'rb') as f:
        m = f.read(4)
    return m in (b'\xa1\xb2\x3c\x4d', b'\x4d\x3c\xb2\xa1')


# ---------------------------------------------------------------------------------------------
# Parser: Ethernet, up to two VLAN tags, IPv4, IPv6 + extension headers, L4 ports

class Pkt:
    __slots__ = ('vlan', 'inner_vlan', 'family', 'src', 'dst', 'src_int', 'dst_int', 'proto',
                 'has_ports', 'sport', 'dport', 'l3off', 'frag', 'tcp_flags')

    def __init__(self):
        self.vlan = None  # the outer (first) tag's VLAN ID
        self.inner_vlan = None  # the second tag's (QinQ)
        self.family = 0
        self.src = self.dst = b''
        self.src_int = self.dst_int = 0
        self.proto = 0
        self.has_ports = False
        self.sport = self.dport = 0
        self.l3off = 0
        self.frag = False  # an IP fragment, first or later (IPv6: any fragment header)
        self.tcp_flags = 0  # TCP with ports and at least 14 header bytes: its flags byte


def parse(frame):
    """Pkt, or None when the frame is malformed (cannot be classified)."""
    n = len(frame)
    p = Pkt()
    if n < 14:
        return None
    et = frame[12] << 8 | frame[13]
    off = 14
    if et in VLAN_TPIDS:
        if n < 18:
            return None
        p.vlan = (frame[14] << 8 | frame[15]) & 0xFFF
        et = frame[16] << 8 | frame[17]
        off = 18
        if et in VLAN_TPIDS:
            if n < 22:
                return None
            p.inner_vlan = (frame[18] << 8 | frame[19]) & 0xFFF
            et = frame[20] << 8 | frame[21]
            off = 22
    if et == 0x0800:
        return _parse_ipv4(frame, off, p)
    if et == 0x86DD:
        return _parse_ipv6(frame, off, p)
    return p  # not IP (a third tag included): classifiable by vlans and port only


def _ports(frame, l4, l4len, p):
    if p.proto not in PORT_PROTOS:
        return p
    if l4len < 4:
        return None
    p.sport, p.dport = struct.unpack_from('>HH', frame, l4)
    p.has_ports = True
    if p.proto == 6 and l4len >= 14:
        p.tcp_flags = frame[l4 + 13]
    return p


def _parse_ipv4(frame, off, p):
    avail = len(frame) - off
    if avail < 20:
        return None
    hl = (frame[off] & 0xF) * 4
    tot = frame[off + 2] << 8 | frame[off + 3]
    if frame[off] >> 4 != 4 or hl < 20 or hl > avail or tot < hl:
        return None
    p.l3off = off
    p.family = 4
    p.src, p.dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
    p.src_int, p.dst_int = int.from_bytes(p.src, 'big'), int.from_bytes(p.dst, 'big')
    p.proto = frame[off + 9]
    p.frag = bool((frame[off + 6] << 8 | frame[off + 7]) & 0x3FFF)  # MF or an offset
    if (frame[off + 6] << 8 | frame[off + 7]) & 0x1FFF:
        return p  # later fragment: no L4 header
    return _ports(frame, off + hl, min(tot, avail) - hl, p)


def _parse_ipv6(frame, off, p):
    avail = len(frame) - off
    if avail < 40 or frame[off] >> 4 != 6:
        return None
    p.l3off = off
    p.family = 6
    p.src, p.dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
    p.src_int, p.dst_int = int.from_bytes(p.src, 'big'), int.from_bytes(p.dst, 'big')
    end = min(40 + (frame[off + 4] << 8 | frame[off + 5]), avail)
    nh, x, count = frame[off + 6], 40, 0
    while nh in IP6_EXT:
        if count == IP6_EXT_MAX or end - x < 8:
            return None
        h = off + x
        if nh == 44:
            p.frag = True
            if (frame[h + 2] << 8 | frame[h + 3]) & 0xFFF8:
                p.proto = frame[h]
                return p  # later fragment
            hlen = 8
        elif nh == 51:
            hlen = (frame[h + 1] + 2) * 4
        else:
            hlen = (frame[h + 1] + 1) * 8
        if end - x < hlen:
            return None
        nh = frame[h]
        x += hlen
        count += 1
    p.proto = nh
    return _ports(frame, off + x, end - x, p)


# ---------------------------------------------------------------------------------------------
# Policing

class KeyState:
    """Token buckets of one key: tokens (Fractions) and the time of the last update (ns)."""
    __slots__ = ('tokens', 'last')

    def __init__(self, buckets, now):
        self.tokens = [b.burst for b in buckets]
        self.last = now

    def take(self, buckets, now, cost):
        """Refills to now; takes cost from every bucket iff each may go to -debt (0 when not
        shaping: it must hold the cost). Returns whether it was taken."""
        dt = now - self.last if now > self.last else 0
        self.last = max(self.last, now)
        vals = [min(b.burst, t + b.rate * dt) for b, t in zip(buckets, self.tokens)]
        ok = all(v - cost >= -b.debt for b, v in zip(buckets, vals))
        self.tokens = [v - cost for v in vals] if ok else vals
        return ok

    def wait(self, buckets):
        """ns (a Fraction) until every bucket's debt is paid: 0 when none is negative."""
        return max([-t / b.rate for b, t in zip(buckets, self.tokens) if t < 0], default=0)

    def carried(self, buckets, keep):
        """This state under a reloaded profile's buckets: the first keep buckets' tokens (and
        the time of the last update) as they are, every other bucket full. The new burst caps
        them at the next refill, as the new rate and debt apply from then on."""
        k = KeyState(buckets, self.last)
        k.tokens[:keep] = self.tokens[:min(keep, len(buckets))]
        return k


class Flow:
    """A known flow: its verdict, whether it still counts (live) and its latest packet."""
    __slots__ = ('admitted', 'ended', 'last', 'domain')

    def __init__(self, admitted, ended, last, domain):
        self.admitted, self.ended, self.last, self.domain = admitted, ended, last, domain


class Flows:
    """max-flows of one tenant, rule by rule as in lib/sl_flow.h.

    A domain (None for a shared tenant, the key for a dedicated one) counts its admitted and
    its remembered refused flows, each at most cap; a flow is live (counted) or ended.
    """

    def __init__(self, cap, idle_ns):
        self.cap = cap
        self.idle = idle_ns
        self.flows = {}  # flow 5-tuple -> Flow
        self.count = {}  # domain -> [admitted, refused]

    def _fresh(self, f, now):
        return (now - f.last if now > f.last else 0) < self.idle

    def _end(self, f):
        """A live flow stops counting; True if it was admitted."""
        f.ended = True
        self.count[f.domain][0 if f.admitted else 1] -= 1
        return f.admitted

    def check(self, flow, domain, now, tcp):
        """(admitted, started, ended) for one frame of flow at now with TCP flags tcp."""
        closing, syn = tcp & (TCP_FIN | TCP_RST), tcp & TCP_SYN
        f = self.flows.get(flow)
        ended = False
        if f is not None:
            fresh = self._fresh(f, now)
            if fresh and not f.ended:  # rule 1
                f.last = max(f.last, now)
                return f.admitted, False, bool(closing) and self._end(f)
            if fresh and (closing or not syn):  # rule 2: the tail of an ended flow
                f.last = max(f.last, now)
                return f.admitted, False, False
            if not f.ended:  # rule 3: a stale predecessor ends first
                ended = self._end(f)
        cnt = self.count.setdefault(domain, [0, 0])
        if closing:  # rule 3a: starts nothing
            return cnt[0] < self.cap, False, ended
        if cnt[0] < self.cap:  # rule 3b
            cnt[0] += 1
            self.flows[flow] = Flow(True, False, now, domain)
            return True, True, ended
        if cnt[1] < self.cap:  # rule 3c: refused, remembered and counted
            cnt[1] += 1
            self.flows[flow] = Flow(False, False, now, domain)
        elif f is not None:  # refused, kept uncounted in its entry
            f.admitted, f.ended, f.last = False, True, now
        return False, False, ended

    def sweep(self, now):
        """Removes every stale flow; returns how many admitted flows ended here."""
        expired = 0
        for k in [k for k, f in self.flows.items() if not self._fresh(f, now)]:
            f = self.flows.pop(k)
            if not f.ended:
                expired += self._end(f)
        return expired

    def active(self):
        return sum(c[0] for c in self.count.values())


def flow_of(p):
    """The flow of a parsed frame, or None: not IP, or a fragment without ports."""
    if not p.family or (p.frag and not p.has_ports):
        return None
    return (p.family, p.src, p.dst, p.proto, p.sport, p.dport)


M64 = (1 << 64) - 1
FAIR_SLOTS, FAIR_WAYS = 64, 4  # lib/sl_fair.h: 16 groups of 4 slots
FAIR_SHIFT, FAIR_CAP = 16, 1 << 62  # backlogs and shares in 2^-16 units, saturating at 2^62
COST_MAX_BYTES = 65535  # a frame costs at most 8 x 65535 bits (lib/sl_engine.c cost_of)


def flow_hash(p):
    """A parsed frame's 64-bit flow hash (lib/sl_engine.c flow_hash_of): the XOR of the four
    little-endian 64-bit words of its 16-byte source and destination (an IPv4 address in bytes
    0..3, the rest 0; all 0 for a non-IP frame), sport << 16 | dport (0 without ports: not
    TCP/UDP/SCTP/UDP-Lite, or a later fragment) and proto << 40 (0 for non-IP), times
    0x9e3779b97f4a7c15 modulo 2^64."""
    x = ((p.sport << 16) | p.dport) ^ (p.proto << 40)
    for a in (p.src, p.dst):
        a = bytes(a).ljust(16, b'\0')
        x ^= int.from_bytes(a[:8], 'little') ^ int.from_bytes(a[8:], 'little')
    return (x * 0x9E3779B97F4A7C15) & M64


class FairSlots:
    """fair: flows, the 64 flow slots of one shared shaped tenant (lib/sl_fair.h): per slot
    [d, d0, b, sig]: its flow had b units waiting when its last waiting frame was taken, that
    frame leaving at d ns, the oldest of them at d0 ns; all 0 at first. active: bit i set by
    note(i), cleared by the first look() at a now >= d + hold (the C's bitmap of the slots
    that count: kept as it is, so that a capture going back in time counts as sluice does)."""
    __slots__ = ('s', 'active')

    def __init__(self):
        self.s = [[0, 0, 0, 0] for _ in range(FAIR_SLOTS)]
        self.active = 0

    @staticmethod
    def backlog(slot, now):
        """2^-16 units a slot's flow has waiting at now: b until d0, then draining to 0 at d."""
        d, d0, b, _ = slot
        if d <= now:
            return 0
        return b if d0 > now else b * (d - now) // (d - d0)

    def look(self, h, now, q, hold=0):
        """(slot, sig, backlog, share) of a frame of flow hash h at now, q the queue (Q), a
        flow counting among the n that share it until hold ns after its last frame left."""
        s = self.s
        g, sig = (h >> 60) * FAIR_WAYS, ((h >> 32) | 1) & 0xFFFFFFFF
        slot = next((g + k for k in range(FAIR_WAYS) if s[g + k][3] == sig), None)
        found = slot is not None
        if not found:  # a slot whose frames have all left, else the one that empties first
            slot = g
            for k in range(1, FAIR_WAYS):
                if s[slot][0] > now and s[g + k][0] < s[slot][0]:
                    slot = g + k
        n = own = 0
        for i in range(FAIR_SLOTS):
            if self.active >> i & 1:
                if s[i][0] + hold > now:
                    n += 1
                    own |= i == slot
                else:
                    self.active &= ~(1 << i)
        backlog = self.backlog(s[slot], now) if found else 0
        n += not own
        share = None if n == 1 else min((q << FAIR_SHIFT) // n, FAIR_CAP)  # None: alone
        return slot, sig, backlog, share

    @staticmethod
    def admit(look, units):
        """Whether the frame of look (look()'s answer) may be taken: its flow has nothing
        waiting, or is alone, or stays within its share."""
        _, _, backlog, share = look
        return backlog == 0 or share is None or backlog + (units << FAIR_SHIFT) <= share

    def note(self, look, now, depart, units):
        """The frame of look (look()'s answer) was taken at now and leaves at depart > now:
        b = backlog + (units << 16), saturating; d0 = depart when nothing waited, else the
        slot's d0 while it is to come, now once it has passed."""
        slot, sig, backlog, _ = look
        d0 = self.s[slot][1]
        d0 = depart if not backlog else d0 if d0 > now else now
        self.s[slot] = [depart, d0, min(backlog + (units << FAIR_SHIFT), FAIR_CAP), sig]
        self.active |= 1 << slot


class KeyBudget:
    """The appliance's key budget in units: a key takes 1, or 2 with 2 to 4 buckets."""

    def __init__(self, units):
        self.units = units
        self.used = 0

    @staticmethod
    def units_of(n_buckets):
        return 1 if n_buckets <= 1 else 2

    def take(self, n_buckets):
        u = self.units_of(n_buckets)
        if self.used + u > self.units:
            return False
        self.used += u
        return True

    def give(self, n_buckets, n_keys):
        """n_keys keys of n_buckets buckets are gone (a reload orphaned them)."""
        self.used -= self.units_of(n_buckets) * n_keys


class TenantState:
    def __init__(self, tenant, budget, shifts=None):
        self.t = tenant
        self.shifts = list(shifts) if shifts is not None else profile_scales(tenant.profile)
        self.c = dict.fromkeys(('packets', 'bytes', 'conform_packets', 'conform_bytes',
                                'exceed_packets', 'exceed_bytes', 'table_full', 'quota_full',
                                'flow_refused', 'shaped_packets', 'shaped_bytes',
                                'shape_drops', 'fair_drops'), 0)
        self.max_wait = 0  # ns, the longest ceil(wait) of a shaped frame
        self.fair = FairSlots()  # fair: flows; kept with the tokens (after_reload: same)
        self.keys = {}  # dedicated: key -> KeyState; shared: None -> KeyState
        self.overflow = None  # dedicated, key refused, when-full: shared
        self.quota = tenant.profile.max_keys  # 0: none
        self.budget = budget
        prof = tenant.profile
        self.flows = Flows(min(prof.max_flows, (1 << 32) - 1), prof.flow_idle_ns) \
            if prof.max_flows else None

    def ksig(self, prof=None, shifts=None):
        """What the keys of a dedicated tenant are made under (None for a shared one): its
        profile's name, key, bucket count, unit, shaping and scales (lib/sl_policy.c
        keysig_of). A reload keeps a tenant's keys only when this is unchanged."""
        prof = prof or self.t.profile
        if prof.mode != 'dedicated':
            return None
        return (prof.name, prof.key, len(prof.buckets), prof.unit, prof.exceed == 'shape',
                tuple(self.shifts if shifts is None else shifts))

    def release(self):
        """The tenant's keys are orphaned (it was removed, or its keys restart): their budget
        units are free again (sluice frees them at its next eviction scan)."""
        if self.t.profile.mode == 'dedicated':
            self.budget.give(len(self.t.profile.buckets), len(self.keys))
        self.keys = {}

    @classmethod
    def after_reload(cls, old, tenant, budget, shifts):
        """The state of tenant (of a reloaded policy, scales shifts) that had state old under
        the running policy (None: a new tenant), as lib/sl_policy.c tenant_state_for makes it.

        Kept (the same state: tokens, keys, overflow, longest wait, fair slots) when the key
        signature (ksig) holds, the unit (bits / packets) and shaping are unchanged and every
        bucket both profiles have keeps its scale: the new parameters apply from the next
        frame to the tokens as they are; a limit bucket added starts full, one removed is
        forgotten. Otherwise a new state, full, with the counters carried (the longest wait
        and the fair slots restart): unless either profile shapes or the unit changed, the
        buckets both have keep their tokens; a shared tenant keeps its one key, a dedicated
        one's keys restart (orphaned).
        max-flows: the tenant's flows carry when its profile keeps its name, mode and key and
        has max-flows before and after (the profile's flow set is kept; cap and idle are the
        new ones), else they restart (not checked against sluice)."""
        if old is None:
            return cls(tenant, budget, shifts)
        prof, oprof = tenant.profile, old.t.profile
        shaped, oshaped = prof.exceed == 'shape', oprof.exceed == 'shape'
        keys_kept = old.ksig() == old.ksig(prof, shifts)
        same = keys_kept and oprof.unit == prof.unit and oshaped == shaped and \
            all(a == b for a, b in zip(old.shifts, shifts))
        flows = old.flows if (prof.max_flows and oprof.max_flows and keys_kept
                              and (oprof.name, oprof.mode, oprof.key)
                              == (prof.name, prof.mode, prof.key)) else None
        if same:
            st = old
            st.t = tenant
            st.keys = {k: v.carried(prof.buckets, len(v.tokens)) for k, v in old.keys.items()}
            if st.overflow is not None:
                st.overflow = st.overflow.carried(prof.buckets, len(st.overflow.tokens))
            st.shifts = list(shifts)
            st.quota = prof.max_keys
        else:
            st = cls(tenant, budget, shifts)
            st.c = old.c  # the counters carry; the longest wait is the state's
            keep = min(len(oprof.buckets), len(prof.buckets)) \
                if oprof.unit == prof.unit and not oshaped and not shaped else 0
            if keys_kept:  # shared: its one key (a dedicated tenant's is `same` here)
                st.keys = {k: v.carried(prof.buckets, keep) for k, v in old.keys.items()}
            else:
                old.release()
            if old.overflow is not None:
                st.overflow = old.overflow.carried(prof.buckets, keep)
        if flows is not None:
            flows.cap, flows.idle = min(prof.max_flows, (1 << 32) - 1), prof.flow_idle_ns
        elif prof.max_flows:
            flows = Flows(min(prof.max_flows, (1 << 32) - 1), prof.flow_idle_ns)
        st.flows = flows
        return st

    def key_of(self, p):
        k = self.t.profile.key
        if self.t.profile.mode == 'shared':
            return None
        if k == 'src-ip':
            return (p.family, p.src)
        if k == 'dst-ip':
            return (p.family, p.dst)
        return (p.family, p.src, p.dst, p.proto, p.sport, p.dport)

    def state_for(self, key, now):
        """KeyState, or the when-full action name when a new key is refused.

        Keys are never evicted here: an idle key is evicted only once all its buckets are
        full, and recreated full, so eviction never changes policing; it only frees room in
        the budget, which the model assumes is never needed again (captures shorter than
        idle). A new key is refused when its tenant holds max-keys keys (quota_full) or the
        appliance's budget is taken (table_full); when-full applies to it (shared: one
        overflow bucket set per tenant).
        """
        st = self.keys.get(key)
        if st is not None:
            return st
        prof = self.t.profile
        refused = None
        if key is not None:
            if self.quota and len(self.keys) >= self.quota:
                refused = 'quota_full'
            elif not self.budget.take(len(prof.buckets)):
                refused = 'table_full'
        if refused:
            self.c[refused] += 1
            if prof.when_full != 'shared':
                return prof.when_full
            if self.overflow is None:
                self.overflow = KeyState(prof.buckets, now)
            return self.overflow
        st = self.keys[key] = KeyState(prof.buckets, now)
        return st


class Model:
    def __init__(self, policy, max_keys=DEFAULT_MAX_KEYS):
        self.pol = policy  # the running policy
        self.budget = KeyBudget(max_keys)
        self.scales = policy_scales(policy)  # the running policy's
        self.ts = [TenantState(t, self.budget, self.scales[t.profile.name])
                   for t in policy.tenants]
        self.policies = [(policy, self.scales)]  # by generation: (policy, scales)
        self.gen_of = array.array('I')  # per frame: the generation that policed it
        self.pending = []  # reloads to come: [at_ns or None, since_first_ns, seq, policy]
        self.applied = []  # reloads done: (at_ns, ns of the frame before which, generation)
        self.t0 = None  # the first frame's timestamp
        self.total = [0, 0]
        self.unmatched = [0, 0]
        self.malformed = [0, 0]
        self.dropped = [0, 0]
        self.first_fwd = self.last = None
        self.verdicts = bytearray()  # one V_* per frame
        self.depart = []  # per frame: departure (ns) when forwarded, else None
        self.tenant_of = []  # tenant index per frame, -1 none
        self.next_sweep = None

    def reload(self, policy, at_ns, since_first=False):
        """Replaces the running policy by policy (a Policy) before the first frame whose
        timestamp is at or after at_ns (with since_first: the first frame's timestamp +
        at_ns, as sluice-replay --reload SECONDS:FILE), as the appliance reloads on SIGHUP
        (TenantState.after_reload): tenants carry their state by name, a tenant removed
        leaves the report, frames already given a departure keep it. Reloads apply in time
        order, equal times in the order given (sluice-replay: in any order). One not applied
        when the frames end is never applied."""
        at = at_ns + self.t0 if since_first and self.t0 is not None else \
            None if since_first else at_ns
        self.pending.append([at, at_ns, len(self.applied) + len(self.pending), policy])
        self._sort_pending()
        return self

    def _sort_pending(self):
        if all(r[0] is not None for r in self.pending):
            self.pending.sort(key=lambda r: (r[0], r[2]))

    def _reloads(self, now):
        """Applies every reload due at or before now (the frame at now comes after them)."""
        if self.t0 is None:
            self.t0 = now
            for r in self.pending:
                if r[0] is None:
                    r[0] = self.t0 + r[1]
            self._sort_pending()
        while self.pending and self.pending[0][0] <= now:
            at, _, _, pol = self.pending.pop(0)
            self._apply(pol)
            self.applied.append((at, now, len(self.policies) - 1))

    def _apply(self, pol):
        scales = policy_scales(pol, self.pol, self.scales)
        old = {}
        for st in self.ts:
            old.setdefault(st.t.name, st)
        new = [TenantState.after_reload(old.pop(t.name, None), t, self.budget,
                                        scales[t.profile.name]) for t in pol.tenants]
        for st in old.values():  # removed: its keys are orphans
            st.release()
        self.pol, self.scales, self.ts = pol, scales, new
        self.policies.append((pol, scales))

    def tenant_at(self, i):
        """The Tenant (of the policy running then) that frame i belonged to, or None."""
        ti = self.tenant_of[i]
        return self.policies[self.gen_of[i]][0].tenants[ti] if ti >= 0 else None

    def _sweep(self, now):
        """sluice-replay's maintenance schedule: idle flows end before the frame at now."""
        if self.next_sweep is not None and now < self.next_sweep:
            return
        if self.next_sweep is not None:
            for ts in self.ts:
                if ts.flows:
                    ts.flows.sweep(now)
        self.next_sweep = now + SWEEP_NS

    def frame(self, now, length, data, port=0):
        """Polices one frame that came in on port; returns its V_* outcome."""
        self._reloads(now)
        self._sweep(now)
        self.total[0] += 1
        self.total[1] += length
        p = parse(data)
        ti, wait = -1, 0
        if p is None:
            v = self._count(self.malformed, length, V_MALFORMED_FWD, V_MALFORMED_DROP)
        else:
            for i, t in enumerate(self.pol.tenants):
                if t.match.matches(p, port):
                    ti = i
                    break
            if ti < 0:
                v = self._count(self.unmatched, length, V_UNMATCHED_FWD, V_UNMATCHED_DROP)
            else:
                v, wait = self._police(self.ts[ti], p, now, length)
        if v not in FORWARDED:
            self.dropped[0] += 1
            self.dropped[1] += length
        elif self.first_fwd is None:
            self.first_fwd = now
        self.last = now if self.last is None else max(self.last, now)
        self.verdicts.append(v)
        self.tenant_of.append(ti)
        self.gen_of.append(len(self.policies) - 1)
        self.depart.append(now + wait if v in FORWARDED else None)
        return v

    def _count(self, pb, length, fwd, drop):
        pb[0] += 1
        pb[1] += length
        return fwd if self.pol.unmatched == 'pass' else drop

    EXCEED = {'drop': V_DROP, 'mark': V_MARK, 'pass': V_PASS, 'shape': V_DROP}

    def _police(self, ts, p, now, length):
        """(V_* outcome, wait in whole ns) of a tenant's frame."""
        prof = ts.t.profile
        c = ts.c
        c['packets'] += 1
        c['bytes'] += length
        flow = flow_of(p) if ts.flows else None
        if flow is not None and not ts.flows.check(flow, ts.key_of(p), now, p.tcp_flags)[0]:
            c['flow_refused'] += 1
            c['exceed_packets'] += 1
            c['exceed_bytes'] += length
            return self.EXCEED[prof.exceed], 0
        st = ts.state_for(ts.key_of(p), now)
        look = None
        if prof.fair == 'flows':  # shared, shaped: FairSlots before the buckets
            units = 8 * min(length, COST_MAX_BYTES) if prof.unit == 'bits' else 1
            look = ts.fair.look(flow_hash(p), now, prof.fair_q, prof.max_delay_ns)
            if not FairSlots.admit(look, units):  # its flow over its share: buckets untouched
                c['exceed_packets'] += 1
                c['exceed_bytes'] += length
                c['shape_drops'] += 1
                c['fair_drops'] += 1
                return V_SHAPE_DROP, 0
        if isinstance(st, str):  # no slot, when-full pass / drop
            ok = st == 'pass'
        else:
            ok = st.take(prof.buckets, now,
                         8 * min(length, COST_MAX_BYTES) if prof.unit == 'bits' else 1)
        kind = 'conform' if ok else 'exceed'
        c[kind + '_packets'] += 1
        c[kind + '_bytes'] += length
        if isinstance(st, str):
            return (V_NOSLOT_FWD if ok else V_NOSLOT_DROP), 0
        if prof.exceed != 'shape':
            return (V_CONFORM if ok else self.EXCEED[prof.exceed]), 0
        if not ok:
            c['shape_drops'] += 1
            return V_SHAPE_DROP, 0
        w = st.wait(prof.buckets)
        if not w:
            return V_CONFORM, 0
        c['shaped_packets'] += 1
        c['shaped_bytes'] += length
        w = -(-w.numerator // w.denominator)  # ceil: departures are whole ns
        ts.max_wait = max(ts.max_wait, w)
        if look is not None:  # its flow has this frame waiting too
            ts.fair.note(look, now, now + w, units)
        return V_SHAPED, w

    def output_order(self):
        """Indices of the forwarded frames in the order sluice-replay --out writes them: by
        departure, equal departures in input order."""
        return sorted((i for i, d in enumerate(self.depart) if d is not None),
                      key=lambda i: (self.depart[i], i))

    def run(self, frames):
        """frames: (ts_ns, orig_len, data) all of port 0, or (ts_ns, orig_len, data, port)."""
        for f in frames:
            self.frame(*f)
        return self

    def report(self):
        def pb(x):
            return {'packets': x[0], 'bytes': x[1]}
        el = (self.last - self.first_fwd) / 1e9 if self.first_fwd is not None else 0.0
        tenants = []
        for ts in self.ts:
            d = {'name': ts.t.name, 'profile': ts.t.profile.name}
            d.update(ts.c)
            d['keys'] = len(ts.keys) if ts.t.profile.mode == 'dedicated' else \
                int(ts.c['packets'] > 0)
            d['flows'] = ts.flows.active() if ts.flows else 0
            d['shape_delay_max_us'] = (ts.max_wait + 500) // 1000  # nearest, half up
            tenants.append(d)
        return {'elapsed_s': el, 'packets': self.total[0], 'bytes': self.total[1],
                'dropped': pb(self.dropped), 'tenants': tenants,
                'unmatched': pb(self.unmatched), 'malformed': pb(self.malformed)}


RELOAD_ARG = re.compile(r'^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?:(.+)$', re.S)
MAX_RELOAD_S = 10**9  # sluice-replay takes 0 <= SECONDS < 1e9


def parse_reload(arg):
    """'SECONDS:FILE' -> (ns, FILE): SECONDS a non-negative decimal (an exponent allowed)
    below 1e9, converted exactly and rounded to the nearest ns (halves up)."""
    m = RELOAD_ARG.match(arg)
    if not m:
        raise ValueError(f'--reload: expected SECONDS:FILE, got {arg!r}')
    s = Fraction(m.group(1) + (m.group(2) or ''))
    if s >= MAX_RELOAD_S:
        raise ValueError(f'--reload: {arg!r}: SECONDS must be below {MAX_RELOAD_S}')
    ns = s * 10**9
    return int(ns + Fraction(1, 2)), m.group(3)  # int floors a non-negative Fraction


def print_table(r, f, shaping=None):
    """The report as a table; shaping (default: whether any tenant shaped or refused a frame
    by shaping) adds shaped_pkt, shape_drops and the longest wait in us."""
    if shaping is None:
        shaping = any(t.get('shaped_packets') or t.get('shape_drops') for t in r['tenants'])
    f.write(f'{"tenant":<20} {"packets":>12} {"bytes":>14} {"conform_pkt":>12} '
            f'{"conform_B":>14} {"exceed_pkt":>12} {"exceed_B":>14} {"keys":>8}' +
            (f' {"shaped_pkt":>12} {"shape_drops":>12} {"fair_drops":>12} {"delay_max_us":>12}'
             if shaping else '') + '\n')
    for t in r['tenants']:
        f.write(f'{t["name"]:<20} {t["packets"]:>12} {t["bytes"]:>14} {t["conform_packets"]:>12} '
                f'{t["conform_bytes"]:>14} {t["exceed_packets"]:>12} {t["exceed_bytes"]:>14} '
                f'{t["keys"]:>8}' +
                (f' {t["shaped_packets"]:>12} {t["shape_drops"]:>12} {t["fair_drops"]:>12} '
                 f'{t["shape_delay_max_us"]:>12}' if shaping else '') + '\n')
    for k in ('unmatched', 'malformed', 'dropped'):
        f.write(f'{"(" + k + ")":<20} {r[k]["packets"]:>12} {r[k]["bytes"]:>14}\n')
    f.write(f'{"(total)":<20} {r["packets"]:>12} {r["bytes"]:>14}  elapsed '
            f'{r["elapsed_s"]:.3f} s\n')


def main(argv=None):
    ap = argparse.ArgumentParser(description='Reference model of the sluice policer: polices '
                                 'pcaps (one per port) against a policy with exact arithmetic '
                                 'and prints the report JSON of sluice-replay.')
    ap.add_argument('--config', required=True, help='policy YAML')
    ap.add_argument('--in', dest='inp', required=True, action='append',
                    help='Ethernet pcap (us or ns); repeatable (at most 16): the k-th is the '
                    'traffic of port k, merged in timestamp order as sluice-replay does')
    ap.add_argument('--json', action='store_true',
                    help='print the report JSON (default: a table)')
    ap.add_argument('--max-keys', type=int, default=DEFAULT_MAX_KEYS,
                    help="the appliance's key budget in units (sluice-replay's: 1M)")
    ap.add_argument('--reload', action='append', default=[], metavar='SECONDS:FILE',
                    help='repeatable: SECONDS (a decimal) after the first frame, before the '
                    'first frame at or after that time, the policy becomes FILE as on SIGHUP '
                    '(as sluice-replay --reload)')
    a = ap.parse_args(argv)
    if len(a.inp) > MAX_IN:
        ap.error(f'at most {MAX_IN} --in')
    try:
        reloads = [parse_reload(r) for r in a.reload]
    except ValueError as e:
        ap.error(str(e))
    try:
        pol = load_policy(a.config)
        m = Model(pol, a.max_keys)
        for ns, path in reloads:
            m.reload(load_policy(path), ns, since_first=True)
        m.run(merge([read_pcap(f) for f in a.inp]))
    except (PolicyError, ValueError, OSError) as e:
        print(f'sl-refmodel: {e}', file=sys.stderr)
        return 1
    if a.json:
        json.dump(m.report(), sys.stdout, indent=2)
        print()
    else:
        print_table(m.report(), sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
