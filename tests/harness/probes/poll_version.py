"""Poll https://<host>/version through Caddy until a stop file appears (or a time limit), and
write what a client saw as JSON: requests sent and failed, versions answered, worst latency, and
the longest time from one good answer to the next (a downtime, as a client sees it). Each request
is a new TLS connection to <address>:<port> (443 unless given) with <host> as SNI and Host,
verified against Caddy's CA, as a browser reconnecting would be."""

import json
import os
import socket
import ssl
import sys
import time

host, address, ca_file, stop_file, out_file = sys.argv[1:6]
limit = float(sys.argv[6]) if len(sys.argv) > 6 else 300.0
port = int(sys.argv[7]) if len(sys.argv) > 7 else 443
context = ssl.create_default_context(cafile=ca_file)


def get_version():
    with (
        socket.create_connection((address, port), timeout=60) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        tls.sendall(f"GET /version HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := tls.recv(65536):
            data += chunk
    head, _separator, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode().strip()


seen = {"sent": 0, "failed": 0, "versions": {}, "worst_latency_ms": 0.0, "longest_gap_ms": 0.0, "errors": []}
started = time.monotonic()
last_good = None
while not os.path.exists(stop_file) and time.monotonic() - started < limit:
    began = time.monotonic()
    seen["sent"] += 1
    try:
        status, body = get_version()
        if status != 200:
            raise RuntimeError(f"HTTP {status}: {body[:80]}")
        seen["versions"][body] = seen["versions"].get(body, 0) + 1
        answered = time.monotonic()
        if last_good is not None:
            seen["longest_gap_ms"] = round(max(seen["longest_gap_ms"], (answered - last_good) * 1000), 1)
        last_good = answered
    except Exception as error:  # noqa: BLE001 - every failure counts, whatever its kind
        seen["failed"] += 1
        seen["errors"].append(str(error)[:200])
    seen["worst_latency_ms"] = round(max(seen["worst_latency_ms"], (time.monotonic() - began) * 1000), 1)
    time.sleep(0.05)
seen["errors"] = seen["errors"][:10]
with open(out_file, "w") as handle:
    json.dump(seen, handle)
