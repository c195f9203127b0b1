#!/usr/bin/env python3
# html_check.py - integration test of sluice-replay --html: a self-contained page for a policy
# with a shared, a dedicated and a shaped tenant, checked offline and rendered by Chromium.
"""Usage: html_check.py SLUICE-REPLAY SL-GEN [WORKDIR]

Generates a 3 s capture with sl-gen (a shared tenant offered twice its rate, a dedicated
tenant of 20 sources each offered about 3x its per-key rate from 1 s to 2.5 s, a shaped tenant
offered 2x its rate in Poisson arrivals, unmatched traffic), runs sluice-replay --report
--html, then requires of the page, offline: no URL of any scheme that fetches (http, https,
ftp, //host), no <link>, <script>, <img>, <iframe>, @import or url(); every tenant's name and
section; five plots (the whole capture, each tenant's rates, the dedicated tenant's live
keys), each with series of 100..500 points and a non-zero maximum, the series each tenant's
exceed action implies (dropped; waited and shape-dropped; no marked one), 20
live keys at the peak, the dedicated tenant's top keys from its 20 sources with their exceeding
bytes adding up to its dropped bytes in the report, and the tenants table's conforming and
dropped shares equal to the report's. Then renders it with headless Chromium (`chromium`,
Debian 12 package `chromium`; the test exits 77, skipped, when it is not installed) into a
1200x3000 PNG, decodes it here (zlib, no PIL) and requires a good share of non-white pixels and
the plots' colours (at least 6 distinct series colours, each on many pixels).
Exit 0 pass, 1 fail, 77 skipped (no Chromium).
"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

TIMEOUT = 120
POLICY = """\
sluice: 1
unmatched: pass
profiles:
  shared-4m:  { mode: shared, rate: 4mbit, burst: 12KB, exceed: drop }
  per-source: { mode: dedicated, key: src-ip, rate: 100kbit, burst: 3000B, exceed: drop,
                idle: 1s }
  shaper:     { mode: shared, rate: 3mbit, burst: 8KB, exceed: shape, max-delay: 30ms }
tenants:
  - { name: web-shared, profile: shared-4m, match: { src: 10.1.0.0/16 } }
  - { name: subscribers, profile: per-source, match: { src: 10.2.0.0/16 } }
  - { name: bulk.shaped, profile: shaper, match: { src: 10.3.0.0/16 } }
