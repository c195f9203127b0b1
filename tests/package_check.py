#!/usr/bin/env python3
"""package_check.py BUILDDIR - the Debian package (tools/mkdeb) installs, runs and goes away.

1. tools/mkdeb BUILDDIR builds the package (into a temporary directory); its control fields
   (version of meson.build, Depends, conffiles) and contents (paths, root:root) are checked.
2. It is installed with dpkg into a clean root: `dpkg --root=ROOT -i`, maintainer scripts run
   outside the root (--force-script-chrootless: ROOT has no shell; the scripts see DPKG_ROOT
   and leave the host alone). ROOT's dpkg database holds only the packages sluice depends on,
   copied from this host's database with their installed versions, so dpkg checks the Depends
   for real (no --force-depends) while no other file is copied. dpkg-deb -x would only unpack:
   this also runs the scripts, registers the conffiles and lets step 6 purge.
3. The installed files are where they should be; the installed unit passes
   `systemd-analyze verify` (on a copy whose paths point into ROOT, the rest of the system
   being this host's) with no message at all; `systemd-analyze security` is printed.
4. The installed sluice checks the installed policy and the examples (sluice --check).
5. As root: the unit's own ExecStart, with the shipped SLUICE_OPTS, runs the installed sluice
   (EAL options: virtual null ports, no hugepages, a file prefix of its own); the installed
   sluice-ctl reads it over telemetry; the unit's ExecReload lines reload a valid policy
   (SIGHUP) and refuse a broken one before signalling; SIGTERM stops it with status 0 and the
   report in the state directory.
6. An edited conffile survives a reinstall; purge removes everything, state directory too.
Exit status 0 passed, 1 failed, 77 skipped (dpkg-deb, dpkg or systemd-analyze missing).
"""
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# the runtime libraries the package must depend on, by package name (DPDK 22.11: ABI 23)
NEEDED = [r"librte-eal\d+", r"librte-ethdev\d+", r"librte-mempool-ring\d+", r"liburcu8",
          r"libyaml-0-2", r"libpcap0\.8", r"python3"]
PROGRAMS = ["sluice", "sluice-replay", "sluice-ctl"]
CONFFILES = ["/etc/default/sluice", "/etc/sluice/sluice.yaml"]
FILES = CONFFILES + ["/usr/bin/" + p for p in PROGRAMS] + [
    "/usr/share/doc/sluice/examples/sluice.yaml", "/usr/share/doc/sluice/examples/shaping.yaml",
    "/usr/share/doc/sluice/copyright"]
TOPS = ("etc/", "lib/systemd/system/", "usr/lib/systemd/system/", "usr/bin/",
        "usr/share/doc/sluice/")
failures = []


def check(ok, what):
    print("%s %s" % ("ok  " if ok else "FAIL", what), flush=True)
    if not ok:
        failures.append(what)
    return ok


def run(cmd, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.STDOUT)
    return subprocess.run(cmd, text=True, **kw)


def dpkg_field(deb, field):
    return run(["dpkg-deb", "-f", deb, field], stderr=subprocess.DEVNULL).stdout.strip()


def clean_root(root, depends):
    """A dpkg database in ROOT with only the stanzas of the packages in depends."""
    admin = os.path.join(root, "var/lib/dpkg")
    for d in ("info", "updates", "triggers"):
        os.makedirs(os.path.join(admin, d))
    open(os.path.join(admin, "available"), "w").close()
    stanzas = []
    for name in sorted({re.split(r"[\s(:]", d.strip())[0] for d in depends.split(",")}):
        st = run(["dpkg-query", "-s", name], stderr=subprocess.DEVNULL)
        if not check(st.returncode == 0, "dependency %s is installed on this host" % name):
            continue
        stanza = st.stdout.strip() + "\n"
        stanzas.append(stanza)
        arch = re.search(r"^Architecture: (\S+)", stanza, re.M).group(1)
        same = re.search(r"^Multi-Arch: same", stanza, re.M)
        open(os.path.join(admin, "info", name + (":" + arch if same else "") + ".list"),
             "w").close()
    with open(os.path.join(admin, "status"), "w") as f:
        f.write("\n".join(stanzas))


