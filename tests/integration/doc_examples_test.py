#!/usr/bin/python3
"""Every HTTP example in the app developer's docs, run as written against the real demo gateway.

Reads docs/api.md and docs/app-guide.md, takes every `curl` command (in ```sh blocks, with their
continuation lines and multi-line bodies, and in inline code) and every plain URL line
(http://127.0.0.1:8080/... in a code block), and runs it with the real curl against an embedded
demo gateway on a free port. An example passes with a 2xx answer, or with the status its line
states in a comment (`# -> 409`). The placeholders readers replace by hand are replaced here the
same way: `articles/<id>` by the article an earlier example created (else the first one listed),
`<etag>` by the current etag of the resource the command addresses, `<cid>` by a comment of that
idea, `<token>` / `<next_sync_token>` by a sync token, `<next_page_token>` by a page token.
Examples on other hosts (https://api.dortmund.example/...) illustrate URLs and are counted apart.

Usage: doc_examples_test.py GATEWAY CIVITASCTL DOCS_DIR
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
import struct
import urllib.request
import zlib

from demo_gateway import DemoGateway

GATEWAY, CTL, DOCS = sys.argv[1], sys.argv[2], sys.argv[3]
DOC_FILES = ["api.md", "app-guide.md"]
DOC_BASE = "http://127.0.0.1:8080"


def examples(path):
    """[(line number, kind, text)]: kind "curl" (a command) or "url" (a plain URL to GET)."""
    return [e[:3] for e in examples_with_answers(path)]


def examples_with_answers(path):
    """[(line number, kind, text, shown)]: as examples(), with `shown` the JSON answer the doc
    prints in a ```json block right after the example's own block (else None)."""
    out = []
    lines = open(path, encoding="utf-8").read().split("\n")
    fence = None
    pending, start = "", 0
    closed_at, shown = -10, None  # where the last sh block closed; the json block being read
    for number, line in enumerate(lines, 1):
        if line.lstrip().startswith("```"):  # fences may be indented (inside a list)
            opening = fence is None
            if not opening and fence == "json" and shown is not None:
                if out and out[-1][1] == "curl" and shown[0] - closed_at <= 2:
                    out[-1] = out[-1][:3] + ("\n".join(shown[1]),)
                shown = None
            if not opening and fence in ("sh", "bash"):
                closed_at = number
            fence = line.lstrip()[3:].strip() if opening else None
            if opening and fence == "json":
                shown = (number, [])
            pending = ""
            continue
        if fence == "json" and shown is not None:
            shown[1].append(line)
            continue
        if fence is None:
            for span in re.findall(r"`(curl [^`]+)`", line):
                out.append((number, "curl", span, None))
            continue
        if fence in ("sh", "bash", "") and not pending and line.lstrip().startswith("curl "):
            pending, start = line, number
        elif pending:
            pending += "\n" + line
        elif fence == "" and re.match(r"https?://", line):
            out.append((number, "url", line.split()[0], None))
            continue
        if pending and complete(pending):
            out.append((start, "curl", pending, None))
            pending = ""
    return out


def shape_differences(shown, real, path="$"):
    """Where the documented answer `shown` is not part of the real one: a field the real answer
    lacks, or a value of another JSON type (lists compare their first items)."""
    if isinstance(shown, dict):
        if not isinstance(real, dict):
            return [f"{path}: an object in the doc, {type(real).__name__} in the answer"]
        out = []
        for key, value in shown.items():
            if key not in real:
                out.append(f"{path}.{key}: in the doc, not in the answer")
            else:
                out += shape_differences(value, real[key], f"{path}.{key}")
        return out
    if isinstance(shown, list):
        if not isinstance(real, list):
            return [f"{path}: a list in the doc, {type(real).__name__} in the answer"]
        if shown and not real:
            return [f"{path}: items in the doc, an empty list in the answer"]
        return shape_differences(shown[0], real[0], f"{path}[0]") if shown else []
    kinds = {bool: "bool", int: "number", float: "number", str: "string", type(None): "null"}
    if kinds[type(shown)] != kinds.get(type(real), type(real).__name__):
        return [f"{path}: {kinds[type(shown)]} in the doc, {type(real).__name__} in the answer"]
    return []


def complete(command):
    """True once a command's quotes are closed and it does not continue on the next line."""
    if command.rstrip().endswith("\\"):
        return False
    try:
        shlex.split(strip_comment(command))
        return True
    except ValueError:
        return False


def strip_comment(command):
    """The command without a trailing "# ..." comment outside quotes."""
    quote = None
    for i, c in enumerate(command):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and (i == 0 or command[i - 1] in " \t"):
            return command[:i]
    return command


def expected_status(command):
    m = re.search(r"#\s*->\s*(\d{3})", command)
    return int(m.group(1)) if m else None


# ---- running ------------------------------------------------------------------------------------

