#!/usr/bin/python3
"""Errors a program can handle, seen from outside: the google.rpc.Status in gRPC's
grpc-status-details-bin trailer (read with Python's grpcio and decoded here from the wire format,
independently of the gateway's code) and the "details" of the HTTP JSON error (urllib), for the
gateway's own errors and the modules', with Retry-After and RetryInfo on rate limits.

Usage: error_details_test.py GATEWAY CIVITASCTL
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import grpc

from demo_gateway import DemoGateway

GATEWAY, CTL = sys.argv[1], sys.argv[2]


class Gateway(DemoGateway):
    """The demo, with a gRPC channel to it."""

    def __init__(self):
        super().__init__(GATEWAY, CTL)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{self.grpc_port}")

    def stop(self):
        self.channel.close()
        super().stop()


def fields(data):
    """[(number, value)] of a message: ints for varints, bytes for length-delimited fields."""
    out, i = [], 0
    while i < len(data):
        key, i = varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 2:
            size, i = varint(data, i)
            value, i = data[i:i + size], i + size
        else:
            raise ValueError(f"unexpected wire type {wire}")
        out.append((number, value))
    return out


def varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def decode_status(raw):
    """google.rpc.Status -> {"code", "message", "error_info", "retry_seconds"}."""
    status = {"code": 0, "message": "", "error_info": None, "retry_seconds": None, "types": []}
    for number, value in fields(raw):
        if number == 1:
            status["code"] = value
        elif number == 2:
            status["message"] = value.decode()
        elif number == 3:  # google.protobuf.Any
            any_fields = dict(fields(value))
            type_url, body = any_fields[1].decode(), any_fields.get(2, b"")
            status["types"].append(type_url)
            if type_url == "type.googleapis.com/google.rpc.ErrorInfo":
                info = {"reason": "", "domain": "", "metadata": {}}
                for n, v in fields(body):
                    if n == 1:
                        info["reason"] = v.decode()
                    elif n == 2:
                        info["domain"] = v.decode()
                    elif n == 3:
                        entry = dict(fields(v))
                        info["metadata"][entry[1].decode()] = entry.get(2, b"").decode()
                status["error_info"] = info
            elif type_url == "type.googleapis.com/google.rpc.RetryInfo":
                delay = dict(fields(body)).get(1, b"")
                status["retry_seconds"] = dict(fields(delay)).get(1, 0)
    return status


def string_field(number, text):
    data = text.encode()
    return bytes([number << 3 | 2, len(data)]) + data


def grpc_call(method, request=b"", token=None, city=None):
    """Returns (code, message, decoded status details or None, trailing metadata dict)."""
    metadata = []
    if token:
        metadata.append(("authorization", f"Bearer {token}"))
    if city:
        metadata.append(("x-civitas-city", city))
    rpc = gw.channel.unary_unary(method)
    try:
        rpc(request, metadata=metadata, timeout=10)
        return grpc.StatusCode.OK, "", None, {}
    except grpc.RpcError as e:
        trailers = dict(e.trailing_metadata() or ())
        raw = trailers.get("grpc-status-details-bin")
        details = decode_status(raw) if raw else None
        if details:
            # The details repeat the status they belong to.
            assert details["code"] == e.code().value[0], (details, e.code())
            assert details["message"] == e.details(), (details, e.details())
        return e.code(), e.details(), details, trailers


def http(method, path, body=None, headers=None, raw=None):
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(gw.base + path, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.headers, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, e.headers, json.loads(e.read())


def http_error_info(answer):
    """The ErrorInfo of an HTTP JSON error, checked for Google's shape."""
    error = answer["error"]
    assert set(error) == {"code", "status", "message", "details"}, error
    infos = [d for d in error["details"]
             if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo"]
    assert len(infos) == 1, error
    return infos[0]


NEWS = "/civitas.news.v1.NewsService/"
REPORTS = "/civitas.reports.v1.ReportsService/"


class GrpcStatusDetailsTest(unittest.TestCase):
    def expect(self, result, code, reason, domain="civitas.city", metadata=None):
        got_code, message, details, _ = result
        self.assertEqual(got_code, code, message)
        self.assertIsNotNone(details, f"no grpc-status-details-bin for {message}")
        info = details["error_info"]
        self.assertEqual((info["reason"], info["domain"]), (reason, domain), details)
        for k, v in (metadata or {}).items():
            self.assertEqual(info["metadata"].get(k), v, info)
        self.assertFalse(message.startswith("["), message)
        return info

    def test_unknown_city(self):
        self.expect(grpc_call(NEWS + "ListArticles", city="atlantis"),
                    grpc.StatusCode.NOT_FOUND, "CITY_NOT_FOUND", metadata={"city": "atlantis"})

    def test_unknown_method(self):
        self.expect(grpc_call(NEWS + "Nope"), grpc.StatusCode.UNIMPLEMENTED, "METHOD_NOT_FOUND")

    def test_sign_in_and_roles(self):
        self.expect(grpc_call(NEWS + "CreateArticle"), grpc.StatusCode.UNAUTHENTICATED,
                    "SIGN_IN_REQUIRED", metadata={"required_role": "editor", "city": "demo"})
        self.expect(grpc_call(NEWS + "CreateArticle", token=gw.token("anna", "citizen")),
                    grpc.StatusCode.PERMISSION_DENIED, "ROLE_REQUIRED",
                    metadata={"required_role": "editor"})
        self.expect(grpc_call(NEWS + "ListArticles", token="not.a.token"),
                    grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID")
        self.expect(grpc_call_with_header(NEWS + "ListArticles", "Basic abc"),
                    grpc.StatusCode.UNAUTHENTICATED, "AUTHORIZATION_MALFORMED")

    def test_module_reason_in_the_modules_domain(self):
        info = self.expect(grpc_call(NEWS + "ListChanges", string_field(1, "garbage")),
                           grpc.StatusCode.INVALID_ARGUMENT, "SYNC_TOKEN_INVALID", "civitas.news")
        self.assertEqual(info["metadata"]["method"], NEWS + "ListChanges")

    def test_module_without_a_reason_gets_the_codes_name(self):
        self.expect(grpc_call(NEWS + "GetArticle", string_field(1, "articles/00000000000000ff")),
                    grpc.StatusCode.NOT_FOUND, "NOT_FOUND", "civitas.news")

    def test_rate_limit_says_when_to_retry(self):
        # Anonymous writes: 10 a minute per address (the demo's default); the limit is checked
        # before the request is read, so empty requests count too.
        for _ in range(15):
            result = grpc_call(REPORTS + "CreateReport")
            if result[0] == grpc.StatusCode.RESOURCE_EXHAUSTED:
                break
        code, message, details, trailers = result
        self.assertEqual(code, grpc.StatusCode.RESOURCE_EXHAUSTED, message)
        info = details["error_info"]
        self.assertEqual((info["reason"], info["domain"]), ("WRITE_RATE_LIMITED", "civitas.city"))
        self.assertEqual(info["metadata"]["limited"], "anonymous_address")
        self.assertGreater(details["retry_seconds"], 0)
        self.assertEqual(trailers["retry-after"], str(details["retry_seconds"]))
        self.assertIn("type.googleapis.com/google.rpc.RetryInfo", details["types"])


def grpc_call_with_header(method, authorization):
    try:
        gw.channel.unary_unary(method)(b"", metadata=[("authorization", authorization)], timeout=10)
        return grpc.StatusCode.OK, "", None, {}
    except grpc.RpcError as e:
        trailers = dict(e.trailing_metadata() or ())
        raw = trailers.get("grpc-status-details-bin")
        return e.code(), e.details(), decode_status(raw) if raw else None, trailers


class HttpErrorDetailsTest(unittest.TestCase):
    def test_gateway_reasons(self):
        status, _, answer = http("GET", "/v1/nothing-here")
        self.assertEqual(status, 404)
        self.assertEqual(http_error_info(answer)["reason"], "ROUTE_NOT_FOUND")
        status, _, answer = http("POST", "/v1/articles", {"title": "x"})
        self.assertEqual(status, 401)
        info = http_error_info(answer)
        self.assertEqual((info["reason"], info["domain"]), ("SIGN_IN_REQUIRED", "civitas.city"))
        self.assertEqual(info["metadata"]["required_role"], "editor")
        status, _, answer = http("GET", "/cities/atlantis/v1/articles")
        self.assertEqual((status, http_error_info(answer)["reason"]), (404, "CITY_NOT_FOUND"))
        status, _, answer = http("DELETE", "/v1/categories")
        self.assertEqual(status, 405)
        self.assertEqual(http_error_info(answer)["reason"], "HTTP_METHOD_NOT_ALLOWED")
        status, _, answer = http("POST", "/v1/reports", raw=b"{not json")
        self.assertEqual(status, 400)
        self.assertEqual(http_error_info(answer)["reason"], "REQUEST_NOT_UNDERSTOOD")

    def test_module_reasons(self):
        status, _, answer = http("GET", "/v1/articles:changes?sync_token=garbage")
        self.assertEqual(status, 400)
        info = http_error_info(answer)
        self.assertEqual((info["reason"], info["domain"]), ("SYNC_TOKEN_INVALID", "civitas.news"))
        self.assertFalse(answer["error"]["message"].startswith("["), answer)
        status, _, answer = http("GET", "/v1/articles/00000000000000ff")
        self.assertEqual(status, 404)
        info = http_error_info(answer)
        self.assertEqual((info["reason"], info["domain"]), ("NOT_FOUND", "civitas.news"))

    def test_stale_etag(self):
        editor = {"authorization": "Bearer " + gw.token("presse", "editor")}
        status, _, article = http("POST", "/v1/articles", {"title": "Etag-Probe"}, editor)
        self.assertEqual(status, 200, article)
        name = article["name"]
        status, _, answer = http(
            "PATCH", f"/v1/{name}?update_mask=teaser", {"teaser": "neu", "etag": "W/\"stale\""},
            editor)
        self.assertEqual(status, 409, answer)
        info = http_error_info(answer)
        self.assertEqual((info["reason"], info["domain"]), ("ETAG_MISMATCH", "civitas.news"))

    def test_body_too_large_before_the_api(self):
        # Refused from the headers, before the body is sent (a client library that keeps sending
        # sees a broken pipe, so this one only announces it).
        with socket.create_connection(("127.0.0.1", int(gw.http_port)), timeout=10) as s:
            s.sendall(b"POST /v1/reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 5242880\r\n\r\n")
            answer = b""
            while b"}}" not in answer:
                chunk = s.recv(65536)
                if not chunk:
                    break
                answer += chunk
        head, body = answer.split(b"\r\n\r\n", 1)
        self.assertEqual(int(head.split()[1]), 413, head)
        self.assertEqual(http_error_info(json.loads(body))["reason"], "BODY_TOO_LARGE")

    def test_rate_limit_retry_after_header_and_retry_info(self):
        for _ in range(15):
            status, headers, answer = http(
                "POST", "/v1/reports", {"service": "services/schlagloch"})
            if status == 429:
                break
        self.assertEqual(status, 429, answer)
        info = http_error_info(answer)
        self.assertEqual(info["reason"], "WRITE_RATE_LIMITED")
        retry = [d for d in answer["error"]["details"]
                 if d["@type"] == "type.googleapis.com/google.rpc.RetryInfo"]
        self.assertEqual(len(retry), 1, answer)
        self.assertEqual(retry[0]["retryDelay"], headers["Retry-After"] + "s")
        self.assertGreater(int(headers["Retry-After"]), 0)


if __name__ == "__main__":
    gw = Gateway()
    try:
        result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    finally:
        gw.stop()
    sys.exit(0 if result.wasSuccessful() else 1)
