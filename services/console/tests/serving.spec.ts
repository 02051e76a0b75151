// How the gateway serves the console: redirects, headers, caching, traversal, the dev sign-in.
import { request as httpRequest } from "node:http";
import { expect, test } from "./fixtures";

// A raw request: fetch() and browsers normalise "..", which is exactly what must be tried.
function raw(base: string, path: string, method = "GET", headers: Record<string, string> = {}, body = "") {
  const u = new URL(base);
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>(
    (resolve, reject) => {
      const req = httpRequest({ host: u.hostname, port: u.port, path, method, headers }, (res) => {
        let data = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (data += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
      });
      req.on("error", reject);
      req.end(body);
    },
  );
}

test("the root redirects to the console, served with a strict policy", async ({ baseURL }) => {
  const root = await raw(baseURL, "/");
  expect(root.status).toBe(308);
  expect(root.headers.location).toBe("/console/");

  const index = await raw(baseURL, "/console/");
  expect(index.status).toBe(200);
  expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
  expect(index.headers["x-content-type-options"]).toBe("nosniff");
  const csp = String(index.headers["content-security-policy"]);
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain("unsafe-inline");
  expect(index.body).not.toMatch(/<script>(?!<)/); // no inline script in the page itself
  expect(index.body).toContain('src="app.js"');

  const js = await raw(baseURL, "/console/app.js");
  expect(js.status).toBe(200);
  expect(js.headers["content-type"]).toBe("text/javascript; charset=utf-8");
  const etag = String(js.headers.etag);
  expect(etag).toMatch(/^".+"$/);
  const again = await raw(baseURL, "/console/app.js", "GET", { "if-none-match": etag });
  expect(again.status).toBe(304);
  expect(again.body).toBe("");
  expect((await raw(baseURL, "/console/app.css")).headers["content-type"]).toBe("text/css; charset=utf-8");
});

test("paths outside the console directory are refused", async ({ baseURL }) => {
  for (const path of ["/console/../../etc/passwd", "/console/%2e%2e/%2e%2e/etc/passwd",
    "/console/..%2f..%2fetc%2fpasswd", "/console/%2fetc%2fpasswd", "/console/.%2e/state/dev-signing-key.pem"]) {
    const r = await raw(baseURL, path);
    expect(r.status, path).toBe(404);
    expect(r.body, path).not.toContain("root:");
    expect(r.body, path).not.toContain("PRIVATE KEY");
  }
  expect((await raw(baseURL, "/console/app.js", "DELETE")).status).toBe(405);
});

test("the development sign-in only answers its own origin with a JSON body", async ({ baseURL }) => {
  const ok = await raw(baseURL, "/console/dev-token", "POST", { "content-type": "application/json" },
    JSON.stringify({ city: "demo", role: "editor" }));
  expect(ok.status).toBe(200);
  expect(JSON.parse(ok.body).token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  const form = await raw(baseURL, "/console/dev-token", "POST", { "content-type": "text/plain" },
    JSON.stringify({ city: "demo", role: "editor" }));
  expect(form.status).toBe(415);
  const foreign = await raw(baseURL, "/console/dev-token", "POST",
    { "content-type": "application/json", origin: "https://evil.example" }, JSON.stringify({ city: "demo", role: "admin" }));
  expect(foreign.status).toBe(403);
  const bad = await raw(baseURL, "/console/dev-token", "POST", { "content-type": "application/json" },
    JSON.stringify({ city: "demo", role: "superuser" }));
  expect(bad.status).toBe(400);
  expect(bad.body).not.toContain("token\":");
});
