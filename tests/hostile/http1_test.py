#!/usr/bin/python3
"""Hostile HTTP/1.1 against the gateway's own HTTP listener: oversized URLs and headers,
request-smuggling shapes, invalid UTF-8, slow bodies, connection floods and descriptor
exhaustion. Each answer must be the right status with a valid JSON body, and the gateway must
keep serving (or, at worst, say on /readyz that it does not).

Usage: http1_test.py GATEWAY SOURCE_DIR
"""
import json
import socket
import sys
import time
import unittest

import harness
from harness import Gateway, http_raw


def get(path, extra=b""):
    return b"GET " + path + b" HTTP/1.1\r\nHost: demo.localhost\r\n" + extra + b"\r\n"


class HttpCorrectnessTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()

    def answer(self, data):
        r = http_raw(self.gw.http_port, data)
        self.assertIsNotNone(r, "no answer (connection closed or reset)")
        return r

    def assertJsonError(self, r, status):
        code, headers, body = r
        self.assertEqual(code, status, body)
        self.assertEqual(headers.get("x-content-type-options"), "nosniff")
        self.assertTrue(headers["content-type"].startswith("application/json"), headers)
        parsed = json.loads(body.decode("utf-8", errors="strict"))
        self.assertEqual(parsed["error"]["code"], status)
        return parsed["error"]["message"]

    def test_a_too_long_url_gets_414(self):
        message = self.assertJsonError(self.answer(get(b"/v1/articles?q=" + b"a" * 6000)), 414)
        self.assertIn("4096", message)
        # A URL far beyond any buffer still gets its answer, not a reset.
        self.assertJsonError(self.answer(get(b"/" + b"b" * 100000)), 414)

    def test_too_large_headers_get_431(self):
        many = b"".join(b"x-filler-%d: %s\r\n" % (i, b"v" * 100) for i in range(100))
        self.assertJsonError(self.answer(get(b"/healthz", many)), 431)
        one_big = b"cookie: " + b"c" * 20000 + b"\r\n"
        self.assertJsonError(self.answer(get(b"/healthz", one_big)), 431)
        # Just under the limit is fine.
        r = self.answer(get(b"/healthz", b"x-filler: " + b"v" * 7000 + b"\r\n"))
        self.assertEqual(r[0], 200)

    def test_transfer_encodings_other_than_chunked_get_400(self):
        post = (b"POST /v1/articles HTTP/1.1\r\nHost: demo.localhost\r\n"
                b"Content-Type: application/json\r\n")
        for te in [b"Transfer-Encoding: chunked, identity\r\n",
                   b"Transfer-Encoding: xchunked\r\n",
                   b"Transfer-Encoding: identity\r\n",
                   b"Transfer-Encoding: gzip, chunked\r\n",
                   b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n",
                   b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
                   b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"]:
            with self.subTest(te=te):
                r = self.answer(post + te + b"\r\n0\r\n\r\n")
                self.assertJsonError(r, 400)
                self.assertEqual(r[1].get("connection"), "close")
        # Two different lengths, or one that is not a number.
        for cl in [b"Content-Length: 2\r\nContent-Length: 3\r\n", b"Content-Length: 1x\r\n"]:
            with self.subTest(cl=cl):
                self.assertJsonError(self.answer(post + cl + b"\r\n{}x"), 400)
        # HTTP/1.0 has no chunked encoding.
        self.assertJsonError(self.answer(
            b"POST /v1/articles HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"), 400)

    def test_plain_chunked_is_read_as_a_body(self):
        body = b'{"title": "x"}'
        r = self.answer(b"POST /v1/articles HTTP/1.1\r\nHost: demo.localhost\r\n"
                        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
                        b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        # Read and routed: no token, so the module's role check answers.
        self.assertJsonError(r, 401)

    def test_error_bodies_are_valid_utf8_json(self):
        # Raw bytes that are no UTF-8 in the path, in the city and percent-encoded.
        message = self.assertJsonError(self.answer(get(b"/v1/\xff\xfe\xc0\xafx")), 404)
        self.assertIn("\ufffd", message)
        self.assertJsonError(self.answer(
            b"GET /v1/articles HTTP/1.1\r\nHost: x\r\nx-civitas-city: \xff\xed\xa0\x80\r\n\r\n"),
            404)
        message = self.assertJsonError(self.answer(get(b"/v1/articles/%ff%fe")), 400)
        self.assertIn("not valid UTF-8", message)
        self.assertJsonError(self.answer(get(b"/v1/articles?language_code=%ff")), 400)

    def test_every_answer_says_nosniff(self):
        for path in [b"/healthz", b"/readyz", b"/v1/articles", b"/nothing-here"]:
            with self.subTest(path=path):
                r = self.answer(get(path))
                self.assertEqual(r[1].get("x-content-type-options"), "nosniff", r)
        r = http_raw(self.gw.metrics_port, get(b"/metrics"))
        self.assertEqual(r[0], 200)
        self.assertEqual(r[1].get("x-content-type-options"), "nosniff")

    def test_metrics_are_not_on_the_api_port(self):
        self.assertEqual(self.answer(get(b"/metrics"))[0], 404)
        r = http_raw(self.gw.metrics_port, get(b"/metrics"))
        self.assertEqual(r[0], 200)
        self.assertIn(b"civitas_http_rejected_requests_total", r[2])


class SlowAndManyTest(unittest.TestCase):
    def test_slow_bodies_are_bounded_in_memory_and_time(self):
        gw = Gateway(limits={"http_body_buffer_mb": 16, "http_body_timeout_seconds": 2,
                             "http_header_timeout_seconds": 2})
        try:
            before = gw.rss_kib()
            held, refused = [], 0
            # 40 connections each announce a 4 MiB body and send a little of it.
            for _ in range(40):
                s = socket.create_connection(("127.0.0.1", gw.http_port), timeout=5)
                s.sendall(b"POST /v1/articles HTTP/1.1\r\nHost: demo.localhost\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 4194304\r\n\r\n{")
                held.append(s)
            time.sleep(0.3)
            for s in held:
                s.settimeout(0.05)
                try:
                    if s.recv(4096).startswith(b"HTTP/1.1 503"):
                        refused += 1
                except OSError:
                    pass
            # 16 MiB hold three 4 MiB bodies and a bit; the rest are turned away at once.
            self.assertGreaterEqual(refused, 36)
            # The ones that were let in are cut off after the body timeout, with 408.
            time.sleep(2.5)
            timed_out = 0
            for s in held:
                s.settimeout(1)
                try:
                    if s.recv(4096).startswith(b"HTTP/1.1 408"):
                        timed_out += 1
                except OSError:
                    pass
                s.close()
            self.assertGreaterEqual(timed_out, 1)
            self.assertLess(gw.rss_kib() - before, 64 * 1024)
            self.assertEqual(gw.get("/healthz")[0], 200)
            # A silent connection is closed after the header timeout.
            s = socket.create_connection(("127.0.0.1", gw.http_port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\n")
            start = time.time()
            self.assertEqual(s.recv(4096), b"")
            self.assertLess(time.time() - start, 4)
            s.close()
        finally:
            gw.stop()

    def test_descriptor_exhaustion_keeps_grpc_accepting(self):
        harness.raise_own_fd_limit()
        # 256 descriptors: the HTTP listener may hold at most 64 connections.
        gw = Gateway(nofile=256)
        conns = []
        try:
            self.assertTrue(gw.health_check())
            for _ in range(400):
                try:
                    conns.append(socket.create_connection(("127.0.0.1", gw.http_port), timeout=2))
                except OSError:
                    break
            time.sleep(0.5)
            # The excess were accepted and closed (503); gRPC still takes new connections.
            cpu_before = harness.cpu_seconds(gw.pid)
            time.sleep(2)
            busy = harness.cpu_seconds(gw.pid) - cpu_before
            self.assertLess(busy, 0.4, "the gateway is spinning while the flood holds")
            self.assertTrue(gw.health_check(), "gRPC does not answer during an HTTP flood")
            self.assertEqual(gw.readyz(), 200)
            refused = gw.metric("civitas_http_refused_connections_total")
            self.assertGreaterEqual(refused, 300)
            self.assertEqual(gw.metric('civitas_http_connections{listener="api"}'), 64)
            print(f"HTTP flood under RLIMIT_NOFILE 256: 400 connections, {refused:.0f} refused, "
                  f"gateway CPU {busy / 2 * 100:.0f}% of a core", file=sys.stderr)
            for c in conns:
                c.close()
            conns = []
            time.sleep(0.3)
            self.assertEqual(gw.get("/healthz")[0], 200)

            # Now idle gRPC connections until the descriptors run out: gRPC 1.51 stops accepting
            # for good after one EMFILE; /readyz must say so instead of answering 200.
            for _ in range(300):
                try:
                    conns.append(socket.create_connection(("127.0.0.1", gw.grpc_port), timeout=2))
                except OSError:
                    break
            time.sleep(1)
            for c in conns:
                c.close()
            conns = []
            time.sleep(0.5)
            self.assertEqual(gw.get("/healthz")[0], 200)
            if gw.health_check():
                self.assertEqual(gw.readyz(), 200)  # the listener survived
                print("gRPC listener survived descriptor exhaustion", file=sys.stderr)
            else:
                deadline = time.time() + 5
                while time.time() < deadline and gw.readyz() != 503:
                    time.sleep(0.2)
                self.assertEqual(gw.readyz(), 503)
                r = gw.get("/readyz", gw.metrics_port)
                self.assertIn(b"gRPC listener", r[1])
                print("gRPC listener died on EMFILE; /readyz turned 503", file=sys.stderr)
        finally:
            for c in conns:
                c.close()
            gw.stop()


if __name__ == "__main__":
    harness.set_paths(sys.argv[1], sys.argv[2])
    result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    sys.exit(0 if result.wasSuccessful() else 1)
