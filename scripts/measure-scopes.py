#!/usr/bin/env python3
"""What scoped tokens and the audit trail cost (issue 19; a measurement, not a test).

Starts two demo hubs from the same binary, in the same run: one that asks for no token, one that
asks for a token, where a managed `control` token (made through POST /api/tokens/) sends every
request (its commands audited and rate-checked, with a limit high enough never to refuse).
Both keep the demo's database, so the tokenless hub audits its (anonymous) commands too; the
difference measured is the token's lookup, scope check, rate check, and the audit of a named
token. Phases alternate between the hubs (A B A B ...) so that drift on a shared machine hits
both; each phase sends REQUESTS requests on one keep-alive connection. Reported per hub and
route: requests per second (client included) and the hub's CPU per request (from /proc), as
medians over the rounds, and the median of the per-round ratios.

    python3 scripts/measure-scopes.py <obs-hub binary> [requests] [rounds]
"""
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import time

BINARY = sys.argv[1]
REQUESTS = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
ROUNDS = int(sys.argv[3]) if len(sys.argv) > 3 else 5
ADMIN = "measure-admin-token-" + os.urandom(8).hex()
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(token):
    port = free_port()
    args = [BINARY, "demo", "--no-show", "--bind", f"127.0.0.1:{port}"]
    if token:
        args += ["--api-token", token, "--commands-per-second", "1000000"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return process, port
        except OSError:
            pass
        time.sleep(0.05)
    process.kill()
    sys.exit("the demo hub did not get ready")


def call(connection, method, path, headers, body=None):
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    return response.status


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def phase(process, port, headers, route):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    scenes = ["BRB", "Live"]
    cpu_before, started = cpu_seconds(process.pid), time.monotonic()
    for index in range(REQUESTS):
        if route == "read":
            status = call(connection, "GET", "/api/stream-status/", headers)
        else:
            body = json.dumps({"scene_name": scenes[index % 2]})
            status = call(connection, "POST", "/api/switch-scene/",
                          {**headers, "Content-Type": "application/json"}, body)
        if status != 200:
            sys.exit(f"{route} answered {status}")
    elapsed = time.monotonic() - started
    cpu = cpu_seconds(process.pid) - cpu_before
    connection.close()
    return REQUESTS / elapsed, 1e6 * cpu / REQUESTS


def main():
    open_hub, open_port = start(None)
    scoped_hub, scoped_port = start(ADMIN)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", scoped_port, timeout=10)
        connection.request("POST", "/api/tokens/", body=json.dumps(
            {"name": "measure", "scopes": ["control"], "capabilities": ["scenes"]}),
            headers={"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"})
        made = json.loads(connection.getresponse().read())
        scoped_headers = {"Authorization": f"Bearer {made['token']}"}
        hubs = {"no token": (open_hub, open_port, {}),
                "scoped token + audit": (scoped_hub, scoped_port, scoped_headers)}
        results = {(name, route): [] for name in hubs for route in ("read", "command")}
        for _ in range(ROUNDS):
            for route in ("read", "command"):
                for name, (process, port, headers) in hubs.items():
                    results[(name, route)].append(phase(process, port, headers, route))
        print(f"{REQUESTS} requests per phase, {ROUNDS} rounds, medians; binary {BINARY}")
        for route, label in (("read", "GET /api/stream-status/"), ("command", "POST /api/switch-scene/")):
            rows = {}
            for name in hubs:
                runs = results[(name, route)]
                rows[name] = (statistics.median(r for r, _ in runs),
                              statistics.median(c for _, c in runs))
                print(f"  {label:<26} {name:<22} {rows[name][0]:8.0f} req/s  "
                      f"hub CPU {rows[name][1]:7.1f} us/request")
            # Each round's scoped phase against the open phase that ran just before it.
            pairs = list(zip(results[("no token", route)], results[("scoped token + audit", route)]))
            throughput = statistics.median(s[0] / b[0] for b, s in pairs)
            cpu = statistics.median(s[1] / b[1] for b, s in pairs if b[1] > 0)
            print(f"  {label:<26} ratio scoped/no token (median of rounds): "
                  f"throughput {throughput:.3f}, CPU per request {cpu:.3f}")
    finally:
        for process in (open_hub, scoped_hub):
            process.terminate()
            process.wait(timeout=10)


main()
