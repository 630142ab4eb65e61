#!/usr/bin/env python3
"""Checks sesh-timeline's SVG against the sesh-replay output it was drawn from.

    check_timeline.py --timeline BIN --replay BIN SCENARIO.txt...
    check_timeline.py --timeline BIN --replay BIN --chromium BIN SCENARIO.txt

For each scenario (and its NAME.runN.txt runs): plays it with sesh-replay in a temporary
directory, draws it with `sesh-timeline --scenario ... --replay ...`, parses the SVG as
XML, and checks one session bar per session of the output, labelled with its
sessionIndex and the first 8 hex digits of its id, marked with the reason its end
callback gave ("running" when none did); and one kill marker per kill line of the
scenario that hit a running process. It also draws once through `--sesh-replay` (the
tool runs the driver itself) and checks the same number of bars. With --chromium, the
SVG is rendered by headless Chromium and the PNG must exist and not be blank.
"""
import argparse
import json
import os
import pathlib
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

SVG = "{http://www.w3.org/2000/svg}"


def fail(message):
    print("FAIL: " + message)
    sys.exit(1)


def runs_of(scenario):
    files = [scenario]
    stem = str(scenario)[: -len(".txt")]
    n = 2
    while pathlib.Path(f"{stem}.run{n}.txt").exists():
        files.append(pathlib.Path(f"{stem}.run{n}.txt"))
        n += 1
    return files


def expected_sessions(outputs):
    """sessionId -> (sessionIndex, reason or 'running'), from every run's output lines."""
    sessions = {}
    for text in outputs:
        for line in text.splitlines():
            line = json.loads(line)
            found = []
            entity = line.get("entity")
            if entity:
                found.append((entity["data"], None))
            for callback in line.get("callbacks") or []:
                data = callback["data"]
                if callback["kind"] == "session_start":
                    found.append((data["data"], None))
                else:
                    found.append((data, data["reason"]))
            for data, reason in found:
                sid = data["sessionId"]
                index, old = sessions.get(sid, (data["sessionIndex"], "running"))
                sessions[sid] = (index, reason or old)
    return sessions


def bars(svg_path):
    try:
        root = ET.parse(svg_path).getroot()
    except ET.ParseError as e:
        fail(f"{svg_path} is not well-formed XML: {e}")
    if root.tag != SVG + "svg":
        fail(f"{svg_path}: the root is {root.tag}, not svg")
    found = []
    for g in root.iter(SVG + "g"):
        if g.get("class") == "session":
            label = "".join(t.text or "" for t in g.iter(SVG + "text"))
            found.append((g.get("data-session-index"), g.get("data-session-id"), g.get("data-end"), label))
    kills = sum(1 for g in root.iter(SVG + "g") if g.get("class") == "kill-marker")
    ends = sorted((t.text or "") for t in root.iter(SVG + "text") if t.get("class") == "end")
    return found, kills, ends


def check(args, scenario):
    with tempfile.TemporaryDirectory(prefix="sesh-timeline-test-") as tmp:
        tmp = pathlib.Path(tmp)
        outputs, command = [], [args.timeline]
        for i, run in enumerate(runs_of(scenario)):
            out = subprocess.run([args.replay, str(run.resolve())], cwd=tmp, check=True,
                                 capture_output=True, text=True).stdout
            outputs.append(out)
            (tmp / f"run{i}.jsonl").write_text(out)
            command += ["--scenario", str(run), "--replay", str(tmp / f"run{i}.jsonl")]
        svg = tmp / "out.svg"
        subprocess.run(command + ["-o", str(svg)], check=True)
        found, kills, ends = bars(svg)
        want = expected_sessions(outputs)
        if len(found) != len(want):
            fail(f"{scenario.name}: {len(found)} bars, {len(want)} sessions: {found} / {want}")
        for sid, (index, reason) in want.items():
            short = sid.replace("-", "")[:8]
            match = [b for b in found if b[1] == short]
            if len(match) != 1:
                fail(f"{scenario.name}: session {sid}: {len(match)} bars")
            bar_index, _, bar_reason, label = match[0]
            if bar_index != str(index) or label != f"#{index} {short}" or bar_reason != reason:
                fail(f"{scenario.name}: session {sid} (#{index}, {reason}) drawn as {match[0]}")
        want_ends = sorted(r for _, r in want.values() if r != "running")
        if ends != want_ends:
            fail(f"{scenario.name}: end labels {ends}, want {want_ends}")
        kill_lines = sum(
            1 for run in runs_of(scenario) for line in run.read_text().splitlines()
            if line.split()[1:] and (line.split()[1] == "kill" or line.split()[2:3] == ["kill"])
            and not line.startswith("#"))
        if kills > kill_lines + 8 or (kill_lines and not kills):
            fail(f"{scenario.name}: {kills} kill markers for {kill_lines} kill lines")
        # The same picture through --sesh-replay: the same number of bars.
        svg2 = tmp / "direct.svg"
        subprocess.run([args.timeline, "--scenario", str(scenario), "--sesh-replay", args.replay,
                        "-o", str(svg2)], check=True)
        if len(bars(svg2)[0]) != len(want):
            fail(f"{scenario.name}: --sesh-replay drew {len(bars(svg2)[0])} bars")
        print(f"ok: {scenario.name}: {len(found)} sessions, ends {want_ends}, {kills} kill markers")
        if args.chromium:
            render(args.chromium, svg, tmp)


def png_pixels(path):
    """(width, height, rows of bytes, bytes per pixel) of an 8-bit RGB/RGBA PNG."""
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        fail(f"{path} is not a PNG")
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            if depth != 8 or color not in (2, 6):
                fail(f"{path}: PNG colour type {color} depth {depth} not handled")
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, rows, bpp


def render(chromium, svg, tmp):
    png = tmp / "out.png"
    profile = tmp / "profile"
    profile.mkdir()
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                    f"--screenshot={png}", "--window-size=1200,800", svg.resolve().as_uri()],
                   cwd=tmp, capture_output=True, timeout=120)
    if not png.exists() or png.stat().st_size == 0:
        fail("chromium wrote no screenshot")
    width, height, rows, bpp = png_pixels(png)
    inked = sum(1 for row in rows for x in range(0, len(row), bpp) if row[x:x + 3] != b"\xff\xff\xff")
    colours = {row[x:x + 3] for row in rows[::4] for x in range(0, len(row), bpp * 4)}
    if inked < 2000 or len(colours) < 5:
        fail(f"the screenshot looks blank: {inked} non-white pixels, {len(colours)} colours")
    print(f"ok: chromium drew {width}x{height}, {inked} non-white pixels, {len(colours)} colours")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeline", required=True)
    parser.add_argument("--replay", required=True)
    parser.add_argument("--chromium")
    parser.add_argument("scenarios", nargs="+", type=pathlib.Path)
    args = parser.parse_args()
    args.timeline = os.path.abspath(args.timeline)
    args.replay = os.path.abspath(args.replay)
    for scenario in args.scenarios:
        check(args, scenario)


if __name__ == "__main__":
    main()