class Runner:
    def __init__(self, gw):
        self.gw = gw
        self.env = {"H": gw.base, "EDITOR": gw.token("presseamt", "editor"),
                    "CITIZEN": gw.token("anna", "citizen"), "MOD": gw.token("mod", "moderator"),
                    "ADMIN": gw.token("it", "admin")}
        self.created = {}  # collection -> the name an example's POST answered with
        self.claim_secret = ""  # of the last anonymous report an example sent
        # The photo the upload example sends (`-F photos=@schlagloch.png`), in curl's folder.
        with open(os.path.join(gw.dir.name, "schlagloch.png"), "wb") as f:
            f.write(tiny_png())

    def get(self, path, token="EDITOR"):
        req = urllib.request.Request(self.gw.base + path,
                                     headers={"authorization": "Bearer " + self.env[token]})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def resolve(self, collection):
        if collection in self.created:
            return self.created[collection]
        path = {"articles": "/v1/articles?page_size=1", "events": "/v1/events?page_size=1",
                "ideas": "/v1/ideas?page_size=1", "reports": "/v1/reports?page_size=1",
                "polls": None, "services": "/v1/services"}[collection]
        if path is None:
            raise LookupError(f"no {collection} to use: an example must create one first")
        answer = self.get(path)
        items = answer.get(collection) or answer.get(collection[:-1] + "s") or []
        if not items:
            raise LookupError(f"the demo lists no {collection}")
        return items[0]["name"]

    def fill(self, text):
        """Replaces the placeholders and the doc's base URL; the variables are left to curl's
        shell (run with them in the environment)."""
        text = text.replace(DOC_BASE, self.gw.base)
        if "requests/<id>" in text:  # Open311 names a report by its id alone
            text = text.replace("requests/<id>", "requests/" + self.resolve("reports").split("/")[1])
        for collection in ("articles", "events", "ideas", "reports", "polls", "services"):
            while f"{collection}/<id>" in text:
                text = text.replace(f"{collection}/<id>", self.resolve(collection), 1)
        if "<cid>" in text:
            idea = re.search(r"ideas/[A-Za-z0-9_-]+", text).group(0)
            comments = self.get(f"/v1/{idea}/comments").get("comments", [])
            text = text.replace(f"{idea}/comments/<cid>", comments[0]["name"])
        if "<etag>" in text:
            name = re.search(r"(articles|events|ideas|reports)/[A-Za-z0-9_-]+", text).group(0)
            text = text.replace("<etag>", self.get(f"/v1/{name}")["etag"].replace('"', '\\"'))
        for token in ("<token>", "<next_sync_token>"):
            if token in text:
                changes = self.get("/v1/articles:changes?page_size=1")
                text = text.replace(token, changes["nextSyncToken"])
        if "<claim_secret>" in text:  # from the anonymous report an earlier example sent
            text = text.replace("<claim_secret>", self.claim_secret)
        if "<next_page_token>" in text:
            page = self.get("/v1/articles?page_size=1")
            text = text.replace("<next_page_token>", page.get("nextPageToken", ""))
        return text

    def run(self, kind, text):
        """Returns (status, body text)."""
        text = self.fill(text)
        if kind == "url":
            command = f"curl {shlex.quote(text)}"
        else:
            command = strip_comment(text).replace("\\\n", " ")
        body = os.path.join(self.gw.dir.name, "answer")
        # The documented command, as a shell runs it, with the answer's status written out.
        # A live stream never ends by itself: three seconds of it show that it answers.
        limit = 3 if "text/event-stream" in command else 20
        shell = f"{command} -sS --max-time {limit} -o {shlex.quote(body)} -w '%{{http_code}}'"
        done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True,
                              env={**os.environ, **self.env}, cwd=self.gw.dir.name)
        status = int(done.stdout.strip() or 0)
        answer = open(body, encoding="utf-8", errors="replace").read() if os.path.exists(body) else ""
        if os.path.exists(body):
            os.unlink(body)
        if 200 <= status < 300 and re.search(r"-X\s+POST|\s-d\s", command):
            try:
                created = json.loads(answer)
                name = created.get("name", "")
                if name.count("/") == 1:
                    self.created[name.split("/")[0]] = name
                self.claim_secret = created.get("claimSecret") or self.claim_secret
            except (ValueError, AttributeError):
                pass
        return status, answer


def tiny_png():
    """A valid 2x2 grey PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"\x00\x80\x80" * 2
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def main():
    gw = DemoGateway(GATEWAY, CTL)
    failures, ran, elsewhere, answers = [], 0, 0, 0
    try:
        runner = Runner(gw)
        for doc in DOC_FILES:
            for line, kind, text, shown in examples_with_answers(os.path.join(DOCS, doc)):
                if re.search(r"https?://(?!127\.0\.0\.1)", text.replace("$H", DOC_BASE)):
                    elsewhere += 1
                    continue
                ran += 1
                want = expected_status(text)
                try:
                    status, answer = runner.run(kind, text)
                except LookupError as e:
                    failures.append(f"{doc}:{line}: {e}")
                    continue
                ok = status == want if want else 200 <= status < 300
                print(f"{'ok  ' if ok else 'FAIL'} {status} {doc}:{line}: {' '.join(text.split())[:110]}")
                if not ok:
                    failures.append(f"{doc}:{line}: {status} (wanted {want or '2xx'}): "
                                    f"{' '.join(text.split())}\n    {answer[:400]}")
                elif shown is not None:
                    # The answer the doc prints must be the real answer's shape.
                    answers += 1
                    try:
                        diff = shape_differences(json.loads(shown), json.loads(answer))
                    except ValueError as e:
                        diff = [f"not JSON: {e}"]
                    print(f"{'ok  ' if not diff else 'FAIL'} answer {doc}:{line}")
                    for d in diff:
                        failures.append(f"{doc}:{line}: the documented answer differs: {d}")
    finally:
        gw.stop()
    print(f"{ran} examples run, {elsewhere} on other hosts not run, {answers} documented answers "
          "checked")
    if ran < 40:
        failures.append(f"only {ran} examples found; the extraction is broken")
    if answers < 6:
        failures.append(f"only {answers} documented answers found; one per module is expected")
    for f in failures:
        print("FAILED", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
