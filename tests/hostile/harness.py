"""Shared parts of the hostile-network tests: the real gateway (and real nginx) on loopback, a
raw HTTP/1.1 client on plain sockets, a raw HTTP/2 client that writes frames byte by byte (so it
can send what no polite client library would), and the gateway's memory from /proc.

Every flood here is bounded in count and time and goes to 127.0.0.1 only.
"""
import base64
import hashlib
import hmac
import json
import os
import resource
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request

import hpack

GATEWAY = None  # set by the test runner from argv
SOURCE_DIR = None


def set_paths(gateway, source_dir):
    global GATEWAY, SOURCE_DIR
    GATEWAY, SOURCE_DIR = gateway, source_dir


SECRET = b"hostile-network-test-secret-0123456789abcdef0123456789"


def token(subject="tester", roles=("editor",), city="demo"):
    """An HS256 token the test gateway (allow_hs256) accepts."""
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": subject, "iat": now, "exp": now + 3600,
                             "civitas_roles": {city: list(roles)}}).encode())
    sig = hmac.new(SECRET, f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(sig)}"


def read(path):
    with open(path) as f:
        return f.read()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_own_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Gateway:
    """civitas-gateway from a config file: city "demo" with the noticeboard and news modules,
    HS256 tokens, the given `limits:`; optionally under a descriptor limit."""

    def __init__(self, limits=None, nofile=None):
        self.dir = tempfile.mkdtemp(prefix="civitas-hostile-")
        with open(os.path.join(self.dir, "secret"), "wb") as f:
            f.write(SECRET)
        lines = [f"data_dir: {self.dir}/state",
                 "auth:", "  allow_hs256: true", f"  hs256_secret_file: {self.dir}/secret",
                 "logging:", "  access_log: false"]
        if limits:
            lines.append("limits:")
            lines += [f"  {k}: {v}" for k, v in limits.items()]
        lines += ["cities:", "  - id: demo", "    modules:", "      - id: civitas.noticeboard",
                  "      - id: civitas.news"]
        config = os.path.join(self.dir, "gateway.yaml")
        with open(config, "w") as f:
            f.write("\n".join(lines) + "\n")
        port_file = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "log")
        self.log = open(self.log_path, "w")

        def limit_fds():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
        self.proc = subprocess.Popen(
            [GATEWAY, f"--config={config}", "--listen=127.0.0.1:0", "--http_listen=127.0.0.1:0",
             "--metrics_listen=127.0.0.1:0", f"--port_file={port_file}"],
            stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=limit_fds)
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(port_file) and len(read(port_file).split()) >= 3:
                break
            if self.proc.poll() is not None:
                raise RuntimeError("gateway exited:\n" + read(self.log_path))
            time.sleep(0.02)
        self.grpc_port, self.http_port, self.metrics_port = map(int, read(port_file).split()[:3])
        self.pid = self.proc.pid

    def rss_kib(self):
        return rss_kib(self.pid)

    def alive(self):
        return self.proc.poll() is None

    def get(self, path, port=None, timeout=5):
        """(status, body) of a GET, HTTP errors included; None if there was no answer."""
        port = port or self.http_port
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()
        except OSError:
            return None

    def readyz(self):
        r = self.get("/readyz", self.metrics_port)
        return r[0] if r else None

    def metric(self, name):
        r = self.get("/metrics", self.metrics_port)
        if not r or r[0] != 200:
            return None
        for line in r[1].decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
        return None

    def health_check(self, timeout=3.0):
        """grpc.health.v1 Check over a fresh HTTP/2 connection of our own."""
        try:
            with H2(self.grpc_port, timeout=timeout) as h2:
                status, data = h2.unary("/grpc.health.v1.Health/Check", b"")
                return status == 0 and data == b"\x08\x01"
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---- HTTP/1.1 on a plain socket ------------------------------------------------------------

