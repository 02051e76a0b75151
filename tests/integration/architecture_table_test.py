#!/usr/bin/python3
"""docs/architecture.md's table "The gateway, file by file" against services/gateway/, both ways:
every source file there (tests aside) is named in the table, and every file the table names (in
its first column, or in the second for a folder's row such as `push/`) exists.

Usage: architecture_table_test.py SOURCE_DIR
"""
import os
import re
import sys
import unittest

SOURCE = sys.argv.pop(1) if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
GATEWAY = os.path.join(SOURCE, "services", "gateway")
FILE = re.compile(r"^[a-z0-9_]+\.(h|cc|proto)$")


def expand(token):
    """`name.{h,cc}` -> name.h, name.cc; anything else as it is."""
    m = re.match(r"^(.*)\.\{([a-z,]+)\}$", token)
    return [f"{m.group(1)}.{e}" for e in m.group(2).split(",")] if m else [token]


def files_in(cell):
    out = []
    for code in re.findall(r"`([^`]+)`", cell):
        for token in code.split(", "):
            out += [f for f in expand(token.strip()) if FILE.match(f)]
    return out


def table_rows():
    doc = open(os.path.join(SOURCE, "docs", "architecture.md"), encoding="utf-8").read()
    section = doc[doc.index("## The gateway, file by file"):doc.index("## A call, step by step")]
    for line in section.splitlines():
        cells = line.split(" | ")
        if line.startswith("| `") and len(cells) >= 2:
            yield cells[0].lstrip("| "), " | ".join(cells[1:])


class ArchitectureTableTest(unittest.TestCase):
    def test_every_gateway_file_is_in_the_table(self):
        named = set()
        for first, rest in table_rows():
            named.update(files_in(first) + files_in(rest))
        for root, _, files in os.walk(GATEWAY):
            for f in files:
                if f.endswith("_test.cc") or not FILE.match(f):
                    continue
                with self.subTest(file=os.path.relpath(os.path.join(root, f), GATEWAY)):
                    self.assertTrue(f in named, "add a row (or a mention in its folder's row)")

    def test_every_file_the_table_names_exists(self):
        for first, rest in table_rows():
            folder = re.match(r"^`([a-z_]+)/`$", first.strip())
            if folder:
                paths = [os.path.join(folder.group(1), f) for f in files_in(rest)]
            else:
                paths = files_in(first)
            for p in paths:
                with self.subTest(file=p):
                    self.assertTrue(os.path.isfile(os.path.join(GATEWAY, p)), "remove or fix the row")


if __name__ == "__main__":
    unittest.main()