"""
FLOWS = ["rate=8mbit,src=10.1.0.0/16,size=1000",
         "rate=6mbit,src=10.2.0.0/24,keys=20,size=600,start=1,end=2.5",
         "rate=6mbit,src=10.3.0.1,size=1000,arrival=poisson",
         "rate=1mbit,src=172.16.0.1,size=300"]
TENANTS = ["web-shared", "subscribers", "bulk.shaped"]
# the series colours of the page (app/sl_html.c) that this policy draws
COLOURS = {"offered": (0x47, 0x55, 0x69), "conforming": (0x16, 0xa3, 0x4a),
           "dropped": (0xdc, 0x26, 0x26), "waited": (0x25, 0x63, 0xeb),
           "shape-dropped": (0x9f, 0x12, 0x39), "live keys": (0x0d, 0x94, 0x88),
           "unmatched": (0xa3, 0xa3, 0xa3)}


def run(cmd, timeout=TIMEOUT):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          timeout=timeout)


# --- the page, offline --------------------------------------------------------------------

def attrs(tag):
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def plots(html):
    """[(caption, [series attrs with 'd'])] of every <svg class="plot">, in page order."""
    out = []
    for m in re.finditer(r'<figure class="fig"><figcaption>(.*?)</figcaption>\s*'
                         r'<svg class="plot"[^>]*>(.*?)</svg>', html, re.S):
        out.append((m.group(1), [attrs(p) for p in
                                 re.findall(r'<path class="series[^"]*"[^>]*>', m.group(2))]))
    return out


def section(html, name):
    m = re.search(r'<article class="tenant" id="t-%s">(.*?)</article>' % re.escape(name),
                  html, re.S)
    return m.group(1) if m else None


def pct_of(cell):
    m = re.match(r'\s*([\d.]+)%', cell)
    return float(m.group(1)) if m else None


def check_offline(html, report):
    errs = []
    low = html.lower()
    for pat in (r'\b(?:https?|ftp|wss?):', r'(?:src|href)\s*=\s*"(?!#)', r'<link\b',
                r'<script\b', r'<img\b', r'<iframe\b', r'<object\b', r'@import', r'url\('):
        m = re.search(pat, low)
        if m:
            errs.append("page references something outside itself: %r near %r" % (
                m.group(0), html[max(0, m.start() - 60):m.end() + 60]))
    if "<!doctype html>" not in low[:100] or "<style>" not in low:
        errs.append("no doctype or inline <style>")
    for t in TENANTS:
        if t not in html:
            errs.append("tenant %s not named in the page" % t)
        elif section(html, t) is None:
            errs.append("tenant %s has no section" % t)
    ps = plots(html)
    if len(ps) != 5:
        errs.append("expected 5 plots (overview, 1 per tenant, live keys), found %d: %s" % (
            len(ps), [c for c, _ in ps]))
    for cap, series in ps:
        if not series:
            errs.append("plot '%s' has no series" % cap)
            continue
        for s in series:
            n, d = int(s.get("data-points", 0)), s.get("d", "")
            coords = re.findall(r'[ML]([\d.]+) ([\d.]+)', d)
            if not 100 <= n <= 500 or len(coords) < 2:
                errs.append("plot '%s' series %s: %d points, %d coordinates (want 100..500)"
                            % (cap, s.get("data-name"), n, len(coords)))
        if max(float(s.get("data-max", 0)) for s in series) <= 0:
            errs.append("plot '%s': every series is zero" % cap)
    rep = {t["name"]: t for t in report["tenants"]}
    want = {"web-shared": ["offered", "conforming", "dropped"],
            "subscribers": ["offered", "conforming", "dropped", "live keys"],
            "bulk.shaped": ["offered", "conforming", "waited (shaped)",
                            "shape-dropped (would wait past max-delay)"]}
    for t, names in want.items():
        sec = section(html, t) or ""
        drawn = {attrs(p).get("data-name") for p in re.findall(r'<path class="series[^"]*"[^>]*>',
                                                               sec)}
        for nm in names:
            if nm not in drawn:
                errs.append("tenant %s: no '%s' series (drawn: %s)" % (t, nm, sorted(drawn)))
        if "marked" in drawn:
            errs.append("tenant %s: a 'marked' series but no profile marks" % t)
        r = rep.get(t)
        if not r or not r["exceed_packets"]:
            errs.append("tenant %s: the report shows no exceeding frames: a weak test" % t)
    # the tenants table against the report
    for t in TENANTS:
        m = re.search(r'<tr><td>(?:<a [^>]*>)?<b>%s</b>.*?</tr>' % re.escape(t), html, re.S)
        cells = re.findall(r'<td class="n">(.*?)</td>', m.group(0)) if m else []
        r = rep[t]
        if len(cells) < 6:
            errs.append("tenant %s: no row in the tenants table" % t)
            continue
        conf, drop = pct_of(cells[2]), pct_of(cells[3])
        rc = 100.0 * r["conform_bytes"] / r["bytes"]
        rd = 100.0 * (r["exceed_bytes"]) / r["bytes"]  # every profile here drops the excess
        if conf is None or abs(conf - rc) > 0.051 or drop is None or abs(drop - rd) > 0.051:
            errs.append("tenant %s: table says %s conforming, %s dropped; report %.2f%%, %.2f%%"
                        % (t, cells[2], cells[3], rc, rd))
    # the dedicated tenant: peak keys and top keys
    sec = section(html, "subscribers") or ""
    if not re.search(r'<b>20</b><span>peak live keys', sec):
        errs.append("subscribers: peak live keys is not 20")
    rows = re.findall(r'<tr><td>(\d+)</td><td><code>([\d.]+)</code></td>'
                      r'<td class="n">([\d.]+) (B|KB|MB)</td><td class="n">(\d+)</td>', sec)
    if len(rows) != 10:
        errs.append("subscribers: expected 10 top keys, found %d" % len(rows))
    else:
        mult = {"B": 1, "KB": 1e3, "MB": 1e6}
        got = [float(b) * mult[u] for _, _, b, u, _ in rows]
        if any(not k.startswith("10.2.0.") for _, k, _, _, _ in rows):
            errs.append("subscribers: top keys outside 10.2.0.0/24: %s" % [r[1] for r in rows])
        if got != sorted(got, reverse=True) or sum(got) > rep["subscribers"]["exceed_bytes"]:
            errs.append("subscribers: top keys not in order, or more than the tenant's "
                        "exceeding bytes: %s (tenant %d)" % (got, rep["subscribers"][
                            "exceed_bytes"]))
        frames = sum(int(r[4]) for r in rows)
        if frames <= 0 or frames > rep["subscribers"]["exceed_packets"]:
            errs.append("subscribers: top keys' frames %d vs %d exceeding" % (
                frames, rep["subscribers"]["exceed_packets"]))
    return errs


# --- the screenshot -------------------------------------------------------------------------

def png_pixels(path):
    """(width, height, channels, rows) of an 8-bit non-interlaced PNG (grey, RGB or RGBA)."""
    data = Path(path).read_bytes()
    if data[:8] != b'\x89PNG\r\n\x1a\n':
        raise ValueError("not a PNG")
    pos, idat = 8, []
    w = h = ch = None
    while pos < len(data):
        n, typ = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if typ == b'IHDR':
            w, h, depth, ctype, _, _, inter = struct.unpack('>IIBBBBB', body)
            if depth != 8 or inter or ctype not in (0, 2, 4, 6):
                raise ValueError("PNG depth %d type %d interlace %d not handled" % (
                    depth, ctype, inter))
            ch = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
        elif typ == b'IDAT':
            idat.append(body)
        elif typ == b'IEND':
            break
    raw = zlib.decompress(b''.join(idat))
    stride = w * ch
    rows, prev = [], bytes(stride)
    for y in range(h):
        base = y * (stride + 1)
        ft, line = raw[base], bytearray(raw[base + 1:base + 1 + stride])
        if ft == 1:
            for i in range(ch, stride):
                line[i] = (line[i] + line[i - ch]) & 255
        elif ft == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif ft == 3:
            for i in range(stride):
                line[i] = (line[i] + (((line[i - ch] if i >= ch else 0) + prev[i]) >> 1)) & 255
        elif ft == 4:
            for i in range(stride):
                a = line[i - ch] if i >= ch else 0
                b, c = prev[i], prev[i - ch] if i >= ch else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) \
                    & 255
        rows.append(bytes(line))
        prev = rows[-1]
    return w, h, ch, rows


def check_screenshot(png):
    errs = []
    w, h, ch, rows = png_pixels(png)
    if (w, h) != (1200, 3000):
        errs.append("screenshot is %dx%d, expected 1200x3000" % (w, h))
    if ch < 3:
        return errs + ["screenshot is greyscale: no colours"]
    nonwhite, total = 0, w * h
    hits = {k: 0 for k in COLOURS}
    for line in rows:
        for x in range(0, w * ch, ch):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if r < 240 or g < 240 or b < 240:
                nonwhite += 1
                for k, (cr, cg, cb) in COLOURS.items():
                    if abs(r - cr) <= 10 and abs(g - cg) <= 10 and abs(b - cb) <= 10:
                        hits[k] += 1
    share = nonwhite / total
    seen = sorted(k for k, n in hits.items() if n >= 300)
    print("html_check: screenshot %dx%d: %.1f%% non-white pixels; series colours (pixels): %s"
          % (w, h, 100 * share, ", ".join("%s %d" % (k, hits[k]) for k in sorted(hits))))
    if share < 0.04:
        errs.append("screenshot nearly blank: %.2f%% non-white pixels" % (100 * share))
    if len(seen) < 6:
        errs.append("only %d plot colours on 300+ pixels (%s), expected 6 or more" % (
            len(seen), seen))
    return errs


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        p = shutil.which(name)
        if p:
            return p
    return None


def main():
    if len(sys.argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 1
    replay, gen = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
    wd = Path(sys.argv[3]) if len(sys.argv) == 4 else Path(tempfile.mkdtemp(prefix="html_"))
    wd = wd.resolve()
    wd.mkdir(parents=True, exist_ok=True)
    pol, cap, page, rep, png = (wd / n for n in (
        "policy.yaml", "capture.pcap", "page.html", "report.json", "page.png"))
    pol.write_text(POLICY)
    t = time.monotonic()
    r = run([gen, "--out", cap, "--duration", "3", "--seed", "7", "--quiet",
             *[a for f in FLOWS for a in ("--flow", f)]])
    if r.returncode:
        print("html_check: sl-gen failed: %s" % r.stderr)
        return 1
    t_gen = time.monotonic() - t
    t = time.monotonic()
    r = run([replay, "--config", pol, "--in", cap, "--report", rep, "--html", page, "--quiet"])
    t_replay = time.monotonic() - t
    if r.returncode:
        print("html_check: sluice-replay --html: exit %d: %s" % (r.returncode, r.stderr))
        return 1
    html = page.read_text()
    print("html_check: capture %d bytes (sl-gen %.2f s); sluice-replay --html %.2f s; page "
          "%d bytes" % (cap.stat().st_size, t_gen, t_replay, len(html.encode())))
    errs = check_offline(html, json.loads(rep.read_text()))
    if errs:
        print("html_check: FAIL (page):\n  " + "\n  ".join(errs))
        return 1
    print("html_check: page ok offline: no external reference, %d plots with data, tenants, "
          "top keys and shares as the report" % len(plots(html)))
    chromium = find_chromium()
    if not chromium:
        print("html_check: skipped: chromium is not installed (Debian: apt-get install "
              "chromium; tools/bootstrap installs it), the page was not rendered")
        return 77
    if png.exists():
        png.unlink()
    t = time.monotonic()
    r = run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--no-first-run", "--user-data-dir=%s" % (wd / "chromium-profile"),
             "--screenshot=%s" % png, "--window-size=1200,3000", page.as_uri()])
    t_render = time.monotonic() - t
    if not png.exists():
        print("html_check: FAIL: chromium wrote no screenshot (exit %d): %s" % (
            r.returncode, r.stderr[-2000:]))
        return 1
    t = time.monotonic()
    errs = check_screenshot(png)
    print("html_check: chromium %.2f s, PNG %d bytes, checked in %.2f s" % (
        t_render, png.stat().st_size, time.monotonic() - t))
    if errs:
        print("html_check: FAIL (screenshot %s):\n  %s" % (png, "\n  ".join(errs)))
        return 1
    print("html_check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
