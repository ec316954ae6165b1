#!/usr/bin/env python3
"""Gateway memory and a bystander's latency under two attacks (issue figures).

Against a running `parley up` (HTTP on --url), with the server's pid:

1. sinks: N connections of one account that stop reading (small receive
   buffers), in a group where a sender posts --messages texts of --bytes
   each; every message is queued for every sink.
2. oversized: one connection pipelines --requests history requests of a
   conversation of long messages and never reads the replies.

During each, a bystander on its own connection pings every 20 ms; the report
gives its ping p50/p99/max, the server's RSS before and at its peak (sampled
every 50 ms from /proc), and whether the sinks were cut. Bounded: every loop
has a count and a deadline. Standard library only (a minimal RFC 6455 client).

  python3 loadtest/scripts/hostile-sinks.py --url http://127.0.0.1:18095 --pid $P
"""

import argparse
import base64
import json
import os
import socket
import struct
import threading
import time
import urllib.request

PASSWORD = "hostile-sinks-password"


def http(url, path, body):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    for _ in range(50):  # sign-ins from one address are told to wait (429)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            if e.code == 409:
                return {}
            if e.code != 429:
                raise
            time.sleep(1.0)
    raise RuntimeError("still rate limited")


def tokens(url, name):
    http(url, "/v1/auth/register", {"username": name, "password": PASSWORD})
    return http(url, "/v1/auth/login", {"username": name, "password": PASSWORD,
                                        "deviceName": "hostile"})


class Ws:
    def __init__(self, url, token, rcvbuf=None):
        host, port = url.split("//")[1].split(":")
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(30)
        self.sock.connect((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            f"GET /v1/ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: parley.v1.json\r\n\r\n"
        ).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError(head.decode(errors="replace"))
        self.buf = b""
        self.send({"id": "auth", "authenticate": {"accessToken": token}})
        self.reply("auth")

    def send(self, obj):
        data = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x81])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack(">Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def frame(self):
        b0, b1 = self._read(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self._read(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self._read(8))[0]
        payload = self._read(n)
        if b0 & 0x0F == 8:
            raise ConnectionError("close frame")
        return json.loads(payload) if b0 & 0x0F == 1 else None

    def reply(self, rid):
        deadline = time.time() + 30
        while time.time() < deadline:
            f = self.frame()
            if f and f.get("id") == rid:
                return f
        raise TimeoutError(rid)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bystander(url, tok, stop, rtts):
    ws = Ws(url, tok["accessToken"])
    i = 0
    while not stop.is_set() and i < 100_000:
        i += 1
        t = time.perf_counter()
        ws.send({"id": f"p{i}", "ping": {"nonce": str(i)}})
        ws.reply(f"p{i}")
        rtts.append((time.perf_counter() - t) * 1000)
        time.sleep(0.02)


def sampler(pid, stop, peak):
    while not stop.is_set():
        peak[0] = max(peak[0], rss_kb(pid))
        time.sleep(0.05)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def attack(name, url, pid, by_tok, run):
    stop, rtts, peak = threading.Event(), [], [rss_kb(pid)]
    before = peak[0]
    threads = [threading.Thread(target=bystander, args=(url, by_tok, stop, rtts)),
               threading.Thread(target=sampler, args=(pid, stop, peak))]
    for t in threads:
        t.start()
    started = time.time()
    detail = run()
    time.sleep(2)  # let queued work drain into (or out of) the gateway
    stop.set()
    for t in threads:
        t.join(timeout=35)
    print(json.dumps({
        "attack": name, "seconds": round(time.time() - started, 1),
        "rss_before_mib": round(before / 1024, 1), "rss_peak_mib": round(peak[0] / 1024, 1),
        "rss_after_mib": round(rss_kb(pid) / 1024, 1),
        "bystander_pings": len(rtts), "ping_p50_ms": round(pct(rtts, 0.5), 2),
        "ping_p99_ms": round(pct(rtts, 0.99), 2), "ping_max_ms": round(max(rtts or [0]), 2),
        **detail,
    }))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--sinks", type=int, default=16)
    ap.add_argument("--messages", type=int, default=1500)
    ap.add_argument("--bytes", type=int, default=15 * 1024)
    ap.add_argument("--requests", type=int, default=400)
    a = ap.parse_args()
    suffix = str(int(time.time()))
    alice, sink, by = (tokens(a.url, f"{n}{suffix}") for n in ("alice", "sink", "by"))
    sender = Ws(a.url, alice["accessToken"])

    def sinks():
        conns = [Ws(a.url, sink["accessToken"], rcvbuf=4096) for _ in range(a.sinks)]
        sender.send({"id": "g", "createGroup": {"title": "firehose",
                                                "memberIds": [sink["userId"], by["userId"]]}})
        conv = sender.reply("g")["conversation"]["id"]
        text = "z" * a.bytes
        for i in range(a.messages):
            sender.send({"id": f"m{i}", "send": {"conversationId": conv, "clientMsgId": f"m{i}",
                                                 "message": {"text": text}}})
            sender.reply(f"m{i}")
        cut = 0
        for c in conns:
            # Read what was queued for it: a connection the server cut ends
            # (close frame, then EOF); one still served stays open.
            c.sock.settimeout(2)
            try:
                for _ in range(10_000):
                    if not c.sock.recv(1 << 20):
                        cut += 1
                        break
            except socket.timeout:
                pass
            except OSError:
                cut += 1
            c.sock.close()
        return {"sinks": a.sinks, "messages": a.messages, "bytes": a.bytes, "sinks_cut": cut}

    def oversized():
        sender.send({"id": "d", "createDirect": {"userId": by["userId"]}})
        conv = sender.reply("d")["conversation"]["id"]
        text = "y" * (16 * 1024)
        for i in range(40):
            sender.send({"id": f"l{i}", "send": {"conversationId": conv, "clientMsgId": f"l{i}",
                                                 "message": {"text": text}}})
            sender.reply(f"l{i}")
        greedy = Ws(a.url, alice["accessToken"], rcvbuf=4096)
        for i in range(a.requests):
            greedy.send({"id": f"h{i}", "history": {"conversationId": conv, "fromSeq": "1",
                                                    "limit": 500}})
        time.sleep(3)
        greedy.sock.close()
        return {"pipelined_history_requests": a.requests}

    attack("non-reading sinks", a.url, a.pid, by, sinks)
    attack("oversized replies, never read", a.url, a.pid, by, oversized)


if __name__ == "__main__":
    main()
