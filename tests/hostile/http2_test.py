#!/usr/bin/python3
"""Hostile HTTP/2 against the gateway's gRPC listener, directly and through the nginx edge:
CONTINUATION floods, rapid reset, stream floods and live streams that never read. Frames are
written byte by byte (tests/hostile/harness.py), so nothing a client library would refuse to
send is out of reach.

Directly, the gateway must bound the damage (RSS under the stated figure, still answering, or
/readyz red at worst); through the edge its memory must barely move and legitimate calls must
keep succeeding.

Usage: http2_test.py GATEWAY SOURCE_DIR
"""
import socket
import struct
import sys
import threading
import time
import unittest

import harness
from harness import (CONTINUATION, END_HEADERS, END_STREAM, HEADERS, H2, MAX_CONCURRENT_STREAMS,
                     RST_STREAM, Edge, Gateway, frame, pb_bytes, pb_varint)

NOTICEBOARD = "/civitas.noticeboard.v1.NoticeboardService"
MIB = 1024


class PeakRss:
    """Samples a process's RSS every 10 ms while in a with-block."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, False

    def __enter__(self):
        self.base = harness.rss_kib(self.pid)
        self.peak = self.base
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self):
        while not self.stop:
            try:
                self.peak = max(self.peak, harness.rss_kib(self.pid))
            except (OSError, RuntimeError):
                return
            time.sleep(0.01)

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()

    @property
    def growth_mib(self):
        return (self.peak - self.base) / MIB


def continuation_flood(port, total_bytes, source="127.0.0.1"):
    """One HEADERS frame without END_HEADERS, then CONTINUATION frames of tiny literal headers
    ("x: y", 5 bytes each) until `total_bytes`; the block is never finished."""
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
    import hpack
    block = hpack.Encoder().encode([(":method", "POST"), (":scheme", "http"),
                                   (":path", NOTICEBOARD + "/ListNotices"),
                                   (":authority", "127.0.0.1"),
                                   ("content-type", "application/grpc")])
    sock.sendall(frame(HEADERS, 0, 1, block))
    tiny = b"\x00\x01x\x01y" * 3276  # 16,380 bytes: under the default 16 KiB frame size
    sent = 0
    try:
        while sent < total_bytes:
            sock.sendall(frame(CONTINUATION, 0, 1, tiny))
            sent += len(tiny)
    except OSError:
        pass  # the peer gave up on us: that is the point
    return sock, sent


def rapid_reset(port, count, source="127.0.0.1"):
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0))
    import hpack
    enc = hpack.Encoder()
    batch, sent = [], 0
    try:
        for i in range(count):
            s = 1 + 2 * i
            batch.append(frame(HEADERS, END_HEADERS, s, enc.encode(
                [(":method", "POST"), (":scheme", "http"), (":path", NOTICEBOARD + "/ListNotices"),
                 (":authority", "127.0.0.1"), ("content-type", "application/grpc"),
                 ("x-civitas-city", "demo")])))
            batch.append(frame(RST_STREAM, 0, s, struct.pack(">I", 8)))  # CANCEL
            if len(batch) >= 200:
                sock.sendall(b"".join(batch))
                sent += len(batch) // 2
                batch = []
        sock.sendall(b"".join(batch))
        sent += len(batch) // 2
    except OSError:
        pass
    return sock, sent


def flood_streams(h2, count):
    """Opens up to `count` WatchNotices streams; stops when the peer closes the connection."""
    streams = []
    try:
        for _ in range(count):
            streams.append(h2.start_call(NOTICEBOARD + "/WatchNotices", b""))
    except OSError:
        pass
    return streams


def watch_request(initial=0):
    return pb_varint(1, initial) if initial else b""


def create_notice_request(title, body):
    return pb_bytes(1, pb_bytes(2, title.encode()) + pb_bytes(3, body.encode()))


class DirectTest(unittest.TestCase):
    def test_server_advertises_a_stream_limit(self):
        gw = Gateway()
        try:
            with H2(gw.grpc_port) as h2:
                self.assertEqual(h2.server_settings.get(MAX_CONCURRENT_STREAMS), 100)
        finally:
            gw.stop()

    def test_silent_connections_are_closed(self):
        gw = Gateway(limits={"grpc_handshake_timeout_seconds": 2})
        try:
            socks = [socket.create_connection(("127.0.0.1", gw.grpc_port), timeout=6)
                     for _ in range(20)]
            start = time.time()
            for s in socks:
                try:
                    while s.recv(4096):  # the server's SETTINGS, then the close
                        pass
                except ConnectionResetError:
                    pass
                s.close()
            took = time.time() - start
            print(f"20 silent gRPC connections closed after {took:.1f} s", file=sys.stderr)
            self.assertLess(took, 5)
            self.assertTrue(gw.health_check())
        finally:
            gw.stop()

    def test_continuation_flood(self):
        gw = Gateway()
        try:
            with PeakRss(gw.pid) as rss:
                sock, sent = continuation_flood(gw.grpc_port, 64 << 20)
                time.sleep(0.5)
                sock.close()
            print(f"CONTINUATION flood direct: {sent >> 20} MiB sent, RSS +{rss.growth_mib:.0f} "
                  f"MiB peak", file=sys.stderr)
            self.assertTrue(gw.alive())
            self.assertTrue(gw.health_check())
            # Bounded by the gRPC memory quota (limits.grpc_memory_mb, 256 by default).
            self.assertLess(rss.growth_mib, 400)
        finally:
            gw.stop()

    def test_rapid_reset(self):
        gw = Gateway()
        try:
            with PeakRss(gw.pid) as rss:
                start = time.time()
                sock, sent = rapid_reset(gw.grpc_port, 50000)
                took = time.time() - start
                time.sleep(1)
                sock.close()
            print(f"rapid reset direct: {sent} HEADERS+RST_STREAM in {took:.1f} s, "
                  f"RSS +{rss.growth_mib:.0f} MiB peak", file=sys.stderr)
            self.assertTrue(gw.alive())
            self.assertTrue(gw.health_check())
            self.assertLess(rss.growth_mib, 512)
        finally:
            gw.stop()

    def test_stream_flood_is_capped_per_connection(self):
        gw = Gateway()
        try:
            # Within the 100 streams a connection may have: 32 may follow, the rest are refused.
            with H2(gw.grpc_port, timeout=2) as h2:
                streams = flood_streams(h2, 60)
                results = h2.collect(streams, time.time() + 2)
                exhausted = sum(1 for s in results.values() if s[0] == 8)
                self.assertEqual(gw.metric("civitas_following_streams"), 32)
                self.assertEqual(exhausted, 28)
            # Far beyond: 2,000 streams written at once on one connection.
            with PeakRss(gw.pid) as rss, H2(gw.grpc_port, timeout=2) as h2:
                streams = flood_streams(h2, 2000)
                time.sleep(0.5)
                following = gw.metric("civitas_following_streams")
                results = h2.collect(streams, time.time() + 3)
                reset = sum(1 for s in results.values() if s[1] is not None)
            print(f"stream flood direct: {len(streams)} WatchNotices written on one connection "
                  f"before it was closed; {following:.0f} following, {reset} reset; "
                  f"RSS +{rss.growth_mib:.0f} MiB", file=sys.stderr)
            self.assertLessEqual(following, 32)
            self.assertLess(rss.growth_mib, 128)
            time.sleep(0.5)
            self.assertEqual(gw.metric("civitas_following_streams"), 0)
            self.assertTrue(gw.health_check())
        finally:
            gw.stop()

    def test_watchers_that_never_read(self):
        gw = Gateway(limits={"stream_buffer_messages": 64, "max_follows_per_connection": 25})
        conns = []
        try:
            with PeakRss(gw.pid) as rss:
                # 500 watchers on 20 connections whose owners never read after the handshake.
                for _ in range(20):
                    h2 = H2(gw.grpc_port, rcvbuf=4096)
                    for _ in range(25):
                        h2.start_call(NOTICEBOARD + "/WatchNotices", watch_request())
                    conns.append(h2)
                deadline = time.time() + 5
                while time.time() < deadline and gw.metric("civitas_following_streams") < 500:
                    time.sleep(0.1)
                self.assertEqual(gw.metric("civitas_following_streams"), 500)
                # A fast writer: 300 notices of 2,000 characters (6 KB each in UTF-8).
                auth = [("authorization", "Bearer " + harness.token())]
                body = "\u20ac" * 2000
                with H2(gw.grpc_port, timeout=10) as writer:
                    ok = 0
                    for i in range(0, 300, 50):
                        ids = [writer.start_call(NOTICEBOARD + "/CreateNotice",
                                                 create_notice_request(f"n{i + k}", body), auth)
                               for k in range(50)]
                        done = writer.collect(ids, time.time() + 20)
                        ok += sum(1 for s in done.values() if s[0] == 0)
                self.assertEqual(ok, 300)
                # Every watcher fell 64 messages behind: each is ended and uncounted at once,
                # while its connection is still open.
                deadline = time.time() + 5
                while time.time() < deadline and gw.metric("civitas_following_streams") > 0:
                    time.sleep(0.1)
                following = gw.metric("civitas_following_streams")
            print(f"500 never-reading watchers, 300 notices of 6 KB: RSS +{rss.growth_mib:.0f} MiB "
                  f"peak, {following:.0f} still following", file=sys.stderr)
            self.assertEqual(following, 0)
            self.assertLess(rss.growth_mib, 256)
            self.assertTrue(gw.health_check())
        finally:
            for c in conns:
                c.close()
            gw.stop()

    def test_follows_per_city_are_capped(self):
        gw = Gateway(limits={"max_follows_per_city": 40, "max_follows_per_connection": 30})
        try:
            with H2(gw.grpc_port) as a, H2(gw.grpc_port) as b:
                sa = [a.start_call(NOTICEBOARD + "/WatchNotices", b"") for _ in range(30)]
                time.sleep(0.5)
                sb = [b.start_call(NOTICEBOARD + "/WatchNotices", b"") for _ in range(30)]
                rb = b.collect(sb, time.time() + 3)
                self.assertEqual(sum(1 for s in rb.values() if s[0] == 8), 20)
                self.assertEqual(gw.metric("civitas_following_streams"), 40)
                del sa
        finally:
            gw.stop()


class EdgeTest(unittest.TestCase):
    """The floods through nginx (deploy/nginx), from 127.0.0.2, while a legitimate client on
    127.0.0.1 keeps calling through the same edge."""

    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway()
        cls.edge = Edge(cls.gw)

    @classmethod
    def tearDownClass(cls):
        cls.edge.stop()
        cls.gw.stop()

    def legit_calls_during(self, attack):
        """Runs `attack` while a client lists notices through the edge every 50 ms; returns
        (calls, failures, gateway RSS growth in MiB)."""
        calls, failures, stop = [0], [], threading.Event()

        def client():
            while not stop.is_set():
                try:
                    with H2(self.edge.port, timeout=5) as h2:
                        status, _ = h2.unary(NOTICEBOARD + "/ListNotices", b"")
                except OSError as e:
                    status = repr(e)
                calls[0] += 1
                if status != 0:
                    failures.append(status)
                time.sleep(0.05)
        t = threading.Thread(target=client, daemon=True)
        with PeakRss(self.gw.pid) as rss:
            t.start()
            attack()
            time.sleep(0.5)
            stop.set()
            t.join()
        return calls[0], failures, rss.growth_mib

    def test_legitimate_calls_pass(self):
        with H2(self.edge.port) as h2:
            self.assertEqual(h2.unary(NOTICEBOARD + "/ListNotices", b"")[0], 0)
            self.assertLessEqual(h2.server_settings.get(MAX_CONCURRENT_STREAMS), 32)

    def test_operator_services_have_no_route(self):
        with H2(self.edge.port) as h2:
            status, _ = h2.unary("/civitas.gateway.v1.AdminService/ListModules", b"")
            self.assertEqual(status, 7)
            status, _ = h2.unary("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 b"")
            self.assertEqual(status, 12)

    def test_json_api_through_the_edge(self):
        port = self.edge.http_port
        get = (lambda path, extra=b"": harness.http_raw(port, b"GET " + path + b" HTTP/1.1\r\n"
                                                        b"Host: demo.example\r\n" + extra + b"\r\n"))
        status, headers, body = get(b"/v1/articles?page_size=1")
        self.assertEqual(status, 200, body)
        self.assertEqual(headers.get("x-content-type-options"), "nosniff")
        self.assertEqual(harness.http_raw(port, b"GET /cities/demo/v1/articles HTTP/1.1\r\n"
                                          b"Host: elsewhere\r\n\r\n")[0], 200)
        self.assertEqual(get(b"/metrics")[0], 404)
        self.assertEqual(get(b"/civitas.gateway.v1.AdminService/ListCities")[0], 404)
        # Oversized headers stop at nginx; smuggling shapes never reach the gateway as such.
        self.assertEqual(get(b"/v1/articles", b"cookie: " + b"c" * 20000 + b"\r\n")[0], 400)
        r = harness.http_raw(port, b"POST /v1/articles HTTP/1.1\r\nHost: demo.example\r\n"
                             b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n")
        self.assertIn(r[0], (400, 501))
        # Slow bodies are held by nginx (request buffering), not by the gateway.
        slow = []
        for _ in range(50):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"POST /v1/articles HTTP/1.1\r\nHost: demo.example\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
            slow.append(s)
        time.sleep(0.5)
        held = self.gw.metric('civitas_http_connections{listener="api"}')
        for s in slow:
            s.close()
        print(f"JSON API via edge: 50 slow 1 MB bodies held by nginx; gateway HTTP connections "
              f"{held:.0f}", file=sys.stderr)
        self.assertLessEqual(held, 16)

    def test_continuation_flood_through_the_edge(self):
        def attack():
            with PeakRss(self.edge.proc.pid) as nginx:
                sock, self.sent = continuation_flood(self.edge.port, 64 << 20, source="127.0.0.2")
                sock.settimeout(2)
                try:
                    self.answer = sock.recv(65536)
                except OSError:
                    self.answer = b""
                sock.close()
            self.nginx_growth = nginx.growth_mib
        calls, failures, growth = self.legit_calls_during(attack)
        print(f"CONTINUATION flood via edge: {self.sent >> 20} MiB sent; nginx answered 400 and "
              f"discarded the rest, nginx RSS +{self.nginx_growth:.1f} MiB; gateway RSS "
              f"+{growth:.1f} MiB; {calls} legitimate calls, {len(failures)} failed",
              file=sys.stderr)
        self.assertIn(b"400 Request Header Or Cookie Too Large", self.answer)
        self.assertLess(self.nginx_growth, 16)
        self.assertEqual(failures, [])
        self.assertLess(growth, 16)

    def test_rapid_reset_through_the_edge(self):
        def attack():
            sock, self.sent = rapid_reset(self.edge.port, 50000, source="127.0.0.2")
            time.sleep(1)
            sock.close()
        calls, failures, growth = self.legit_calls_during(attack)
        print(f"rapid reset via edge: {self.sent} HEADERS+RST_STREAM written; gateway RSS "
              f"+{growth:.1f} MiB; {calls} legitimate calls, {len(failures)} failed",
              file=sys.stderr)
        self.assertEqual(failures, [])
        self.assertLess(growth, 32)

    def test_stream_flood_through_the_edge(self):
        def attack():
            with H2(self.edge.port, timeout=2, source="127.0.0.2") as h2:
                streams = flood_streams(h2, 2000)
                time.sleep(0.5)
                self.following = self.gw.metric("civitas_following_streams")
                self.results = h2.collect(streams, time.time() + 3)
        calls, failures, growth = self.legit_calls_during(attack)
        limited = sum(1 for s in self.results.values() if s[0] == 8 or s[1] is not None)
        print(f"stream flood via edge: 2000 WatchNotices, {self.following:.0f} reached the "
              f"gateway, {limited} limited or reset; gateway RSS +{growth:.1f} MiB; {calls} "
              f"legitimate calls, {len(failures)} failed", file=sys.stderr)
        self.assertLessEqual(self.following, 64)
        self.assertEqual(failures, [])
        self.assertLess(growth, 32)


if __name__ == "__main__":
    harness.set_paths(sys.argv[1], sys.argv[2])
    result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    sys.exit(0 if result.wasSuccessful() else 1)
