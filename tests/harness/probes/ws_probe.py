"""Open a websocket to the API through Caddy (TLS verified against Caddy's CA), send one text
frame and print what comes back. Exit status 0 only for a 101 upgrade and an echoed frame."""

import base64
import os
import socket
import ssl
import sys

host, address, ca_file = sys.argv[1], sys.argv[2], sys.argv[3]
context = ssl.create_default_context(cafile=ca_file)
with socket.create_connection((address, 443), timeout=10) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
    key = base64.b64encode(os.urandom(16)).decode()
    tls.sendall(
        (
            f"GET /api/sync HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += tls.recv(1)
    status = head.split(b"\r\n")[0].decode()
    print(status)
    if " 101 " not in status + " ":
        sys.exit(1)
    mask = os.urandom(4)
    payload = b"ping"
    tls.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    frame = tls.recv(2)
    echoed = tls.recv(frame[1] & 0x7F).decode()
    print(echoed)
    sys.exit(0 if echoed == "echo:ping" else 1)
