#!/usr/bin/python3
"""Live updates over HTTP: server-streaming methods as Server-Sent Events, read from a raw socket
the way an EventSource reads them. The happy path (an article published while the stream is open
arrives as an event), refusals answered as plain JSON errors (no Accept header, a bad token, an
unknown report), a client that goes away is let go, the live-stream limit per client address,
and a reader that stops reading is ended by the gateway while its connection is still open.

Usage: event_stream_test.py GATEWAY CIVITASCTL MODULE_DIR
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

GATEWAY, CTL, MODULES = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])


class Gateway:
    def __init__(self, config=None):
        self.dir = tempfile.TemporaryDirectory()
        port_file = os.path.join(self.dir.name, "port")
        args = [GATEWAY, f"--data_dir={self.dir.name}/state", "--listen=127.0.0.1:0",
                "--http_listen=127.0.0.1:0", "--metrics_listen=127.0.0.1:0",
                f"--port_file={port_file}"]
        if config:
            path = os.path.join(self.dir.name, "gateway.yaml")
            with open(path, "w") as f:
                f.write(config.replace("{dir}", self.dir.name).replace("{modules}", MODULES))
            args.append(f"--config={path}")
        self.log = open(os.path.join(self.dir.name, "log"), "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(1000):
            if os.path.exists(port_file) and len(open(port_file).read().split()) >= 3:
                break
            if self.proc.poll() is not None:
                raise RuntimeError(open(os.path.join(self.dir.name, "log")).read())
            time.sleep(0.02)
        _, self.http_port, self.metrics_port = open(port_file).read().split()[:3]
        self.base = f"http://127.0.0.1:{self.http_port}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()
        self.dir.cleanup()

    def following_streams(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics") as r:
            m = re.search(rb"^civitas_following_streams (\d+)", r.read(), re.M)
            return int(m.group(1))

    def wait_following(self, n, seconds=10):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.following_streams() == n:
                return True
            time.sleep(0.05)
        return False


def token(signing_key, subject, role):
    return subprocess.check_output(
        [CTL, "token", "mint", "--city", "demo", "--subject", subject, "--role", role,
         "--signing-key", signing_key], text=True).strip()


def call(gw, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(gw.base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class EventStream:
    """One SSE request on a socket of its own; reads what has arrived when asked to."""

    def __init__(self, gw, path, headers=None, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", int(gw.http_port)))
        lines = [f"GET {path} HTTP/1.1", "Host: demo.localhost", "Accept: text/event-stream"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.data = b""

    def read_until(self, needle, seconds=10):
        self.sock.settimeout(0.2)
        deadline = time.time() + seconds
        while needle.encode() not in self.data and time.time() < deadline:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            self.data += chunk
        return needle.encode() in self.data

    def head(self):
        self.read_until("\r\n\r\n")
        head = self.data.split(b"\r\n\r\n", 1)[0].decode()
        return int(head.split()[1]), head

    def body(self):
        return self.data.split(b"\r\n\r\n", 1)[1].decode(errors="replace")

    def close(self):
        self.sock.close()


class EventStreamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway()  # the embedded demo
        cls.key = f"{cls.gw.dir.name}/state/dev-signing-key.pem"
        cls.editor = {"authorization": "Bearer " + token(cls.key, "presse", "editor"),
                      "Content-Type": "application/json"}

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()

    def test_a_published_article_arrives_as_an_event(self):
        stream = EventStream(self.gw, "/v1/articles:watch")
        status, head = stream.head()
        self.assertEqual(status, 200, head)
        self.assertIn("Content-Type: text/event-stream", head)
        self.assertIn("Cache-Control: no-store", head)
        self.assertTrue(stream.read_until("retry: 5000\n\n"), stream.data)
        self.assertTrue(self.gw.wait_following(1))
        status, _, created = call(self.gw, "POST", "/v1/articles",
                                  {"title": "Live aus dem Rathaus", "state": "PUBLISHED"},
                                  self.editor)
        self.assertEqual(status, 200, created)
        self.assertTrue(stream.read_until("Live aus dem Rathaus"), stream.data)
        event = next(line for line in stream.body().split("\n")
                     if line.startswith("data: ") and "Live aus dem Rathaus" in line)
        change = json.loads(event[len("data: "):])
        self.assertEqual(change["type"], "PUBLISHED")
        self.assertEqual(change["article"]["name"], json.loads(created)["name"])
        stream.close()
        # The client went away: the gateway lets the stream go.
        self.assertTrue(self.gw.wait_following(0), "the closed stream is still followed")

    def events(self, stream):
        """The (id, message) of every data event read so far."""
        out = []
        for block in stream.body().split("\n\n"):
            lines = block.split("\n")
            data = [l[len("data: "):] for l in lines if l.startswith("data: ")]
            ids = [l[len("id: "):] for l in lines if l.startswith("id: ")]
            if data and not any(l.startswith("event: ") for l in lines):
                out.append((ids[0] if ids else None, json.loads(data[0])))
        return out

    def test_a_reconnecting_client_resumes_after_its_last_event(self):
        def publish(title):
            status, _, created = call(self.gw, "POST", "/v1/articles",
                                      {"title": title, "state": "PUBLISHED"}, self.editor)
            self.assertEqual(status, 200, created)
            return json.loads(created)["name"]

        stream = EventStream(self.gw, "/v1/articles:watch")
        self.assertEqual(stream.head()[0], 200)
        self.assertTrue(stream.read_until("retry: 5000\n\n"), stream.data)
        self.assertTrue(self.gw.wait_following(1))
        first = publish("Vor der Funkstille")
        self.assertTrue(stream.read_until("Vor der Funkstille"), stream.data)
        [(last_id, change)] = [e for e in self.events(stream) if e[1]["article"]["name"] == first]
        self.assertTrue(last_id, "a resumable stream's events carry an id")
        self.assertEqual(change["resumeToken"], last_id)
        stream.close()
        self.assertTrue(self.gw.wait_following(0))

        # Offline: two articles are published and the first one is deleted.
        missed = [publish("Verpasst eins"), publish("Verpasst zwei")]
        status, _, body = call(self.gw, "DELETE", "/v1/" + first, None, self.editor)
        self.assertEqual(status, 200, body)

        # EventSource reconnects with Last-Event-ID: first what it missed, then live changes.
        stream = EventStream(self.gw, "/v1/articles:watch", {"Last-Event-ID": last_id})
        self.assertEqual(stream.head()[0], 200)
        self.assertTrue(stream.read_until("Verpasst zwei"), stream.data)
        self.assertTrue(self.gw.wait_following(1))
        live = publish("Wieder online")
        self.assertTrue(stream.read_until("Wieder online"), stream.data)
        got = self.events(stream)
        names = [c["article"]["name"] for _, c in got]
        for name in missed + [live]:
            self.assertIn(name, names)
        removed = [c for _, c in got if c["article"]["name"] == first]
        self.assertEqual([c["type"] for c in removed], ["REMOVED"], got)
        # In order: the catch-up before what was published after it.
        self.assertLess(max(names.index(n) for n in missed), names.index(live))
        self.assertTrue(all(i for i, _ in got), "every event has an id")
        stream.close()
        self.assertTrue(self.gw.wait_following(0))

        # A Last-Event-ID this city never issued: a JSON error naming the reason.
        stream = EventStream(self.gw, "/v1/articles:watch", {"Last-Event-ID": "not-a-token"})
        status, head = stream.head()
        self.assertEqual(status, 400, head)
        self.assertTrue(stream.read_until("SYNC_TOKEN_INVALID"), stream.data)
        stream.close()

    def test_a_finite_stream_ends_with_an_end_event(self):
        # The gateway's own CreateBackup: its progress as events, then "end".
        admin = token(self.key, "it", "admin")
        sock = socket.create_connection(("127.0.0.1", int(self.gw.http_port)), timeout=10)
        body = b"{}"
        sock.sendall(b"POST /v1/cities/demo/backups HTTP/1.1\r\nHost: x\r\n"
                     b"Accept: text/event-stream\r\nContent-Type: application/json\r\n"
                     b"Authorization: Bearer " + admin.encode() +
                     b"\r\nContent-Length: 2\r\n\r\n" + body)
        stream = EventStream.__new__(EventStream)
        stream.sock, stream.data = sock, b""
        status, head = stream.head()
        self.assertEqual(status, 200, head)
        self.assertTrue(stream.read_until("event: end\ndata: {}\n\n", seconds=30), stream.data)
        progress = [json.loads(line[len("data: "):]) for line in stream.body().split("\n")
                    if line.startswith("data: {\"")]
        self.assertTrue(progress, stream.body())
        sock.close()

    def test_a_stream_that_starts_with_a_snapshot(self):
        # The notice board's stream sends the newest notices first: the head goes out with the
        # first of them, without the wait for a refusal.
        started = time.time()
        stream = EventStream(self.gw, "/v1/notices:watch?initial_count=2")
        status, head = stream.head()
        self.assertEqual(status, 200, head)
        self.assertLess(time.time() - started, 0.9)
        self.assertTrue(stream.read_until("\n\ndata: ", seconds=5), stream.data)
        stream.read_until("zz", seconds=0.5)
        notices = [json.loads(line[len("data: "):]) for line in stream.body().split("\n")
                   if line.startswith("data: ")]
        self.assertEqual(len(notices), 2, stream.body())
        self.assertTrue(all(n["name"].startswith("notices/") for n in notices), notices)
        stream.close()

    def test_refusals_are_plain_json_errors(self):
        status, _, body = call(self.gw, "GET", "/v1/articles:watch")
        self.assertEqual(status, 400, body)
        self.assertEqual(json.loads(body)["error"]["details"][0]["reason"], "EVENT_STREAM_REQUIRED")

        stream = EventStream(self.gw, "/v1/articles:watch", {"Authorization": "Bearer x.y.z"})
        status, head = stream.head()
        self.assertEqual(status, 401, head)
        self.assertIn("application/json", head)
        stream.read_until("}}")
        self.assertEqual(json.loads(stream.body())["error"]["details"][0]["reason"],
                         "TOKEN_INVALID")
        stream.close()

        stream = EventStream(self.gw, "/v1/reports/00000000000000ff:watch")
        status, head = stream.head()
        self.assertEqual(status, 404, head)
        stream.close()

    def test_limits_and_a_slow_reader(self):
        config = f"""
