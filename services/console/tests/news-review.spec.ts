// News in a city with four-eyes review, against a gateway of its own (civitas.news with
// review_required: true; the demo's development key for the sign-in): an editor writes an article
// with an English translation and an image, cannot publish it nor approve it herself; a second
// editor approves it; then it goes out, in English too. The history names both and what they did.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "@playwright/test";
import { expect, expectAccessible, roleLabel, screenshot, test, watchForErrors } from "./fixtures";
import { startGateway, type Gateway } from "./gateway";

let gw: Gateway;

test.beforeAll(async () => {
  const demoData = process.env.CONSOLE_DEMO_DATA_DIR ?? "";
  gw = await startGateway((dir) => {
    const state = join(dir, "state");
    mkdirSync(state, { recursive: true });
    for (const f of ["dev-jwks.json", "dev-signing-key.pem"]) copyFileSync(join(demoData, f), join(state, f));
    const config = join(dir, "gateway.yaml");
    writeFileSync(config, [
      `data_dir: ${state}`,
      "auth:",
      `  jwks_file: ${join(state, "dev-jwks.json")}`,
      "cities:",
      "  - id: demo",
      "    display_name: Vier Augen",
      "    modules:",
      "      - id: civitas.news",
      "        config:",
      "          review_required: true",
      "",
    ].join("\n"));
    return [`--config=${config}`];
  });
});

test.afterAll(async () => {
  await gw?.stop();
});

