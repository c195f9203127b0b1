#!/bin/sh
# reload-bench.sh - hot reload under load: sluice forwards a capture at full speed (net_pcap
# infinite_rx -> net_null) with a policy of TENANTS tenants while it is reloaded, and we measure
# (1) the reload time of that policy, median of MEDIAN_RELOADS reloads by SIGHUP, alternating
#     two files that differ in every profile's rate (times from sluice's own log lines);
# (2) LOOP_RELOADS reloads in a row by /sluice/reload (telemetry), alternating two files of
#     LOOP_TENANTS tenants: RSS (VmRSS) and open fds before and after, every answer applied;
# (3) at the end: frames read = forwarded (left by net_null) + dropped by the policy, and
#     packets = conform + exceed for every tenant of the report.
#
# usage: perf/reload-bench.sh [--record]   (--record: write the figures into perf/RESULTS.md,
#                                           section "## Hot reload")
# environment: BUILD (default build), TENANTS (10000), MEDIAN_RELOADS (20), LOOP_RELOADS (1000),
#              LOOP_TENANTS (1000), LCORES (EAL -l, default 0-1), MIXED (1: the TENANTS are
#              of mixed match shapes, tools/sl-mixtenants.py, traffic to all; 0: one /24 each,
#              tools/sl-mktenants.py). Runs as root, no hugepages.
# The loop's two files differ in their dedicated profiles' names and in half of the tenants,
# so that every reload adds and removes dedicated profiles and tenants.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
for exe in "$BUILD/app/sluice" "$BUILD/tools/sl-gen"; do
	[ -x "$exe" ] || { echo "reload-bench: $exe is missing: build first" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "reload-bench: run as root (DPDK)" >&2; exit 1; }