def dpkg(root, *args):
    extra = [] if os.geteuid() == 0 else ["--force-not-root"]
    return run(["dpkg", "--root=" + root, "--force-script-chrootless", "--log=/dev/null"]
               + extra + list(args), stdin=subprocess.DEVNULL)


def unit_lines(unit, key):
    return [l.split("=", 1)[1] for l in unit.splitlines() if l.startswith(key + "=")]


def env_file(path):
    """NAME="value" lines of an EnvironmentFile (what the shipped one uses)."""
    env = {}
    with open(path) as f:
        for line in f:
            m = re.match(r'^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$', line)
            if m and not line.lstrip().startswith("#"):
                v = m.group(2).strip()
                env[m.group(1)] = shlex.split(v)[0] if v else ""
    return env


def expand(cmdline, env):
    """systemd's Exec*= expansion: $VAR alone is split at spaces, ${VAR} is one word."""
    out = []
    for w in shlex.split(cmdline):
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
        if m:
            out += env.get(m.group(1), "").split()
        else:
            out.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}",
                              lambda n: env.get(n.group(1), ""), w))
    return out


def reload(unit, env, pid):
    """The unit's ExecReload= lines in order, as systemd runs them; the first failure ends."""
    for line in unit_lines(unit, "ExecReload"):
        e = dict(os.environ, **env, MAINPID=str(pid))
        r = run(expand(line, e), env=e)
        if r.returncode:
            return r
    return r


def wait_for(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def run_service(root, unit, tmp):
    """ExecStart of the installed unit with the shipped options, on virtual null ports."""
    pmds = glob.glob("/usr/lib/*/dpdk/pmds-*/librte_net_null.so*")
    if os.geteuid() != 0 or not pmds:
        print("skip running the service: %s" % ("needs root (DPDK)" if pmds else
                                                 "DPDK's net_null driver is not installed"))
        return
    prefix = "sluice-pkgcheck-%d" % os.getpid()
    env = {"SLUICE_CONFIG": root + "/etc/sluice/sluice.yaml"}
    env.update(env_file(root + "/etc/default/sluice"))
    # the host's hardware is not ours: virtual ports, no hugepages, no PCI
    env["SLUICE_EAL"] = ("--no-huge -m 256 --no-pci -l 0-1 --vdev=net_null0 --vdev=net_null1")
    state = root + "/var/lib/sluice"  # StateDirectory=sluice
    os.makedirs(state, exist_ok=True)
    env["SLUICE_OPTS"] = env.get("SLUICE_OPTS", "").replace("/var/lib/sluice", state)
    cmd = expand(unit_lines(unit, "ExecStart")[0], env)
    cmd = ["--file-prefix=" + prefix if w.startswith("--file-prefix=") else w for w in cmd]
    print("ExecStart: " + " ".join(cmd), flush=True)
    log = open(os.path.join(tmp, "service.log"), "w+")
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        sock = "/var/run/dpdk/%s/dpdk_telemetry.v2" % prefix
        if not check(wait_for(lambda: os.path.exists(sock) or p.poll() is not None, 20)
                     and p.poll() is None, "the installed sluice runs with the shipped options"):
            return
        gen = None
        for _ in range(20):  # the /sluice commands come just after the socket
            ctl = run([root + "/usr/bin/sluice-ctl", "--prefix", prefix, "stats"])
            try:
                gen = (json.loads(ctl.stdout) or {}).get("generation")
            except ValueError:
                pass
            if gen is not None:
                break
            time.sleep(0.25)
        check(ctl.returncode == 0 and gen == 1,
              "the installed sluice-ctl reads it (generation %s)" % gen)

        r = reload(unit, env, p.pid)
        check(r.returncode == 0 and wait_for(
            lambda: "reload generation 2 (SIGHUP)" in open(log.name).read(), 10),
            "ExecReload: a valid policy is checked and reloaded (SIGHUP)")
        bad = os.path.join(tmp, "bad.yaml")
        with open(env["SLUICE_CONFIG"]) as f:
            text = f.read()
        with open(bad, "w") as f:
            f.write(re.sub(r"(rate: *[0-9.]+)mbit", r"\1mbps", text, count=1))
        r = reload(unit, dict(env, SLUICE_CONFIG=bad), p.pid)
        time.sleep(0.5)
        msg = r.stdout.strip().splitlines()
        check(r.returncode != 0 and "mbps" in r.stdout
              and "reload refused" not in open(log.name).read(),
              "ExecReload: a broken policy fails the reload, no signal sent (%s)"
              % (msg[0] if msg else "no message"))
        p.send_signal(signal.SIGTERM)  # systemctl stop
        try:
            rc = p.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, "SIGTERM stops it (exit status %s)" % rc)
        rep = os.path.join(state, "report.json")
        ok = os.path.exists(rep)
        if ok:
            with open(rep) as f:
                ok = json.load(f).get("generation") == 2
        check(ok, "--report from the shipped options: %s, generation 2" % rep)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)  # RuntimeDirectory=
        log.seek(0)
        out = log.read()
        print("--- service output (last lines)\n" + "\n".join(out.splitlines()[-8:]) + "\n---")