def http_raw(port, data, timeout=5.0, send_all=True):
    """Sends `data` and returns (status, headers dict, body bytes) of the answer, or None if the
    connection was closed or reset without one."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # the server may answer and close before it has read everything
        raw = b""
        while True:
            try:
                chunk = s.recv(65536)
            except OSError:
                break
            if not chunk:
                break
            raw += chunk
            if b"\r\n\r\n" in raw:
                head, _, body = raw.partition(b"\r\n\r\n")
                length = None
                for line in head.split(b"\r\n")[1:]:
                    k, _, v = line.partition(b":")
                    if k.strip().lower() == b"content-length":
                        length = int(v.strip())
                if length is not None and len(body) >= length:
                    break
    finally:
        s.close()
    if not raw.startswith(b"HTTP/1."):
        return None
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode("latin-1")
    return status, headers, body


# ---- HTTP/2 frame by frame -----------------------------------------------------------------

DATA, HEADERS, RST_STREAM, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 3, 4, 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
MAX_CONCURRENT_STREAMS = 0x3


def frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def grpc_message(body):
    return b"\x00" + struct.pack(">I", len(body)) + body


def pb_bytes(field, value):
    """A length-delimited protobuf field."""
    key = (field << 3) | 2
    n = len(value)
    varint = b""
    while True:
        b = n & 0x7F
        n >>= 7
        varint += bytes([b | (0x80 if n else 0)])
        if not n:
            break
    return bytes([key]) + varint + value


def pb_varint(field, n):
    out = bytes([field << 3])
    while True:
        b = n & 0x7F
        n >>= 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


class GoAway(Exception):
    pass


class H2:
    """A client connection that writes HTTP/2 frames as told."""

    def __init__(self, port, timeout=5.0, rcvbuf=None, source="127.0.0.1"):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((source, 0))
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(("127.0.0.1", port))
        except OSError:
            self.sock.close()
            raise
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.buf = b""
        self.next_stream = 1
        self.server_settings = {}
        self.sock.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(SETTINGS, 0, 0))
        # The server's SETTINGS come first; acknowledge them.
        try:
            kind, flags, stream, payload = self.read_frame()
        except OSError:
            self.sock.close()
            raise
        if kind == SETTINGS:
            for i in range(0, len(payload), 6):
                ident, value = struct.unpack(">HI", payload[i:i + 6])
                self.server_settings[ident] = value
            self.sock.sendall(frame(SETTINGS, ACK, 0))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def read_frame(self):
        while len(self.buf) < 9:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        length = struct.unpack(">I", b"\x00" + self.buf[:3])[0]
        while len(self.buf) < 9 + length:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        kind, flags = self.buf[3], self.buf[4]
        stream = struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
        payload = self.buf[9:9 + length]
        self.buf = self.buf[9 + length:]
        return kind, flags, stream, payload

    def new_stream(self):
        s = self.next_stream
        self.next_stream += 2
        return s

    def request_headers(self, method_path, extra=()):
        return self.encoder.encode(
            [(":method", "POST"), (":scheme", "http"), (":path", method_path),
             (":authority", "127.0.0.1"), ("content-type", "application/grpc"),
             ("te", "trailers"), ("x-civitas-city", "demo")] + list(extra))

    def start_call(self, method_path, body, extra=()):
        """HEADERS + DATA(END_STREAM) of a gRPC call; returns its stream id."""
        s = self.new_stream()
        self.send(frame(HEADERS, END_HEADERS, s, self.request_headers(method_path, extra)) +
                  frame(DATA, END_STREAM, s, grpc_message(body)))
        return s

    def collect(self, streams, deadline):
        """Reads until each stream in `streams` ended or `deadline`; returns
        {stream: (grpc-status or None, rst error code or None, data)}."""
        out = {s: [None, None, b""] for s in streams}
        open_ = set(streams)
        while open_ and time.time() < deadline:
            try:
                self._collect_one(out, open_)
            except (OSError, hpack.HPACKError):  # closed, reset or cut off mid-frame
                break
            except GoAway:
                break
        return out

    def _collect_one(self, out, open_):
        kind, flags, stream, payload = self.read_frame()
        if kind in (HEADERS, CONTINUATION):
            if kind == HEADERS and flags & 0x8:  # PADDED
                payload = payload[1:len(payload) - payload[0]]
            if kind == HEADERS and flags & 0x20:  # PRIORITY
                payload = payload[5:]
            # Decoded whatever the stream, so the HPACK table stays in step with the server's.
            headers = self.decoder.decode(payload, raw=True)
            if stream in out:
                for k, v in headers:
                    if k == b"grpc-status":
                        out[stream][0] = int(v)
                if flags & END_STREAM:
                    open_.discard(stream)
        elif kind == DATA:
            if payload:
                self.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", len(payload))) +
                          frame(WINDOW_UPDATE, 0, stream, struct.pack(">I", len(payload))))
            if stream in out:
                out[stream][2] += payload
                if flags & END_STREAM:
                    open_.discard(stream)
        elif kind == RST_STREAM and stream in out:
            out[stream][1] = struct.unpack(">I", payload)[0]
            open_.discard(stream)
        elif kind == PING and not flags & ACK:
            self.send(frame(PING, ACK, 0, payload))
        elif kind == GOAWAY:
            raise GoAway()

    def unary(self, method_path, body, extra=(), timeout=5.0):
        s = self.start_call(method_path, body, extra)
        status, rst, data = self.collect([s], time.time() + timeout)[s]
        return status, data[5:] if len(data) >= 5 else data


# ---- nginx, with the shipped edge files -----------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Edge:
    """Debian's nginx with deploy/nginx/*.conf in front of one gateway serving city "demo"."""

    def __init__(self, gateway):
        self.dir = tempfile.mkdtemp(prefix="civitas-edge-")
        os.makedirs(f"{self.dir}/civitas")
        os.makedirs(f"{self.dir}/tmp")
        for f in os.listdir(f"{SOURCE_DIR}/deploy/nginx"):
            if f.endswith(".conf") and not f.endswith(".example.conf"):
                shutil.copy(f"{SOURCE_DIR}/deploy/nginx/{f}", f"{self.dir}/civitas/{f}")
        with open(f"{self.dir}/civitas/cities.map", "w") as f:
            f.write("demo civitas_demo;\n")
        with open(f"{self.dir}/civitas/hosts.map", "w") as f:
            f.write("demo.example civitas_demo;\n")
        self.port = free_port()
        self.http_port = free_port()
        tmp = f"{self.dir}/tmp"
        with open(f"{self.dir}/nginx.conf", "w") as f:
            f.write(f"""daemon off;
master_process off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log notice;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  upstream civitas_demo {{ server 127.0.0.1:{gateway.grpc_port}; keepalive 32; }}
  upstream civitas_demo_http {{ server 127.0.0.1:{gateway.http_port}; keepalive 16; }}
  include civitas/civitas-maps.conf;
  include civitas/civitas-limits.conf;
  server {{
    listen 127.0.0.1:{self.port} http2;
    include civitas/civitas-grpc-location.conf;
  }}
  server {{
    listen 127.0.0.1:{self.http_port};
    include civitas/civitas-http-location.conf;
  }}
}}
""")
        self.log = open(f"{self.dir}/stderr.log", "w")
        self.proc = subprocess.Popen(
            ["/usr/sbin/nginx", "-p", self.dir + "/", "-c", f"{self.dir}/nginx.conf"],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                socket.create_connection(("127.0.0.1", self.http_port), timeout=1).close()
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError("nginx exited:\n" + open(f"{self.dir}/error.log").read())
                time.sleep(0.05)
        raise RuntimeError("nginx did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
