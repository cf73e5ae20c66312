#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""One known STREAM connection over loopback (CID 1), for tests that
count its packets (selftests/suites.d/72-perf-tool.sh).

Usage: vsock_exchange.py PORT SIZE...

A listener on (ANY, PORT); a client bound to (ANY, PORT + 1) connects to
(1, PORT); the client sends one write of each SIZE bytes (each one send()
call); the accepted socket reads them all; then the client closes, the
accepted socket and the listener close. Waits 0.3 s at the end so that
nothing is still in flight when a tracer stops. Exit status 0 when every
byte arrived.

On mvsock's loopback this is, per direction of the wire: REQUEST,
RESPONSE, one RW per SIZE (SIZE <= 64 KiB and within the peer's credit),
SHUTDOWN (flags 3) from the client and RST from the drained accepted
socket; each packet is one mvsock_pkt_tx and one mvsock_pkt_rx.
"""

import socket
import sys
import time


def main():
    if len(sys.argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    port = int(sys.argv[1])
    sizes = [int(a) for a in sys.argv[2:]]
    total = sum(sizes)

    lsn = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    lsn.bind((socket.VMADDR_CID_ANY, port))
    lsn.listen(1)
    cli = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    cli.bind((socket.VMADDR_CID_ANY, port + 1))
    cli.connect((1, port))
    srv, _ = lsn.accept()
    for n in sizes:
        if cli.send(b"x" * n) != n:
            print("short send", file=sys.stderr)
            return 1
    got = 0
    while got < total:
        data = srv.recv(65536)
        if not data:
            break
        got += len(data)
    cli.close()
    srv.close()
    lsn.close()
    time.sleep(0.3)
    if got != total:
        print(f"received {got} of {total} bytes", file=sys.stderr)
        return 1
    print(f"exchange: port {port}, {len(sizes)} writes, {total} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
