#!/usr/bin/env python3
"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one GET on each
and reads its response, then holds them all idle until stdin closes.
Prints "ready N" once every connection is idle (used by scripts/bench to
measure a proxy's RSS with many idle clients)."""
import resource, socket, sys

port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
req = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
conns = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(req)
    data = b""
    # Read one response: the head, then Content-Length bytes of body.
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            sys.exit(f"connection {i} closed")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        body += s.recv(65536)
    conns.append(s)
print(f"ready {len(conns)}", flush=True)
sys.stdin.read()