TMP=$(mktemp -d "${TMPDIR:-/tmp}/reload-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

BUILD=$BUILD TMP=$TMP TENANTS=${TENANTS:-10000} MIXED=${MIXED:-1} MEDIAN_RELOADS=${MEDIAN_RELOADS:-20} \
LOOP_RELOADS=${LOOP_RELOADS:-1000} LOOP_TENANTS=${LOOP_TENANTS:-1000} LCORES=${LCORES:-0-1} \
exec python3 - "$@" <<'PY'
import importlib.machinery
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

E = os.environ
BUILD, TMP, LCORES = E["BUILD"], E["TMP"], E["LCORES"]
TENANTS, MEDIAN_N = int(E["TENANTS"]), int(E["MEDIAN_RELOADS"])
LOOP_N, LOOP_TENANTS = int(E["LOOP_RELOADS"]), int(E["LOOP_TENANTS"])
RECORD = "--record" in sys.argv[1:]
MIXED = E.get("MIXED", "1") == "1"
PREFIX = "sluice-reload-bench"
CTL = importlib.machinery.SourceFileLoader("sluice_ctl", "tools/sluice-ctl").load_module()
SOCK = os.path.join(CTL.RUNTIME, PREFIX, "dpdk_telemetry.v2")
CONF = os.path.join(TMP, "policy.yaml")


def sh(cmd):
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def tel(*words):
    cmd = CTL.command(list(words))
    try:
        return CTL.answer(SOCK, cmd)
    except (OSError, ValueError):
        return None


def install(path):
    """Make path the policy file, atomically (a new inode, as editors write)."""
    with open(path) as f, open(CONF + ".new", "w") as g:
        g.write(f.read())
    os.rename(CONF + ".new", CONF)


def proc(pid):
    time.sleep(0.1)     # the telemetry thread closes our last connection after we do
    with open("/proc/%d/status" % pid) as f:
        rss = int(re.search(r"^VmRSS:\s+(\d+) kB", f.read(), re.M).group(1))
    return rss, len(os.listdir("/proc/%d/fd" % pid))


def wait_line(err, gen, timeout=60):
    """Wait for the log line of generation gen (reading a file: no load on the machine)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        err.seek(0)
        if re.search(r"^sluice: reload generation %d " % gen, err.read(), re.M):
            return
        time.sleep(0.005)
    raise SystemExit("reload-bench: generation %d was not logged within %d s" % (gen, timeout))


def rate(seconds):
    a = tel("stats")
    time.sleep(seconds)
    b = tel("stats")
    return (b["packets"] - a["packets"]) / ((b["mono_ns"] - a["mono_ns"]) / 1e9)


def hog_rate(seconds):
    """Forwarding rate while a busy loop holds the main lcore's core (no reload): what any
    control-path work there costs the forwarding lcore on this machine."""
    core = re.split(r"[-,@]", LCORES)[0]
    hog = subprocess.Popen(["taskset", "-c", core, "python3", "-c", "while True: pass"])
    try:
        time.sleep(0.2)
        return rate(seconds)
    finally:
        hog.kill()
        hog.wait()


def files():
    mk = "tools/sl-mktenants.py"
    if MIXED:   # tenants of mixed match shapes, traffic to all of them
        sh(["tools/sl-mixtenants.py", "--tenants", str(TENANTS), "--out", TMP + "/a.yaml",
            "--pcap", TMP + "/t.pcap", "--flows", "4096", "--size", "512"])
        with open(TMP + "/a.yaml") as f, open(TMP + "/b.yaml", "w") as g:
            g.write(f.read().replace("rate: 1gbit", "rate: 2gbit"))
    else:
        sh([mk, "--tenants", str(TENANTS), "--out", TMP + "/a.yaml", "--pcap", TMP + "/t.pcap",
            "--gen", BUILD + "/tools/sl-gen", "--traffic-tenants", "256", "--offer", "400mbit",
            "--size", "512"])
        sh([mk, "--tenants", str(TENANTS), "--out", TMP + "/b.yaml", "--scale", "2"])
    sh([mk, "--tenants", str(LOOP_TENANTS), "--out", TMP + "/la.yaml"])
    # lb: the dedicated profiles renamed and every other tenant another one: each reload of
    # the loop adds and removes dedicated profiles and tenants (their keys become orphans)
    with open(TMP + "/la.yaml") as f, open(TMP + "/lb.yaml", "w") as g:
        t = re.sub(r"\b(hosts|flows)\b", r"\1-b", f.read())
        g.write(re.sub(r"name: t(\d+)", lambda m: "name: %s%s" % (
            "u" if int(m.group(1)) % 2 else "t", m.group(1)), t))


def start():
    install(TMP + "/a.yaml")
    cmd = [BUILD + "/app/sluice", "--no-huge", "-m", "2048", "--no-shconf", "--no-pci",
           "-l", LCORES, "--file-prefix=" + PREFIX, "--log-level=lib.eal:error",
           "--vdev=net_pcap0,rx_pcap=%s/t.pcap,infinite_rx=1" % TMP, "--vdev=net_null0,no-rx=1",
           "--", "--config", CONF, "--report", TMP + "/r.json", "--stats-interval", "100000"]
    print("+ " + " ".join(cmd), flush=True)
    out, err = open(TMP + "/out.txt", "w+"), open(TMP + "/err.txt", "w+")
    p = subprocess.Popen(cmd, stdout=out, stderr=err)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        st = tel("stats")
        if st and st["packets"]:
            return p, out, err
        if p.poll() is not None:
            break
        time.sleep(0.2)
    p.kill()
    raise SystemExit("reload-bench: sluice did not start forwarding")


LINE = re.compile(r"^sluice: reload generation (\d+) \((.+?)\): .* ([\d.]+) ms \(parse ([\d.]+) "
                  r"ms, compile\+publish ([\d.]+) ms\)$", re.M)


def median_part(p, err, res):
    """MEDIAN_N SIGHUP reloads of the TENANTS-tenant files, alternating."""
    gen = tel("stats")["generation"]
    lat = []
    t0, a = time.monotonic(), tel("stats")
    for i in range(MEDIAN_N):
        install(TMP + ("/b.yaml" if i % 2 == 0 else "/a.yaml"))
        s0 = time.monotonic()
        p.send_signal(signal.SIGHUP)
        gen += 1
        wait_line(err, gen)
        lat.append((time.monotonic() - s0) * 1e3)
        time.sleep(0.2)
    b = tel("stats")
    res["during_mpps"] = (b["packets"] - a["packets"]) / ((b["mono_ns"] - a["mono_ns"]) / 1e9) / 1e6
    err.seek(0)
    lines = [m for m in LINE.finditer(err.read()) if m.group(2) == "SIGHUP"]
    if len(lines) != MEDIAN_N:
        raise SystemExit("reload-bench: %d SIGHUP reload lines, expected %d" % (len(lines),
                                                                               MEDIAN_N))
    for k, g in (("total", 3), ("parse", 4), ("compile", 5)):
        v = [float(m.group(g)) for m in lines]
        res[k] = (statistics.median(v), min(v), max(v))
    res["signal_to_log"] = (statistics.median(lat), min(lat), max(lat))
    res["median_phase_s"] = time.monotonic() - t0
    return gen


def loop_part(p, gen, res):
    """LOOP_N telemetry reloads of the LOOP_TENANTS-tenant files, alternating."""
    samples = []
    for i in range(10):     # warm-up: the loop's policy size, allocator arenas
        install(TMP + ("/lb.yaml" if i % 2 == 0 else "/la.yaml"))
        ans = tel("reload")
        gen += 1
        if not ans or ans.get("applied") != 1:
            raise SystemExit("reload-bench: warm-up reload answered %s" % ans)
    rss0, fd0 = proc(p.pid)
    samples.append((0, rss0, fd0))
    times = []
    t0 = time.monotonic()
    for i in range(LOOP_N):
        install(TMP + ("/lb.yaml" if i % 2 == 0 else "/la.yaml"))
        ans = tel("reload")
        gen += 1
        if not ans or ans.get("applied") != 1 or ans.get("generation") != gen:
            raise SystemExit("reload-bench: reload %d answered %s" % (i + 1, ans))
        times.append(ans["reload_us"] / 1e3)
        if (i + 1) % (LOOP_N // 10 or 1) == 0:
            samples.append((i + 1, *proc(p.pid)))
    res["loop_s"] = time.monotonic() - t0
    res["loop_ms"] = (statistics.median(times), min(times), max(times))
    res["samples"] = samples
    return gen


def finish(p, out, gen, res):
    p.send_signal(signal.SIGTERM)
    p.wait(120)
    shutil.rmtree(os.path.dirname(SOCK), ignore_errors=True)   # the EAL leaves it
    out.seek(0)
    text = out.read()
    with open(TMP + "/r.json") as f:
        rep = json.load(f)
    ports = {m[2]: (int(m[3]), int(m[4])) for m in re.finditer(
        r"^sluice: port (\d+) (\S+): rx (\d+), tx (\d+),", text, re.M)}
    res["read"], res["dropped"] = rep["packets"], rep["dropped"]["packets"]
    res["sent"], res["tx_dropped"] = ports["net_null0"][1], rep["tx_dropped"]
    res["lost"] = res["read"] - res["dropped"] - res["sent"]
    res["rx_port"] = ports["net_pcap0"][0]
    res["bad_tenants"] = sum(t["packets"] != t["conform_packets"] + t["exceed_packets"] or
                             t["bytes"] != t["conform_bytes"] + t["exceed_bytes"]
                             for t in rep["tenants"])
    res["generation"], res["failures"] = rep["generation"], rep["reload_failures"]
    res["expected_generation"] = gen
    res["exit"] = p.returncode


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
        cpu = m.group(1) if m else cpu
    dpdk = subprocess.run(["pkg-config", "--modversion", "libdpdk"], capture_output=True,
                          text=True).stdout.strip()
    return "%s, %d cores, Linux %s, DPDK %s" % (cpu, os.cpu_count(), platform.release(), dpdk)


def report(res):
    f3 = lambda t: "%.1f ms (min %.1f, max %.1f)" % t
    rss0, fd0 = res["samples"][0][1:]
    rss1, fd1 = res["samples"][-1][1:]
    half = res["samples"][len(res["samples"]) // 2]
    ok = (res["lost"] == 0 and res["tx_dropped"] == 0 and res["bad_tenants"] == 0 and
          res["failures"] == 0 and res["generation"] == res["expected_generation"] and
          res["exit"] == 0 and res["rx_port"] == res["read"] and fd1 == fd0)
    lines = [
        "## Hot reload",
        "",
        "`perf/reload-bench.sh --record` (%s, %s). sluice forwards a capture at full speed "
        "(`net_pcap` infinite_rx -> `net_null`, `-l %s`: one forwarding lcore) with a policy of "
        "%d tenants (%s) while it is "
        "reloaded. Times are sluice's own log lines (parse = `sl_config_load`, compile+publish "
        "= `sl_engine_reload`: build, `rcu_assign_pointer`, `synchronize_rcu`, retire). The "
        "machine is shared with other jobs: min and max show the spread." % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), machine(), LCORES, TENANTS,
            "`tools/sl-mixtenants.py`: mixed match shapes, IPv4 and IPv6 prefixes, VLANs, QinQ, "
            "dst + port ranges, dual-stack lists, a catch-all; one dedicated per-5-tuple "
            "profile; 4096 flows of 512-byte frames spread over all tenants" if MIXED else
            "`tools/sl-mktenants.py`: each its own /24, 6 profiles, shared and dedicated, bits "
            "and packets; traffic to the first 256 tenants, 512-byte frames, above the rate of "
            "some"),
        "",
        "| figure | value |",
        "|---|---|",
        "| reload of %d tenants by SIGHUP, median of %d (files alternating, every profile's "
        "rate changed) | %s |" % (TENANTS, MEDIAN_N, f3(res["total"])),
        "| of which parse | %s |" % f3(res["parse"]),
        "| of which compile + publish + grace period | %s |" % f3(res["compile"]),
        "| SIGHUP to the reload's log line (new policy published, old one retired) | %s |" %
        f3(res["signal_to_log"]),
        "| forwarding before / during the SIGHUP reloads / with a busy loop on the main "
        "lcore's core instead (no reload) | %.2f / %.2f / %.2f Mpps |" % (
            res["before_mpps"], res["during_mpps"], res["hog_mpps"]),
        "| %d reloads in a row by `/sluice/reload`, %d tenants, alternating files whose "
        "dedicated profiles and half of whose tenants differ | %.1f s, each %s |"
        % (LOOP_N, LOOP_TENANTS, res["loop_s"], f3(res["loop_ms"])),
        "| VmRSS after 10 warm-up reloads -> after %d more | %d kB -> %d kB (%+d kB) |" % (
            LOOP_N, rss0, rss1, rss1 - rss0),
        "| VmRSS over the second half of the loop (after %d reloads -> after %d) | %+d kB |" % (
            half[0], LOOP_N, rss1 - half[1]),
        "| open fds before -> after | %d -> %d |" % (fd0, fd1),
        "| frames read / dropped by policy / left by net_null / tx failures | %d / %d / %d / %d"
        " |" % (res["read"], res["dropped"], res["sent"], res["tx_dropped"]),
        "| frames lost that the policy did not drop | %d |" % res["lost"],
        "| tenants with packets != conform + exceed | %d of the report |" % res["bad_tenants"],
        "| final generation / reload failures / exit status | %d (expected %d) / %d / %d |" % (
            res["generation"], res["expected_generation"], res["failures"], res["exit"]),
        "",
        "VmRSS and fds every %d reloads of the loop: %s." % (
            LOOP_N // 10 or 1, ", ".join("%d: %d kB %d fds" % s for s in res["samples"])),
        "",
        "Verdict: %s. Target for the reload of 10,000 tenants: under 200 ms." % (
            "counters consistent, nothing lost, no fd growth" if ok else "CHECK FAILED"),
        "",
    ]
    return "\n".join(lines), ok


def record(text):
    path = "perf/RESULTS.md"
    with open(path) as f:
        cur = f.read()
    m = re.search(r"^## Hot reload\n.*?(?=^## |\Z)", cur, re.M | re.S)
    new = cur[:m.start()] + text + cur[m.end():] if m else cur.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new)
    print("reload-bench: recorded in %s" % path)


def main():
    files()
    p, out, err = start()
    res = {}
    try:
        res["before_mpps"] = rate(2) / 1e6
        res["hog_mpps"] = hog_rate(2) / 1e6
        gen = median_part(p, err, res)
        gen = loop_part(p, gen, res)
    except BaseException:
        p.kill()
        p.wait()
        err.seek(0)
        sys.stderr.write(err.read()[-3000:])
        raise
    finish(p, out, gen, res)
    text, ok = report(res)
    print(text)
    if RECORD:
        record(text)
    return 0 if ok else 1


sys.exit(main())
PY