def main(argv):
    if len(argv) != 1:
        sys.stderr.write("usage: package_check.py BUILDDIR\n")
        return 1
    build = os.path.abspath(argv[0])
    missing = [t for t in ("dpkg-deb", "dpkg", "dpkg-query", "systemd-analyze", "meson",
                           "ninja") if not shutil.which(t)]
    if missing:
        print("SKIP: %s not installed (packages dpkg, systemd, meson, ninja-build)"
              % ", ".join(missing))
        return 77
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="sluice-pkgcheck.") as tmp:
        # 1. build
        mk = run([os.path.join(SRC, "tools/mkdeb"), build, "--out", tmp])
        if not check(mk.returncode == 0,
                     "tools/mkdeb %s (%.1f s)" % (build, time.monotonic() - t0)):
            print(mk.stdout)
            return 1
        deb = mk.stdout.strip().splitlines()[-1]
        with open(os.path.join(build, "meson-info", "intro-projectinfo.json")) as f:
            version = json.load(f)["version"]
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        check(os.path.basename(deb) == "sluice_%s_%s.deb" % (version, arch), "package " + deb)
        check(dpkg_field(deb, "Package") == "sluice" and dpkg_field(deb, "Version") == version,
              "control: sluice %s (meson.build's version)" % version)
        depends = dpkg_field(deb, "Depends")
        names = [re.split(r"[\s(]", d.strip())[0] for d in depends.split(",")]
        for n in NEEDED:
            hit = [x for x in names if re.fullmatch(n, x)]
            check(hit, "Depends: %s" % (hit[0] if hit else n))
        info = run(["dpkg-deb", "-I", deb, "conffiles"]).stdout.split()
        check(sorted(info) == CONFFILES, "conffiles: %s" % " ".join(info))
        contents = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
        paths = [l.split()[-1].lstrip("./") for l in contents]
        check(all(l.split()[1] == "root/root" for l in contents), "contents owned by root:root")
        odd = [p for p in paths if p and not p.endswith("/") and not p.startswith(TOPS)]
        check(not odd, "contents only under %s%s" % (", ".join(TOPS),
                                                       ": not " + " ".join(odd) if odd else ""))
        units = [p for p in paths if p.endswith("systemd/system/sluice.service")]
        check(len(units) == 1, "one systemd unit: %s" % " ".join(units))

        # 2. install into a clean root
        root = os.path.join(tmp, "root")
        clean_root(root, depends)
        r = dpkg(root, "-i", deb)
        if not check(r.returncode == 0, "dpkg --root ROOT -i (Depends satisfied by this host)"):
            print(r.stdout)
            return 1
        st = dpkg(root, "-s", "sluice").stdout
        check("Status: install ok installed" in st, "dpkg: sluice installed in ROOT")
        check(all(c in st for c in CONFFILES), "dpkg: conffiles registered")

        # 3. files and unit
        for f in FILES:
            check(os.path.isfile(root + f), "installed " + f)
        for p in PROGRAMS:
            check(os.access(root + "/usr/bin/" + p, os.X_OK), "/usr/bin/%s executable" % p)
        unitpath = os.path.join(root, units[0]) if units else ""
        with open(unitpath) as f:
            unit = f.read()
        for key, want in (("ExecStart", "/usr/bin/sluice "),
                          ("EnvironmentFile", "/etc/default/sluice"),
                          ("ExecReload", "/bin/kill -HUP $MAINPID"),
                          ("Restart", "on-failure")):
            check(any(want in v for v in unit_lines(unit, key)), "unit: %s=...%s" % (key, want))
        # the same unit, its paths in ROOT (the rest: this host's units, /bin/sh, /bin/kill)
        vdir = os.path.join(tmp, "verify")
        os.mkdir(vdir)
        local = (unit.replace("/usr/bin/sluice", root + "/usr/bin/sluice")
                 .replace("/etc/default/sluice", root + "/etc/default/sluice")
                 .replace("/etc/sluice/", root + "/etc/sluice/"))
        with open(os.path.join(vdir, "sluice.service"), "w") as f:
            f.write(local)
        v = run(["systemd-analyze", "verify", "--man=no", os.path.join(vdir, "sluice.service")])
        check(v.returncode == 0 and not v.stdout.strip(),
              "systemd-analyze verify: %s" % (v.stdout.strip() or "no message"))
        sec = run(["systemd-analyze", "security", "--offline=true", "--no-pager",
                   os.path.join(vdir, "sluice.service")])
        m = re.search(r"Overall exposure level for \S+: (.*)", sec.stdout)
        print("info systemd-analyze security: %s" % (m.group(1) if m else "not available"))

        # 4. the installed programs
        ldd = run(["ldd", root + "/usr/bin/sluice"]).stdout
        check("not found" not in ldd, "installed sluice finds its libraries")
        for pol in ("/etc/sluice/sluice.yaml", "/usr/share/doc/sluice/examples/sluice.yaml",
                    "/usr/share/doc/sluice/examples/shaping.yaml"):
            c = run([root + "/usr/bin/sluice", "--check", root + pol])
            check(c.returncode == 0, "installed sluice --check %s" % pol)
        for p in PROGRAMS:
            check(run([root + "/usr/bin/" + p, "--help"]).returncode == 0, "%s --help" % p)

        # 5. run as the unit does
        run_service(root, local, tmp)

        # 6. conffiles kept, purge
        with open(root + "/etc/sluice/sluice.yaml", "a") as f:
            f.write("# edited by the operator\n")
        r = dpkg(root, "--force-confold", "-i", deb)
        with open(root + "/etc/sluice/sluice.yaml") as f:
            check(r.returncode == 0 and "edited by the operator" in f.read(),
                  "reinstall keeps the edited /etc/sluice/sluice.yaml")
        os.makedirs(root + "/var/lib/sluice", exist_ok=True)
        r = dpkg(root, "--purge", "sluice")
        left = [os.path.relpath(os.path.join(d, n), root) for d, _, ns in os.walk(root)
                for n in ns if not os.path.relpath(d, root).startswith("var/lib/dpkg")]
        check(r.returncode == 0 and not left and not os.path.exists(root + "/var/lib/sluice"),
              "purge removes everything%s" % (": left " + " ".join(left) if left else ""))
    print("%d failures, %.1f s" % (len(failures), time.monotonic() - t0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
