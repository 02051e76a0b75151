#!/usr/bin/python3
"""The JSON/HTTP side of the gateway, with real HTTP clients: Python's urllib for the JSON API and
CORS, and third-party feed parsers (python3-feedparser) for the RSS and Atom URLs a feed reader
would subscribe to.

Usage: http_api_test.py GATEWAY CIVITASCTL
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import base64
import datetime
import zoneinfo

import feedparser
import icalendar
from dateutil import rrule

from demo_gateway import DemoGateway

GATEWAY, CTL = sys.argv[1], sys.argv[2]
VALIDATOR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools",
                         "validate-openapi.mjs")


def call(method, path, body=None, headers=None):
    """Returns (status, headers, body bytes); HTTP errors are answers too."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(gw.base + path, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def call_json(method, path, body=None, headers=None):
    status, h, raw = call(method, path, body, headers)
    assert h["Content-Type"].startswith("application/json"), (h["Content-Type"], raw)
    return status, json.loads(raw)


class HttpApiTest(unittest.TestCase):
    def test_lists_articles_as_json_with_query_parameters(self):
        status, page = call_json("GET", "/v1/articles?page_size=5&language_code=en")
        self.assertEqual(status, 200)
        self.assertEqual(len(page["articles"]), 5)
        self.assertTrue(page["nextPageToken"])
        self.assertTrue(page["articles"][0]["pinned"])
        self.assertEqual(page["articles"][0]["languageCode"], "en")
        status, rest = call_json("GET", "/v1/articles?page_size=5&page_token=" + page["nextPageToken"])
        self.assertEqual(status, 200)
        names = {a["name"] for a in page["articles"]}
        self.assertFalse(names & {a["name"] for a in rest["articles"]})
        # The same resource by its name, in a path template.
        status, one = call_json("GET", "/v1/" + page["articles"][1]["name"])
        self.assertEqual((status, one["name"]), (200, page["articles"][1]["name"]))

    def test_every_language_sees_every_article_and_accept_language_chooses(self):
        def page(query, headers=None):
            status, body = call_json("GET", "/v1/articles?page_size=100" + query, headers=headers)
            self.assertEqual(status, 200, body)
            return body["articles"]
        german = page("")
        self.assertGreater(len(german), 20)
        # A language nobody translated into: every article all the same, in German, saying so.
        turkish = page("&language_code=tr")
        self.assertEqual([a["name"] for a in turkish], [a["name"] for a in german])
        self.assertEqual([a["title"] for a in turkish], [a["title"] for a in german])
        self.assertNotIn("tr", {a["languageCode"] for a in turkish})
        # The browser's Accept-Language when the query names no language.
        status, headers, raw = call("GET", "/v1/articles?page_size=100",
                                    headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"})
        english = json.loads(raw)["articles"]
        self.assertEqual(len(english), len(german))
        self.assertIn("en", {a["languageCode"] for a in english})
        self.assertIn("Accept-Language", headers.get_all("Vary"))
        # An explicit language_code wins over the header.
        explicit = page("&language_code=de", {"Accept-Language": "en"})
        self.assertEqual([a["title"] for a in explicit], [a["title"] for a in german])
        # The RSS feed for Turkish is not empty either.
        status, _, feed = call("GET", "/cities/demo/v1/feed?language_code=tr")
        self.assertEqual(status, 200)
        self.assertGreater(feed.count(b"<item>"), 10)

    def test_gets_have_validators_cache_rules_and_gzip(self):
        status, headers, body = call("GET", "/v1/articles?page_size=20")
        self.assertEqual(status, 200)
        etag = headers["ETag"]
        self.assertTrue(etag.startswith('W/"'), etag)
        self.assertEqual(headers["Cache-Control"], "public, max-age=0, must-revalidate")
        # Nothing changed: 304 and no body.
        status, headers, again = call("GET", "/v1/articles?page_size=20",
                                      headers={"If-None-Match": etag})
        self.assertEqual((status, again), (304, b""))
        self.assertEqual(headers["ETag"], etag)
        # Compressed when the client accepts it, and the same JSON once inflated.
        status, headers, packed = call("GET", "/v1/articles?page_size=20",
                                       headers={"Accept-Encoding": "gzip"})
        self.assertEqual(headers["Content-Encoding"], "gzip")
        self.assertLess(len(packed), len(body) / 2)
        self.assertEqual(gzip.decompress(packed), body)
        # A signed-in caller's answer is theirs alone.
        auth = {"Authorization": "Bearer " + gw.token("anna", "citizen")}
        status, headers, _ = call("GET", "/v1/reports:mine", headers=auth)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Cache-Control"], "private, no-store")
        self.assertIsNone(headers["ETag"])
        # Feeds may be reused for five minutes.
        status, headers, _ = call("GET", "/cities/demo/v1/feed")
        self.assertEqual(headers["Cache-Control"], "public, max-age=300")

    def test_public_reads_are_answered_from_rendered_bytes_until_a_write(self):
        def metric(line_start):
            with urllib.request.urlopen(f"http://127.0.0.1:{gw.metrics_port}/metrics", timeout=10) as r:
                text = r.read().decode()
            return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(line_start))
        module_calls = 'civitas_calls_total{city="demo",method="/civitas.events.v1.EventsService/ListEvents"'
        path = "/v1/events?page_size=100"
        status, _, first = call("GET", path)
        self.assertEqual(status, 200)
        calls, hits = metric(module_calls), metric('civitas_http_rendered_total{result="hit"}')
        # The same public read again, and a revalidation: neither reaches the module.
        status, headers, again = call("GET", path)
        self.assertEqual((status, again), (200, first))
        status, headers, empty = call("GET", path, headers={"If-None-Match": headers["ETag"]})
        self.assertEqual((status, empty), (304, b""))
        self.assertEqual(metric(module_calls), calls)
        self.assertEqual(metric('civitas_http_rendered_total{result="hit"}'), hits + 2)
        self.assertGreaterEqual(metric("civitas_http_not_modified_total"), 1)
        # A signed-in read is the caller's own: never answered from what an anonymous one saw.
        auth = {"Authorization": "Bearer " + gw.token("orga", "editor")}
        status, headers, _ = call("GET", path, headers=auth)
        self.assertEqual((status, headers["Cache-Control"]), (200, "private, no-store"))
        self.assertEqual(metric(module_calls), calls + 1)
        # A write of the module makes the kept answer stale at once (not after the TTL).
        start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        status, created = call_json("POST", "/v1/events", {
            "title": "Frisch angelegt",
            "startTime": start.isoformat().replace("+00:00", "Z"),
            "endTime": (start + datetime.timedelta(hours=1)).isoformat().replace("+00:00", "Z")}, auth)
        self.assertEqual(status, 200, created)
        status, _, fresh = call("GET", path)
        self.assertEqual(status, 200)
        self.assertIn(created["name"], fresh.decode())
        self.assertNotEqual(fresh, first)
        self.assertEqual(metric(module_calls), calls + 2)

    def test_openapi_document_is_valid_and_describes_what_answers(self):
        status, headers, raw = call("GET", "/cities/demo/openapi.json")
        self.assertEqual(status, 200)
        self.assertTrue(headers["ETag"])
        doc = json.loads(raw)
        self.assertEqual(doc["openapi"], "3.1.0")
        self.assertEqual(doc["servers"], [{"url": "/cities/demo"}])
        # A third-party validator accepts it (schema, $refs, path parameters, unique ids).
        with tempfile.NamedTemporaryFile("wb", suffix=".json") as f:
            f.write(raw)
            f.flush()
            checked = subprocess.run(["node", VALIDATOR, f.name], capture_output=True, text=True)
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        # What a client developer looks for: parameters by their JSON names, the role, the body.
        list_articles = doc["paths"]["/v1/articles"]["get"]
        self.assertEqual(list_articles["x-civitas-role"], "anonymous")
        self.assertIn("pageSize", [p["name"] for p in list_articles["parameters"]])
        create = doc["paths"]["/v1/articles"]["post"]
        self.assertEqual(create["security"], [{"bearer": []}])
        self.assertEqual(create["x-civitas-role"], "editor")
        article = doc["components"]["schemas"]["civitas.news.v1.Article"]["properties"]
        self.assertIn("publishTime", article)
        self.assertIn("/v1/reports/{reportsId}:updateStatus", doc["paths"])
        # Every anonymous GET without path parameters it describes answers (a paging or filter
        # parameter is optional), and a path it does not describe is unknown.
        for path, item in doc["paths"].items():
            op = item.get("get")
            if not op or "{" in path or op["x-civitas-role"] != "anonymous":
                continue
            with self.subTest(path=path):
                status, _, body = call("GET", "/cities/demo" + path)
                self.assertEqual(status, 200, body[:300])
        self.assertNotIn("/v1/no/such/thing", doc["paths"])
        # The same document for the only city without the prefix; unknown cities have none.
        self.assertEqual(call("GET", "/openapi.json")[2], raw)
        self.assertEqual(call("GET", "/cities/atlantis/openapi.json")[0], 404)

    def test_the_demos_app_configuration_is_cacheable_json(self):
        status, headers, raw = call("GET", "/v1/appconfig")
        self.assertEqual(status, 200, raw[:300])
        self.assertEqual(headers["Cache-Control"], "public, max-age=60")
        config = json.loads(raw)
        self.assertEqual(config["languages"], ["de", "en"])
        self.assertEqual(config["navigation"][0]["titles"], {"de": "Aktuelles", "en": "News"})
        self.assertTrue(config["legal"]["accessibilityUrl"].startswith("https://"))
        # The modules come from what the demo serves, with the screens navigation may name.
        modules = {m["moduleId"]: m for m in config["modules"]}
        self.assertIn("news.list", modules["civitas.news"]["screens"])
        status, _, body = call("GET", "/v1/appconfig", headers={"If-None-Match": headers["ETag"]})
        self.assertEqual((status, body), (304, b""))

    def test_scalars_are_always_sent_and_counts_are_numbers(self):
        status, ideas = call_json("GET", "/v1/ideas?page_size=10")
        self.assertEqual(status, 200, ideas)
        self.assertTrue(ideas["ideas"])
        for idea in ideas["ideas"]:
            # int32 counts are JSON numbers, and a zero count is sent, not left out.
            self.assertIsInstance(idea["supportCount"], int, idea)
            self.assertIn("officialAnswer", idea)

    def test_errors_are_json_with_the_grpc_code(self):
        cases = [
            ("GET", "/v1/articles?page_size=500", 400, "INVALID_ARGUMENT", "page_size must be between 0 and 100"),
            ("GET", "/v1/articles?page_size=many", 400, "INVALID_ARGUMENT", "'many' is not a 32-bit integer"),
            ("GET", "/v1/articles?colour=red", 400, "INVALID_ARGUMENT", "has no field 'colour'"),
            ("GET", "/v1/articles/0000000000000000", 404, "NOT_FOUND", "does not exist"),
            ("GET", "/v1/articles/not-an-id", 400, "INVALID_ARGUMENT", "16-digit hex id"),
            ("GET", "/cities/atlantis/v1/articles", 404, "NOT_FOUND", "atlantis"),
            ("GET", "/v1/no/such/thing", 404, "NOT_FOUND", "is mapped to GET /v1/no/such/thing"),
            ("POST", "/v1/articles", 401, "UNAUTHENTICATED", "role editor"),
            ("PUT", "/v1/articles", 405, "UNIMPLEMENTED", "use GET or POST"),
        ]
        for method, path, code, status_name, text in cases:
            with self.subTest(path=path, method=method):
                status, body = call_json(method, path, {} if method in ("POST", "PUT") else None)
                self.assertEqual(status, code, body)
                self.assertEqual(body["error"]["status"], status_name)
                self.assertEqual(body["error"]["code"], code)
                self.assertIn(text, body["error"]["message"])
        status, _, raw = call("POST", "/v1/articles", headers={"Authorization": "Bearer " + gw.token("p", "editor")})
        # urllib sends no body here: the empty body is an empty article, refused by the module.
        self.assertEqual(status, 400, raw)

    def test_editors_write_through_json_and_stale_etags_conflict(self):
        auth = {"Authorization": "Bearer " + gw.token("presseamt", "editor")}
        status, created = call_json("POST", "/v1/articles",
                                    {"title": "Per HTTP angelegt", "state": "PUBLISHED", "categories": ["kultur"]},
                                    auth)
        self.assertEqual(status, 200, created)
        name = created["name"]
        status, updated = call_json("PATCH", f"/v1/{name}?update_mask=teaser",
                                    {"teaser": "Kurz", "etag": created["etag"]}, auth)
        self.assertEqual((status, updated["teaser"]), (200, "Kurz"))
        status, conflict = call_json("PATCH", f"/v1/{name}?update_mask=teaser",
                                     {"teaser": "Zu spät", "etag": created["etag"]}, auth)
        self.assertEqual((status, conflict["error"]["status"]), (409, "ABORTED"))
        citizen = {"Authorization": "Bearer " + gw.token("anna", "citizen")}
        status, denied = call_json("DELETE", f"/v1/{name}", None, citizen)
        self.assertEqual((status, denied["error"]["status"]), (403, "PERMISSION_DENIED"))
        status, _ = call_json("DELETE", f"/v1/{name}", None, auth)
        self.assertEqual(status, 200)
        status, gone = call_json("GET", f"/v1/{name}")
        self.assertEqual(status, 404, gone)

    def test_rss_and_atom_urls_parse_in_a_feed_reader(self):
        status, headers, raw = call("GET", "/cities/demo/v1/feed")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/rss+xml; charset=utf-8")
        rss = feedparser.parse(raw)
        self.assertFalse(rss.bozo, rss.get("bozo_exception"))
        self.assertEqual(rss.version, "rss20")
        self.assertEqual(rss.feed.title, "Demo-Stadt – Nachrichten")
        self.assertEqual(len(rss.entries), 20)
        # The newest published articles, newest first, as the JSON API has them.
        _, page = call_json("GET", "/v1/articles?page_size=100")
        visible = sorted(page["articles"], key=lambda a: a["publishTime"], reverse=True)
        self.assertEqual([e.title for e in rss.entries[:5]], [a["title"] for a in visible[:5]])
        self.assertTrue(all(e.published_parsed for e in rss.entries))
        self.assertTrue(rss.entries[0].link.startswith("https://www.demo-stadt.example/articles/"))

        status, headers, raw = call("GET", "/cities/demo/v1/feed?format=ATOM&limit=5&category=verkehr")
        self.assertEqual(headers["Content-Type"], "application/atom+xml; charset=utf-8")
        atom = feedparser.parse(raw)
        self.assertFalse(atom.bozo, atom.get("bozo_exception"))
        self.assertEqual(atom.version, "atom10")
        self.assertGreaterEqual(len(atom.entries), 3)
        for e in atom.entries:
            self.assertEqual([t.term for t in e.tags], ["Verkehr"])
            self.assertTrue(e.id.startswith("urn:civitas:demo:articles/"))
        # Scheduled articles are not in the feed before their time.
        self.assertNotIn("Weihnachtsmarkt: Aufbau beginnt", [e.title for e in rss.entries])

    def test_calendar_url_parses_in_a_calendar_library(self):
        status, headers, raw = call("GET", "/cities/demo/v1/calendar.ics")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/calendar; charset=utf-8")
        cal = icalendar.Calendar.from_ical(raw)
        events = cal.walk("VEVENT")
        self.assertGreaterEqual(len(events), 20)
        self.assertEqual(len(cal.walk("VTIMEZONE")), 1)
        market = [e for e in events if str(e["SUMMARY"]) == "Wochenmarkt"][0]
        self.assertEqual(market["RRULE"]["FREQ"], ["WEEKLY"])
        self.assertEqual(market["RRULE"]["BYDAY"], ["WE", "SA"])
        self.assertEqual(market.decoded("DTSTART").hour, 7)
        status, headers, raw = call("GET", "/cities/demo/v1/calendar.ics?category=musik")
        titles = {str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(raw).walk("VEVENT")}
        self.assertIn("Jazz im Keller", titles)
        self.assertNotIn("Wochenmarkt", titles)

    def test_recurrence_across_the_end_of_daylight_saving_keeps_local_time(self):
        berlin = zoneinfo.ZoneInfo("Europe/Berlin")
        # Sundays 10:00-11:00 from 17 October 2027; DST ends on 31 October 2027; one exception.
        first = datetime.datetime(2027, 10, 17, 10, 0, tzinfo=berlin)
        skipped = datetime.datetime(2027, 11, 7, 10, 0, tzinfo=berlin)
        auth = {"Authorization": "Bearer " + gw.token("kulturbuero", "editor")}
        iso = lambda d: d.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        status, created = call_json("POST", "/v1/events", {
            "title": "Sonntagsführung", "startTime": iso(first),
            "endTime": iso(first + datetime.timedelta(hours=1)),
            "recurrenceRule": "FREQ=WEEKLY;BYDAY=SU;COUNT=5", "excludedStarts": [iso(skipped)],
            "categories": ["kultur"]}, auth)
        self.assertEqual(status, 200, created)
        window = "start_time=2027-10-01T00:00:00Z&end_time=2027-12-31T00:00:00Z"
        _, page = call_json("GET", f"/v1/events?{window}&category=kultur&page_size=100")
        served = [o["startTime"] for o in page["occurrences"] if o["event"]["name"] == created["name"]]
        _, _, raw = call("GET", f"/cities/demo/v1/calendar.ics?{window}&category=kultur")
        vevent = [e for e in icalendar.Calendar.from_ical(raw).walk("VEVENT")
                  if str(e["SUMMARY"]) == "Sonntagsführung"][0]
        self.assertEqual(vevent["DTSTART"].params["TZID"], "Europe/Berlin")
        start = vevent.decoded("DTSTART")
        rule = rrule.rrulestr(vevent["RRULE"].to_ical().decode(), dtstart=start.replace(tzinfo=None))
        exdates = {d.dt.replace(tzinfo=None) for d in vevent["EXDATE"].dts}
        local = [d for d in rule if d not in exdates]
        self.assertEqual([d.strftime("%m-%d %H:%M") for d in local],
                         ["10-17 10:00", "10-24 10:00", "10-31 10:00", "11-14 10:00"])
        offsets = [d.replace(tzinfo=berlin).utcoffset() for d in local]
        self.assertEqual(offsets[:2], [datetime.timedelta(hours=2)] * 2)
        self.assertEqual(offsets[2:], [datetime.timedelta(hours=1)] * 2)
        # The JSON API serves the same instants the calendar app computes.
        self.assertEqual(served, [iso(d.replace(tzinfo=berlin)) for d in local])
        call_json("DELETE", "/v1/" + created["name"], None, auth)

    def test_open311_georeport_v2_export(self):
        # GeoReport v2: GET services, a service definition, requests (filtered), one request.
        status, headers, raw = call("GET", "/open311/v2/services.json?jurisdiction_id=demo")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "application/json; charset=utf-8")
        services = json.loads(raw)
        self.assertEqual(len(services), 5)
        for s in services:
            self.assertEqual(set(s), {"service_code", "service_name", "description", "metadata",
                                      "type", "keywords", "group"})
            self.assertIn(s["type"], ("realtime", "batch", "blackbox"))
            self.assertIsInstance(s["metadata"], bool)
        pothole = [s for s in services if s["service_code"] == "schlagloch"][0]
        self.assertTrue(pothole["metadata"])
        _, _, raw = call("GET", "/open311/v2/services/schlagloch.json")
        definition = json.loads(raw)
        self.assertEqual(definition["service_code"], "schlagloch")
        for a in definition["attributes"]:
            self.assertEqual(set(a), {"variable", "code", "datatype", "required",
                                      "datatype_description", "order", "description", "values"})
            self.assertIn(a["datatype"], ("string", "number", "datetime", "text",
                                          "singlevaluelist", "multivaluelist"))
        self.assertEqual([v["key"] for v in definition["attributes"][0]["values"]],
                         ["klein", "mittel", "gross"])
        _, _, raw = call("GET", "/open311/v2/requests.json?jurisdiction_id=demo")
        requests = json.loads(raw)
        self.assertGreaterEqual(len(requests), 6)
        fields = {"service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                  "lat", "long", "media_url"}
        for r in requests:
            self.assertEqual(set(r), fields)
            self.assertIn(r["status"], ("open", "closed"))
            datetime.datetime.strptime(r["requested_datetime"], "%Y-%m-%dT%H:%M:%SZ")
            self.assertIsInstance(r["lat"], float)
        resolved = [r for r in requests if r["status_notes"] == "Leuchtmittel getauscht."]
        self.assertEqual([r["status"] for r in resolved], ["closed"])
        _, _, raw = call("GET", "/open311/v2/requests.json?status=closed")
        self.assertEqual({r["service_request_id"] for r in json.loads(raw)},
                         {r["service_request_id"] for r in resolved})
        _, _, raw = call("GET", "/open311/v2/requests.json?service_code=graffiti,muell")
        self.assertEqual({r["service_code"] for r in json.loads(raw)}, {"graffiti", "muell"})
        one = requests[0]["service_request_id"]
        _, _, raw = call("GET", f"/open311/v2/requests/{one}.json")
        self.assertEqual(json.loads(raw)[0]["service_request_id"], one)
        status, body = call_json("GET", "/open311/v2/requests.json?jurisdiction_id=schwerte")
        self.assertEqual((status, body["error"]["status"]), (404, "NOT_FOUND"))
        # A photo uploaded with a report is reachable at its media_url.
        auth = {"Authorization": "Bearer " + gw.token("anna", "citizen")}
        # A whole 2 x 2 PNG: photos are decoded as images.
        png = bytes.fromhex(
            "89504e470d0a1a0a0000000d4948445200000002000000020802000000fdd49a7300"
            "00000b49444154789c6360400600000e0001a99173b10000000049454e44ae426082")
        status, created = call_json("POST", "/v1/reports", {
            "service": "services/graffiti", "description": "Neues Graffiti am Rathaus",
            "location": {"latitude": 51.5128, "longitude": 7.466},
            "photos": [{"data": base64.b64encode(png).decode()}]}, auth)
        self.assertEqual(status, 200, created)
        _, _, raw = call("GET", f"/open311/v2/requests/{created['name'][8:]}.json")
        media = json.loads(raw)[0]["media_url"]
        self.assertTrue(media.startswith("http://127.0.0.1:8080/cities/demo/v1/reports/"), media)
        status, headers, photo = call("GET", media[len("http://127.0.0.1:8080"):])
        self.assertEqual((status, headers["Content-Type"], photo), (200, "image/png", png))

    def test_cors_allows_only_the_configured_origins(self):
        ok = {"Origin": "http://localhost:3000"}
        status, headers, _ = call("GET", "/v1/categories", headers=ok)
        self.assertEqual(status, 200)
        self.assertEqual(headers["Access-Control-Allow-Origin"], "http://localhost:3000")
        status, headers, _ = call("GET", "/v1/categories", headers={"Origin": "https://evil.example"})
        self.assertEqual(status, 200)
        self.assertIsNone(headers["Access-Control-Allow-Origin"])
        status, headers, _ = call("OPTIONS", "/v1/articles",
                                  headers={**ok, "Access-Control-Request-Method": "POST"})
        self.assertEqual(status, 204)
        self.assertIn("POST", headers["Access-Control-Allow-Methods"])
        self.assertIn("authorization", headers["Access-Control-Allow-Headers"])
        status, _, _ = call("OPTIONS", "/v1/articles",
                            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        self.assertEqual(status, 403)

    def test_probes_still_answer(self):
        self.assertEqual(call("GET", "/healthz")[0], 200)
        self.assertEqual(call("GET", "/readyz")[0], 200)
        # /metrics is not on the public HTTP port, only on the metrics listener.
        self.assertEqual(call("GET", "/metrics")[0], 404)
        with urllib.request.urlopen(f"http://127.0.0.1:{gw.metrics_port}/metrics", timeout=10) as r:
            status, metrics = r.status, r.read()
        self.assertEqual(status, 200)
        # Calls made over HTTP are counted like gRPC calls.
        self.assertIn(b'method="/civitas.news.v1.NewsService/ListArticles"', metrics)


if __name__ == "__main__":
    gw = DemoGateway(GATEWAY, CTL)
    try:
        result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
    finally:
        gw.stop()
    sys.exit(0 if result.wasSuccessful() else 1)
