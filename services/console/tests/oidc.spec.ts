// Sign-in with a city's identity provider: authorization code with PKCE (S256) against a small
// provider run by the test (discovery, authorize, token), whose ES256 key the gateway trusts
// through its JWKS file. The gateway then accepts the editor's calls made with that token.
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, expectAccessible, screenshot, test } from "./fixtures";
import { startGateway, type Gateway } from "./gateway";

const b64url = (b: Buffer) => b.toString("base64url");
const CLIENT = "civitas-console-test";

interface Provider {
  issuer: string;
  server: Server;
  tokensIssued: number;
  refusedVerifiers: number;
}

function jwt(key: KeyObject, payload: object): string {
  const head = b64url(Buffer.from(JSON.stringify({ alg: "ES256", kid: "idp-test", typ: "JWT" })));
  const body = b64url(Buffer.from(JSON.stringify(payload)));
  const sig = sign("sha256", Buffer.from(`${head}.${body}`), { key, dsaEncoding: "ieee-p1363" });
  return `${head}.${body}.${b64url(sig)}`;
}

async function startProvider(jwksPath: string): Promise<Provider> {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(jwksPath, JSON.stringify({ keys: [{ ...publicKey.export({ format: "jwk" }), kid: "idp-test", alg: "ES256", use: "sig" }] }));
  const codes = new Map<string, { challenge: string; redirect: string }>();
  const p: Provider = { issuer: "", server: createServer(), tokensIssued: 0, refusedVerifiers: 0 };
  p.server.on("request", (req, res) => {
    const url = new URL(req.url ?? "/", p.issuer);
    url.pathname = url.pathname.replace(/^\/realms\/staff/, "");
    const cors = { "access-control-allow-origin": "*" };
    if (url.pathname === "/.well-known/openid-configuration") {
      res.writeHead(200, { ...cors, "content-type": "application/json" });
      res.end(JSON.stringify({ issuer: p.issuer, authorization_endpoint: `${p.issuer}/authorize`, token_endpoint: `${p.issuer}/token` }));
      return;
    }
    if (url.pathname === "/authorize") {
      const q = url.searchParams;
      if (q.get("response_type") !== "code" || q.get("client_id") !== CLIENT || q.get("code_challenge_method") !== "S256" ||
        !q.get("code_challenge") || !q.get("state") || !(q.get("scope") ?? "").includes("openid")) {
        res.writeHead(400).end("bad authorization request");
        return;
      }
      const code = b64url(randomBytes(16));
      codes.set(code, { challenge: q.get("code_challenge")!, redirect: q.get("redirect_uri")! });
      const back = new URL(q.get("redirect_uri")!);
      back.searchParams.set("code", code);
      back.searchParams.set("state", q.get("state")!);
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (url.pathname === "/token" && req.method === "POST") {
      let data = "";
      req.on("data", (c) => (data += c));
      req.on("end", () => {
        const f = new URLSearchParams(data);
        const grant = codes.get(f.get("code") ?? "");
        codes.delete(f.get("code") ?? "");
        const verifier = f.get("code_verifier") ?? "";
        const ok = grant && f.get("grant_type") === "authorization_code" && f.get("client_id") === CLIENT &&
          f.get("redirect_uri") === grant.redirect && b64url(createHash("sha256").update(verifier).digest()) === grant.challenge;
        if (!ok) {
          p.refusedVerifiers++;
          res.writeHead(400, { ...cors, "content-type": "application/json" });
          res.end(JSON.stringify({ error: "invalid_grant", error_description: "code or code_verifier does not match" }));
          return;
        }
        p.tokensIssued++;
        const now = Math.floor(Date.now() / 1000);
        const token = jwt(privateKey, { iss: p.issuer, sub: "erika.muster", aud: CLIENT, iat: now, exp: now + 600, civitas_roles: { teststadt: ["editor"] } });
        res.writeHead(200, { ...cors, "content-type": "application/json" });
        res.end(JSON.stringify({ access_token: "opaque-not-a-jwt", id_token: token, token_type: "Bearer" }));
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => p.server.listen(0, "127.0.0.1", resolve));
  const address = p.server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  p.issuer = `http://127.0.0.1:${address.port}/realms/staff`;
  return p;
}

let gw: Gateway;
let idp: Provider;
let idpDir = "";

test.beforeAll(async () => {
  idpDir = mkdtempSync(join(tmpdir(), "civitas-idp-"));
  idp = await startProvider(join(idpDir, "jwks.json"));
  gw = await startGateway((dir) => {
    const config = join(dir, "gateway.yaml");
    writeFileSync(config, [
      "data_dir: state",
      "auth:",
      `  jwks_file: ${join(idpDir, "jwks.json")}`,
      `  issuer: ${idp.issuer}`,
      "cities:",
      "  - id: teststadt",
      "    display_name: Teststadt",
      "    console:",
      `      oidc_issuer: ${idp.issuer}`,
      `      oidc_client_id: ${CLIENT}`,
      "    modules:",
      "      - id: civitas.news",
      "",
    ].join("\n"));
    return [`--config=${config}`];
  });
});

test.afterAll(async () => {
  await gw?.stop();
  await new Promise((r) => idp?.server.close(r));
  rmSync(idpDir, { recursive: true, force: true });
});

test("an editor signs in with the city's identity provider (PKCE) and may write", async ({ page }) => {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  const csp = (await fetch(`${gw.base}/console/`)).headers.get("content-security-policy") ?? "";
  expect(csp).toContain(`connect-src 'self' ${new URL(idp.issuer).origin};`);

  await page.goto(`${gw.base}/console/`);
  await expect(page.getByRole("group", { name: "Mit dem Konto der Stadt" })).toBeVisible();
  await expect(page.getByRole("group", { name: "Entwicklungs-Anmeldung" })).toHaveCount(0);
  await expectAccessible(page, "sign-in with an identity provider");
  await screenshot(page, "sign-in-oidc");
  await page.getByRole("button", { name: "Beim Identitätsanbieter anmelden" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Nachrichten" })).toBeVisible();
  await expect(page.getByText("Angemeldet als erika.muster (Redaktion)")).toBeVisible();
  await expect(page.getByText("DEV")).toHaveCount(0);
  expect(new URL(page.url()).search).toBe(""); // the code is not left in the address bar
  expect(idp.tokensIssued).toBe(1);

  // The gateway accepts the provider's token for the editor's work.
  await page.getByRole("link", { name: "Neuer Artikel" }).click();
  await page.getByLabel("Titel", { exact: true }).fill("Über den Identitätsanbieter");
  await page.getByRole("button", { name: "Entwurf speichern" }).click();
  await expect(page.locator("#editor-status")).toHaveText("Gespeichert.");
  expect(errors).toEqual([]);
});

test("a sign-in answer that this tab did not ask for is refused", async ({ page }) => {
  await page.goto(`${gw.base}/console/?code=stolen&state=forged`);
  await expect(page.locator("#sign-in-error")).toContainText("does not belong to a sign-in started here");
  await expect(page.getByRole("heading", { level: 1, name: "Anmelden" })).toBeVisible();
  expect(await page.evaluate(() => sessionStorage.getItem("civitas.console.session"))).toBeNull();
  expect(new URL(page.url()).search).toBe("");
  // And a code without its verifier gets no token from the provider.
  const before = idp.refusedVerifiers;
  const r = await fetch(`${idp.issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: "authorization_code", code: "stolen", client_id: CLIENT, code_verifier: "x" }),
  });
  expect(r.status).toBe(400);
  expect(idp.refusedVerifiers).toBe(before + 1);
});