data_dir: {{dir}}/data
module_dir: {{modules}}
auth:
  jwks_file: {self.gw.dir.name}/state/dev-jwks.json
limits:
  max_follows_per_address: 2
  stream_buffer_messages: 8
cities:
  - id: demo
    modules:
      - id: civitas.news
"""
        gw = Gateway(config)
        try:
            # Two live streams from this address are allowed, a third is refused as gRPC's is.
            first, second = EventStream(gw, "/v1/articles:watch"), EventStream(gw, "/v1/articles:watch")
            self.assertEqual(first.head()[0], 200)
            self.assertEqual(second.head()[0], 200)
            self.assertTrue(gw.wait_following(2))
            third = EventStream(gw, "/v1/articles:watch")
            status, head = third.head()
            self.assertEqual(status, 429, head)
            third.read_until("}}")
            info = json.loads(third.body())["error"]["details"][0]
            self.assertEqual(info["reason"], "STREAM_LIMIT")
            self.assertEqual(info["metadata"]["limit"], "max_follows_per_address")
            for s in (first, second, third):
                s.close()
            self.assertTrue(gw.wait_following(0))

            # A reader that stops reading: the gateway ends its stream (and stops holding its
            # messages) although the connection stays open.
            slow = EventStream(gw, "/v1/articles:watch", rcvbuf=4096)
            self.assertTrue(gw.wait_following(1))
            teaser = "Neuigkeiten aus dem Rathaus. " * 60
            published = 0
            while gw.following_streams() == 1 and published < 800:
                status, _, body = call(gw, "POST", "/v1/articles",
                                       {"title": f"Meldung {published}", "body": teaser,
                                        "state": "PUBLISHED"}, self.editor)
                self.assertEqual(status, 200, body)
                published += 1
            self.assertEqual(gw.following_streams(), 0,
                             f"still following after {published} articles")
            # Reading now, the client finds fewer events than were published, then the end.
            self.assertTrue(slow.read_until("event: error", seconds=20), slow.data[-500:])
            events = slow.body().count("\ndata: {\"type\"") + slow.body().startswith("data: {")
            self.assertLess(events, published)
            error = slow.body().split("event: error\ndata: ", 1)[1].split("\n", 1)[0]
            # RESOURCE_EXHAUSTED (STREAM_FELL_BEHIND) if the gateway could still finish the call;
            # CANCELLED when it had to cancel the write the client never took.
            self.assertIn(json.loads(error)["error"]["status"], ("RESOURCE_EXHAUSTED", "CANCELLED"),
                          error)
            slow.close()
        finally:
            gw.stop()


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0], "-v"])
