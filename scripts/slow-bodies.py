#!/usr/bin/env python3
"""Slow unauthenticated bodies against a hub (issue 10, item 5): how many connections the hub
holds, its memory, and whether a token holder is served meanwhile.

    python3 scripts/slow-bodies.py target/debug/obs-hub --connections 1100 [--forged]

Starts the hub with an API token and a callback secret, no database, OBS on a closed loopback
port, under `ulimit -n 1024` (soft and hard; --nofile to change). Opens N connections that send a callback's
headers and the first 32 KiB of a body they declare larger and never finish: without signature
headers, or with --forged, with signature headers that look right (made without the secret).
Then reads the hub's open descriptors and RSS from /proc, times one token holder's request
(10 s deadline), and counts the slow connections the hub has closed. Loopback only; bounded in
count and time; the hub is stopped at the end.
"""

import argparse
import base64
import hashlib
import hmac
import os
import resource
import socket
import subprocess
import sys
import time

TOKEN = "measure-token-0123456789"
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hub_figures(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(l.split()[1]) for l in status if l.startswith("VmRSS:"))
    return fds, rss // 1024


def token_request(port):
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(
                f"GET /api/obs-manager/status/ HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                f"authorization: Bearer {TOKEN}\r\nconnection: close\r\n\r\n".encode()
            )
            answer = s.recv(64)
        status = answer.split(b" ")[1].decode() if answer else "no answer"
    except OSError as error:
        status = f"failed ({error.__class__.__name__})"
    return status, (time.monotonic() - started) * 1000


def forged_headers(n):
    msg_id, ts = f"msg_{n}", str(int(time.time()))
    mac = hmac.new(b"not-the-secret", f"{msg_id}.{ts}.".encode(), hashlib.sha256).digest()
    return (
        f"webhook-id: {msg_id}\r\nwebhook-timestamp: {ts}\r\n"
        f"webhook-signature: v1,{base64.b64encode(mac).decode()}\r\n"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("hub")
    parser.add_argument("--connections", type=int, default=1100)
    parser.add_argument("--forged", action="store_true")
    parser.add_argument("--nofile", type=int, default=1024, help="the hub's ulimit -n")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    port = free_port()
    env = dict(os.environ, OBS_HUB_BIND=f"127.0.0.1:{port}", OBS_HUB_API_TOKEN=TOKEN,
               OBS_HUB_CALLBACK_SECRET=SECRET, OBS_HUB_DATABASE="none",
               OBS_WEBSOCKET_PORT=str(free_port()), RUST_LOG="warn")
    hub = subprocess.Popen(
        ["bash", "-c", f'ulimit -n {args.nofile} && exec "$0" serve', args.hub], env=env
    )
    try:
        for _ in range(100):
            if token_request(port)[0] == "200":
                break
            time.sleep(0.1)
        idle_fds, idle_rss = hub_figures(hub.pid)
        part = b'{"scene_name": "' + b"x" * (32 * 1024)
        slow = []
        opening_started = time.monotonic()
        for n in range(args.connections):
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=2)
                head = (f"POST /api/callback/scene-change/ HTTP/1.1\r\nhost: 127.0.0.1\r\n"
                        f"content-type: application/json\r\ncontent-length: 65000\r\n"
                        f"{forged_headers(n) if args.forged else ''}\r\n")
                s.setblocking(False)
                s.send(head.encode())
                try:
                    s.send(part)
                except BlockingIOError:
                    pass
                slow.append(s)
            except OSError:
                pass
            if time.monotonic() - opening_started > 60:
                break
        time.sleep(1.0)  # let the hub take in what was sent (a measurement, not a test)
        fds, rss = hub_figures(hub.pid)
        status, latency = token_request(port)
        closed = 0
        for s in slow:
            try:
                while True:
                    data = s.recv(65536)
                    if not data:
                        closed += 1
                        break
            except (BlockingIOError, ConnectionResetError) as error:
                if isinstance(error, ConnectionResetError):
                    closed += 1
        time.sleep(6.0)  # past the body timeout (5 s) and the linger after an answer (1 s)
        later_fds, later_rss = hub_figures(hub.pid)
        kind = "forged signature headers" if args.forged else "no signature headers"
        print(f"{os.path.basename(args.hub)}: {len(slow)} slow connections ({kind})")
        print(f"  hub idle: {idle_fds} fds, {idle_rss} MiB RSS")
        print(f"  hub under load: {fds} fds, {rss} MiB RSS; {closed} slow connections closed by the hub")
        print(f"  token holder: {status} in {latency:.0f} ms")
        print(f"  6 s later: {later_fds} fds, {later_rss} MiB RSS")
        for s in slow:
            s.close()
    finally:
        hub.terminate()
        try:
            hub.wait(timeout=10)
        except subprocess.TimeoutExpired:
            hub.kill()


if __name__ == "__main__":
    sys.exit(main())
