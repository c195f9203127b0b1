#!/usr/bin/env python3
# memlimit_check.py - sluice under a memory limit (a cgroup, as systemd MemoryMax or a container
# sets one): reloads and --check that would not fit are refused, never OOM-killed.
"""
usage: memlimit_check.py SLUICE SL_GEN

sluice forwards a capture (net_pcap infinite_rx -> net_null) inside a memory cgroup of its own
(v2 memory.max, or v1 memory.limit_in_bytes). Once it forwards, the limit is lowered to what
it uses plus 300 MB, then:
 (a) SIGHUP into a policy of 500 dedicated profiles without max-keys, one tenant each (the
     file that used to ask for 38 GB of key tables): accepted, the log says how the key
     budget is shared, forwarding goes on;
 (b) SIGHUP into a valid policy of 250,000 tenants, whose parsing alone needs more than the
     300 MB left: refused with a message naming the limit, the running policy stays,
     forwarding goes on;
 (c) `sluice --check` of that file inside the same cgroup: refused, exit status 1 (not 137);
 (d) SIGINT: sluice exits 0, and the cgroup saw no OOM kill.
Root; exit 77 (skipped) where a memory cgroup cannot be made.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HEADROOM_MB = 300
BIG_TENANTS = 250000


def skip(why):
    print("memlimit_check: SKIP: " + why)
    sys.exit(77)


def make_cgroup(name):
    """(dir, limit file, usage reader, oom-kill counter reader) of a new memory cgroup."""
    v2 = "/sys/fs/cgroup"
    try:
        with open("/proc/self/mountinfo") as f:
            mounts = f.read()
    except OSError:
        mounts = ""
    if " - cgroup2 " in mounts and os.path.exists(v2 + "/cgroup.controllers") and \
            "memory" in open(v2 + "/cgroup.controllers").read():
        d = os.path.join(v2, name)
        os.mkdir(d)
        return d, "memory.max", lambda: int(open(d + "/memory.current").read()), \
            lambda: int(re.search(r"oom_kill (\d+)", open(d + "/memory.events").read()).group(1))
    v1 = "/sys/fs/cgroup/memory"
    if os.path.isdir(v1):
        d = os.path.join(v1, name)
        os.mkdir(d)

        def ooms():
            m = re.search(r"oom_kill (\d+)", open(d + "/memory.oom_control").read())
            return int(m.group(1)) if m else 0
        return d, "memory.limit_in_bytes", \
            lambda: int(open(d + "/memory.usage_in_bytes").read()), ooms
    raise OSError("no memory cgroup hierarchy")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def small_policy():
    return ("sluice: 1\nunmatched: pass\nprofiles:\n"
            "  hosts: { mode: dedicated, key: src-ip, rate: 10mbit, burst: 20000B, "
            "exceed: drop, max-keys: 1000 }\n"
            "tenants:\n  - { name: lab, profile: hosts, match: { src: 10.0.0.0/8 } }\n")


def many_profiles():
    lines = ["sluice: 1", "unmatched: pass", "profiles:"]
    lines += ["  p%03d: { mode: dedicated, key: 5-tuple, rate: %dkbit, burst: 20000B, "
              "exceed: drop }" % (i, 1000 + i) for i in range(500)]
    lines.append("tenants:")
    lines += ["  - { name: t%03d, profile: p%03d, match: { src: 10.%d.%d.0/24 } }"
              % (i, i, i // 256, i % 256) for i in range(500)]
    return "\n".join(lines) + "\n"


def big_policy():
    lines = ["sluice: 1", "unmatched: pass", "profiles:",
             "  p: { mode: shared, rate: 1mbit, burst: 20000B, exceed: drop }", "tenants:"]
    lines += ["  - { name: t%06d, profile: p, match: { src: 10.%d.%d.%d/32 } }"
              % (i, i >> 16, (i >> 8) & 255, i & 255) for i in range(BIG_TENANTS)]
    return "\n".join(lines) + "\n"


class Log:
    """sluice's output, read by a thread-free poll of a file."""

    def __init__(self, path):
        self.path = path

    def text(self):
        with open(self.path, errors="replace") as f:
            return f.read()

    def wait(self, pattern, timeout, after=0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            t = self.text()
            m = re.search(pattern, t[after:], re.M)
            if m:
                return after + m.end()
            time.sleep(0.1)
        return None

    def forwarding_after(self, pos, timeout=6):
        """A live table after pos that shows frames forwarded."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for m in re.finditer(r"forwarded [0-9.]+ Mbit/s (\d+) pps", self.text()[pos:]):
                if int(m.group(1)) > 0:
                    return True
            time.sleep(0.2)
        return False


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    sluice, gen = sys.argv[1:]
    if os.geteuid():
        skip("not root")
    name = "sluice-memlimit-%d" % os.getpid()
    try:
        cg, limit_file, usage, ooms = make_cgroup(name)
    except OSError as e:
        skip("cannot make a memory cgroup: %s" % e)
    tmp = tempfile.mkdtemp(prefix="memlimit-")
    proc = None
    fails = []
    try:
        write(os.path.join(cg, limit_file), str(2 << 30))
        cap, pol, logp = (os.path.join(tmp, n) for n in ("c.pcap", "p.yaml", "log"))
        subprocess.run([gen, "--out", cap, "--quiet", "--duration", "1", "--flow",
                        "src=10.1.0.0/16,keys=100,proto=udp,rate=50mbit,size=512"], check=True)
        write(pol, small_policy())
        cmd = [sluice, "--no-huge", "-m", "256", "--no-shconf", "--no-pci", "-l", "0-1",
               "--no-telemetry", "--log-level=lib.eal:error", "--file-prefix", name,
               "--vdev=net_pcap0,rx_pcap=%s,infinite_rx=1" % cap, "--vdev=net_null0,no-rx=1",
               "--", "--config", pol, "--max-keys", "65536", "--stats-interval", "1"]
        log = Log(logp)
        with open(logp, "w") as out:
            proc = subprocess.Popen(["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"',
                                     cg] + cmd, stdout=out, stderr=subprocess.STDOUT)
        if log.wait(r"forwarded [0-9.]+ Mbit/s [1-9]", 60) is None:
            raise RuntimeError("sluice did not forward:\n" + log.text()[-2000:])
        used = usage()
        limit = used + (HEADROOM_MB << 20)
        write(os.path.join(cg, limit_file), str(limit))
        print("memlimit_check: sluice uses %d MB; limit set to %d MB" % (used >> 20, limit >> 20))

        # (a) the 500-profile file: shared out of the budget
        write(pol, many_profiles())
        pos = len(log.text())
        proc.send_signal(signal.SIGHUP)
        at = log.wait(r"^sluice: reload generation 2 .*\n.*keys: a budget of 65536 keys "
                      r".*shared by 500 dedicated tenants.*500 without a quota", 20, pos)
        if at is None:
            fails.append("(a) the 500-profile reload was not logged as shared out:\n" +
                         log.text()[pos:][-1500:])
        elif not log.forwarding_after(at):
            fails.append("(a) no forwarding after the 500-profile reload")
        else:
            print("memlimit_check: (a) 500 dedicated profiles without max-keys: reloaded, "
                  "keys shared out of the budget")

        # (b) a file whose parse does not fit: refused, forwarding goes on
        big = os.path.join(tmp, "big.yaml")
        write(big, big_policy())
        os.replace(big, pol)
        pos = len(log.text())
        proc.send_signal(signal.SIGHUP)
        at = log.wait(r"reload refused \(SIGHUP\), policy generation 2 stays.*\n"
                      r".*parsing the policy file needs \d+ MB, but only \d+ MB more may be "
                      r"used \(cgroup", 60, pos)
        if at is None:
            fails.append("(b) the big reload was not refused for memory:\n" +
                         log.text()[pos:][-1500:])
        elif not log.forwarding_after(at):
            fails.append("(b) no forwarding after the refused reload")
        else:
            print("memlimit_check: (b) %d tenants (%d MB): refused, forwarding goes on" %
                  (BIG_TENANTS, os.path.getsize(pol) >> 20))

        # (c) --check of the big file in the same cgroup
        chk = subprocess.run(["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', cg,
                              sluice, "--check", pol], capture_output=True, text=True)
        if chk.returncode != 1 or "needs" not in chk.stderr:
            fails.append("(c) sluice --check exit %d (want 1, refused): %s" %
                         (chk.returncode, chk.stderr[-500:]))
        else:
            print("memlimit_check: (c) sluice --check: " + chk.stderr.strip().splitlines()[0])

        # (d) a clean stop
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(60)
        proc = None
        if rc != 0:
            fails.append("(d) sluice exit status %d (want 0)" % rc)
        if ooms():
            fails.append("(d) the cgroup saw %d OOM kills" % ooms())
    finally:
        if proc:
            proc.kill()
            proc.wait()
        time.sleep(0.2)
        try:
            os.rmdir(cg)
        except OSError:
            pass
        subprocess.run(["rm", "-rf", tmp])
    for f in fails:
        print("FAIL " + f)
    if not fails:
        print("memlimit_check: pass")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
