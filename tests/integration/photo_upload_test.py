#!/usr/bin/python3
"""Photos over HTTP as multipart/form-data, against the real demo gateway: a report with three
photos at the documented limit of 1 MiB each (the same as JSON would be over the 4 MiB body limit
once base64-encoded), each photo read back unchanged; a fourth photo and a photo over 1 MiB
refused with 413 before the module is called; a form for a route that takes none refused.
The photos are PNGs of random pixels written here (stored, uncompressed), so they are valid
images the module decodes in full and as large as wanted.

Usage: photo_upload_test.py GATEWAY CIVITASCTL
"""
import base64
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request
import zlib

from demo_gateway import DemoGateway

GATEWAY, CTL = sys.argv[1], sys.argv[2]
MIB = 1 << 20


def png(size, seed):
    """A valid PNG of random RGB pixels, stored uncompressed, of exactly `size` bytes."""
    rng = random.Random(seed)
    side = int(((size - 200) / 3) ** 0.5)
    while True:
        rows = b"".join(b"\x00" + rng.randbytes(side * 3) for _ in range(side))
        idat = zlib.compress(rows, 0)

        def chunk(kind, data):
            return (struct.pack(">I", len(data)) + kind + data +
                    struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
        head = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", idat))
        end = chunk(b"IEND", b"")
        if len(head) + len(end) + 12 <= size:
            # A text chunk (ignored by decoders) brings the file to exactly `size` bytes.
            pad = size - len(head) - len(end) - 12
            return head + chunk(b"tEXt", b"Comment\x00" + b"x" * (pad - 8)) + end
        side -= 1


def form(fields, files):
    """(content type, body) of a multipart/form-data request."""
    boundary = "civitas-test-7d3f"
    body = b""
    for name, value in fields:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n"
                 f"Content-Type: application/json\r\n\r\n").encode() + value.encode() + b"\r\n"
    for name, filename, data in files:
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                 f"filename=\"{filename}\"\r\nContent-Type: image/png\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", body


def post(path, content_type, body, token=None):
    headers = {"Content-Type": content_type}
    if token:
        headers["authorization"] = "Bearer " + token
    req = urllib.request.Request(gw.base + path, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


REPORT = json.dumps({"service": "services/schlagloch", "description": "Drei Fotos vom Schlagloch",
                     "location": {"latitude": 51.5149, "longitude": 7.4637},
                     "attributes": [{"code": "groesse", "values": ["gross"]}]})


class PhotoUploadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.citizen = gw.token("anna", "citizen")
        cls.photos = [png(MIB, seed) for seed in range(3)]

    def test_three_photos_at_the_limit(self):
        for p in self.photos:
            self.assertEqual(len(p), MIB)
        # As JSON, the same report is over the body limit once the photos are base64.
        as_json = json.dumps({**json.loads(REPORT), "photos": [
            {"content_type": "image/png", "data": base64.b64encode(p).decode()} for p in self.photos]})
        self.assertGreater(len(as_json), 4 * MIB)
        content_type, body = form([("report", REPORT)],
                                  [("photos", f"{i}.png", p) for i, p in enumerate(self.photos)])
        self.assertLess(len(body), 4 * MIB)
        status, answer = post("/v1/reports", content_type, body, self.citizen)
        self.assertEqual(status, 200, answer[:500])
        report = json.loads(answer)
        self.assertEqual(report["description"], "Drei Fotos vom Schlagloch")
        self.assertEqual(len(report["photoNames"]), 3, report)
        for name, sent in zip(report["photoNames"], self.photos):
            with urllib.request.urlopen(f"{gw.base}/v1/{name}", timeout=10) as r:
                self.assertEqual(r.read(), sent, name)

    def test_too_many_or_too_large_photos_are_refused_before_the_module(self):
        content_type, body = form([("report", REPORT)],
                                  [("photos", f"{i}.png", self.photos[0][:1000]) for i in range(4)])
        status, answer = post("/v1/reports", content_type, body, self.citizen)
        self.assertEqual(status, 413, answer)
        info = json.loads(answer)["error"]["details"][0]
        self.assertEqual(info["reason"], "UPLOAD_TOO_LARGE")
        self.assertEqual((info["metadata"]["max_files"], info["metadata"]["max_file_bytes"]),
                         ("3", str(MIB)))

        content_type, body = form([("report", REPORT)],
                                  [("photos", "big.png", self.photos[0] + b"x" * (MIB + 1 - len(self.photos[0])))])
        status, answer = post("/v1/reports", content_type, body, self.citizen)
        self.assertEqual(status, 413, answer)
        self.assertIn("big.png", json.loads(answer)["error"]["message"])

    def test_broken_photo_is_named_by_the_module(self):
        content_type, body = form([("report", REPORT)], [("photos", "broken.png", b"\x89PNG nope")])
        status, answer = post("/v1/reports", content_type, body, self.citizen)
        self.assertEqual(status, 400, answer)
        error = json.loads(answer)["error"]
        self.assertEqual(error["details"][0]["reason"], "PHOTO_INVALID")
        self.assertIn("report.photos[0]", error["message"])

    def test_forms_elsewhere_and_malformed_forms(self):
        content_type, body = form([("article", "{}")], [])
        status, answer = post("/v1/articles", content_type, body, gw.token("presse", "editor"))
        self.assertEqual(status, 415, answer)
        self.assertEqual(json.loads(answer)["error"]["details"][0]["reason"], "FORM_NOT_ACCEPTED")
        status, answer = post("/v1/reports", "multipart/form-data; boundary=x", b"garbage",
                              self.citizen)
        self.assertEqual(status, 400, answer)
        self.assertEqual(json.loads(answer)["error"]["details"][0]["reason"], "FORM_INVALID")


if __name__ == "__main__":
    gw = DemoGateway(GATEWAY, CTL)
    try:
        result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    finally:
        gw.stop()
    sys.exit(0 if result.wasSuccessful() else 1)