async function devToken(role: string, subject?: string): Promise<{ token: string; subject: string }> {
  const r = await fetch(`${gw.base}/console/dev-token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ city: "demo", role, ...(subject ? { subject } : {}) }),
  });
  expect(r.status).toBe(200);
  return r.json();
}

async function signInAt(page: Page, role: string): Promise<void> {
  await page.goto(`${gw.base}/console/`);
  await page.getByRole("radio", { name: roleLabel(role) }).check();
  await page.getByRole("button", { name: "Anmelden" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Nachrichten" })).toBeVisible();
}

// A second editor with a subject of her own, signed in in a browser context of its own.
async function secondEditor(browser: Browser): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  const { token, subject } = await devToken("editor", "lektorat");
  await page.goto(`${gw.base}/console/`);
  await page.evaluate(
    ([token, subject]) =>
      sessionStorage.setItem(
        "civitas.console.session",
        JSON.stringify({ token, city: "demo", subject, roles: ["editor"], expires: 0, development: true }),
      ),
    [token, subject],
  );
  await page.reload();
  await expect(page.getByRole("heading", { level: 1, name: "Nachrichten" })).toBeVisible();
  return page;
}

test("translations, images, a second editor's approval and the history", async ({ page, browser }) => {
  const errors = watchForErrors(page);
  await signInAt(page, "editor");
  await page.getByRole("link", { name: "Neuer Artikel" }).click();
  const title = `Neue Buslinie ${Date.now().toString(36)}`;
  await page.getByLabel("Titel", { exact: true }).fill(title);
  await page.getByLabel("Text", { exact: true }).fill("Ab Montag fährt die Linie 42.");
  await page.getByRole("button", { name: "Übersetzung hinzufügen" }).click();
  await expect(page.getByLabel("Sprache der Übersetzung")).toBeFocused();
  await expect(page.getByLabel("Sprache der Übersetzung")).toHaveValue("en");
  // Another language and back: the choice keeps the focus, the labels follow.
  await page.getByLabel("Sprache der Übersetzung").selectOption("tr");
  await expect(page.getByLabel("Sprache der Übersetzung")).toBeFocused();
  await expect(page.getByLabel("Titel (Türkisch)")).toBeVisible();
  await page.getByLabel("Sprache der Übersetzung").selectOption("en");
  await page.getByLabel("Titel (Englisch)").fill(`New bus line ${title.slice(-6)}`);
  await page.getByLabel("Text (Englisch)").fill("Line 42 runs from Monday.");
  await page.getByRole("button", { name: "Bild hinzufügen" }).click();
  await page.getByLabel("Adresse (https) – Bild 1").fill("https://www.example.org/bus.jpg");
  await page.getByLabel("Beschreibung (Alternativtext) – Bild 1").fill("Ein gelber Bus an der Haltestelle");
  await page.getByLabel("Bildrechte – Bild 1").fill("Stadt / Foto: K. Meier");
  await page.getByRole("button", { name: "Entwurf speichern" }).click();
  await expect(page.locator("#editor-status")).toHaveText("Gespeichert.");
  const id = new URL(page.url()).hash.replace("#/news/", "");

  // Stored as typed.
  const author = await page.evaluate(() => JSON.parse(sessionStorage.getItem("civitas.console.session") ?? "{}").token);
  const stored = await (await fetch(`${gw.base}/cities/demo/v1/articles/${id}`, { headers: { authorization: `Bearer ${author}` } })).json();
  expect(stored.localizations).toEqual([{ languageCode: "en", title: `New bus line ${title.slice(-6)}`, teaser: "", body: "Line 42 runs from Monday." }]);
  expect(stored.images).toEqual([{ url: "https://www.example.org/bus.jpg", altText: "Ein gelber Bus an der Haltestelle", copyright: "Stadt / Foto: K. Meier" }]);
  expect(stored.reviewRequired).toBe(true);

  // The author may neither approve nor publish: the console says why, the gateway refuses.
  const review = page.getByRole("region", { name: "Freigabe (Vier-Augen-Prinzip)" });
  await expect(review.locator("#review-state")).toHaveText("Noch nicht freigegeben.");
  await expect(review.getByRole("button", { name: "Freigeben" })).toBeHidden();
  await expect(review).toContainText("freigeben muss ihn jemand anderes");
  await page.getByRole("button", { name: "Jetzt veröffentlichen" }).click();
  // In the user's language: the gateway names the reason (ARTICLE_NOT_APPROVED, docs/errors.md).
  await expect(page.locator("#editor-alert")).toContainText(
    "veröffentlicht Artikel erst nach Freigabe durch eine zweite Redakteurin",
  );
  const own = await fetch(`${gw.base}/cities/demo/v1/articles/${id}:approve`, {
    method: "POST",
    headers: { authorization: `Bearer ${author}`, "content-type": "application/json" },
    body: "{}",
  });
  expect(own.status).toBe(403);
  await expectAccessible(page, "news editor with translations, images and review");
  await page.locator(".translations").scrollIntoViewIfNeeded();
  await screenshot(page, "news-translations");

  // The second editor approves; her list says what waits for approval.
  const reviewer = await secondEditor(browser);
  const reviewerErrors = watchForErrors(reviewer);
  await expect(reviewer.getByRole("row").filter({ hasText: title })).toContainText("wartet auf Freigabe");
  await expectAccessible(reviewer, "news list with the review state");
  await reviewer.goto(`${gw.base}/console/#/news/${id}`);
  await expect(reviewer.getByLabel("Titel", { exact: true })).toHaveValue(title);
  await expect(reviewer.getByLabel("Titel (Englisch)")).toHaveValue(`New bus line ${title.slice(-6)}`);
  const approve = reviewer.getByRole("button", { name: "Freigeben" });
  await expect(approve).toBeVisible();
  await expectAccessible(reviewer, "news editor for the reviewer");
  await reviewer.locator(".review").scrollIntoViewIfNeeded();
  await screenshot(reviewer, "news-review");
  await approve.click();
  await expect(reviewer.locator("#editor-status")).toHaveText("Freigegeben. Der Artikel kann jetzt veröffentlicht oder geplant werden.");
  await expect(reviewer.locator("#review-state")).toContainText("Freigegeben von dev-lektorat am");

  await reviewer.getByRole("navigation", { name: "Hauptnavigation" }).getByRole("link", { name: "Nachrichten" }).click();
  await expect(reviewer.getByRole("row").filter({ hasText: title })).toContainText("freigegeben");
  await expect(reviewer.getByRole("row").filter({ hasText: title })).not.toContainText("wartet");

  // Now the author publishes; the app sees it in English too.
  await page.reload();
  await expect(page.locator("#review-state")).toContainText("Freigegeben von dev-lektorat");
  await page.getByRole("button", { name: "Jetzt veröffentlichen" }).click();
  await expect(page.locator("#editor-status")).toHaveText("Veröffentlicht.");
  const english = await (await fetch(`${gw.base}/cities/demo/v1/articles/${id}?language_code=en`)).json();
  expect(english.title).toBe(`New bus line ${title.slice(-6)}`);
  expect(english.approver ?? "").toBe("");

  // The history: who did what, newest first.
  const history = page.getByRole("region", { name: "Verlauf" });
  const rows = history.locator("tbody tr");
  await expect(rows.first()).toContainText("Veröffentlicht");
  await expect(rows.first()).toContainText("dev-editor");
  await expect(history).toContainText("dev-lektorat");
  await expect(history).toContainText("Freigegeben");
  await expect(rows.last()).toContainText("Angelegt");
  await expectAccessible(page, "news editor with the history");
  await history.scrollIntoViewIfNeeded();
  await screenshot(page, "news-history");

  // In English.
  await page.getByRole("button", { name: "Switch to English" }).click();
  await expect(page.getByRole("region", { name: "History" })).toContainText("Approved");
  await expect(page.getByRole("region", { name: "Approval (four eyes)" })).toContainText("Approved by dev-lektorat");

  // A citizen reads no history.
  const citizen = await devToken("citizen");
  const refused = await fetch(`${gw.base}/cities/demo/v1/articles/${id}/history`, { headers: { authorization: `Bearer ${citizen.token}` } });
  expect(refused.status).toBe(403);
  expect(errors).toEqual([]);
  expect(reviewerErrors).toEqual([]);
});

test("the editor with translations, images and history fits 360 px", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await signInAt(page, "editor");
  await page.getByRole("link", { name: "Neuer Artikel" }).click();
  await page.getByLabel("Titel", { exact: true }).fill("Schmal");
  await page.getByRole("button", { name: "Übersetzung hinzufügen" }).click();
  await page.getByRole("button", { name: "Bild hinzufügen" }).click();
  await page.getByLabel("Adresse (https) – Bild 1").fill("https://www.example.org/a-very-long-file-name-for-a-picture-of-the-town-hall.jpg");
  await page.getByLabel("Beschreibung (Alternativtext) – Bild 1").fill("Rathaus");
  await page.getByLabel("Titel (Englisch)").fill("Narrow");
  await page.getByRole("button", { name: "Entwurf speichern" }).click();
  await expect(page.locator("#editor-status")).toHaveText("Gespeichert.");
  await expect(page.getByRole("region", { name: "Verlauf" }).locator("tbody tr")).toHaveCount(1);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(await overflow(), "horizontal scrolling in the news editor").toBeLessThanOrEqual(0);
  await expectAccessible(page, "news editor at 360 px");
});
