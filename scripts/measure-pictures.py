#!/usr/bin/env python3
"""Measures the shared pictures against a running hub on loopback (not a test): OBS screenshot
requests per second with 1 viewer and with N viewers of the same picture, and the hub's CPU per
delivered picture, from /proc/<pid>/stat. Bounded: each phase runs SECONDS seconds.

    python3 scripts/measure-pictures.py http://127.0.0.1:8000 <hub pid> [seconds] [viewers]
"""
import os
import re
import sys
import threading
import time
import urllib.request

BASE, PID = sys.argv[1], int(sys.argv[2])
SECONDS = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0
VIEWERS = int(sys.argv[4]) if len(sys.argv) > 4 else 100
assert re.match(r"^https?://(127\.[0-9.]+|\[::1\]|localhost)(:\d+)?$", BASE), "loopback only"
PICTURE = BASE + "/api/screenshot/program?width=320"
TICKS = os.sysconf("SC_CLK_TCK")


def captures():
    text = urllib.request.urlopen(BASE + "/metrics", timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("obs_hub_obs_request_seconds_count") and 'GetSourceScreenshot' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


def cpu_seconds():
    fields = open(f"/proc/{PID}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def phase(viewers):
    delivered = [0] * viewers
    deadline = time.monotonic() + SECONDS

    def viewer(index):
        while time.monotonic() < deadline:
            with urllib.request.urlopen(PICTURE, timeout=10) as response:
                response.read()
                delivered[index] += 1

    before, cpu_before, started = captures(), cpu_seconds(), time.monotonic()
    threads = [threading.Thread(target=viewer, args=(i,)) for i in range(viewers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    cpu = cpu_seconds() - cpu_before
    obs = captures() - before
    pictures = sum(delivered)
    print(f"{viewers:>3} viewer(s): {pictures} pictures in {elapsed:.1f} s, "
          f"OBS screenshot requests {obs:.0f} ({obs / elapsed:.2f}/s), "
          f"hub CPU {cpu:.2f} s ({1000 * cpu / max(pictures, 1):.3f} ms per picture)")


phase(1)
phase(VIEWERS)
