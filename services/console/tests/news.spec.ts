// The News screen end to end: sign-in, write and publish (keyboard only) and find the article in
// the public RSS feed, schedule in city time, the etag conflict between two editors, roles, axe.
import type { Page } from "@playwright/test";
import { expect, expectAccessible, newSignedInPage, screenshot, signIn, test, watchForErrors } from "./fixtures";

// Unique titles: the tests share one gateway, and a re-run must not find an old article.
const unique = (what: string) => `${what} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;

// Presses Tab until the focused element matches, at most `limit` times: the path a keyboard user takes.
async function tabTo(page: Page, selector: string, limit = 40): Promise<void> {
  for (let i = 0; i < limit; i++) {
    if (await page.evaluate((s) => document.activeElement?.matches(s) ?? false, selector)) return;
    await page.keyboard.press("Tab");
  }
  throw new Error(`${selector} not reached with ${limit} Tab presses`);
}

test("sign-in screen: development sign-in is marked, languages switch", async ({ page }) => {
  const errors = watchForErrors(page);
  await page.goto("/console/");
  await expect(page.getByRole("group", { name: "Entwicklungs-Anmeldung" })).toBeVisible();
  await expect(page.getByText("Nur für die Demo")).toBeVisible();
  await expectAccessible(page, "sign-in (de)");
  await screenshot(page, "sign-in");
  await page.getByRole("button", { name: "Switch to English" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expectAccessible(page, "sign-in (en)");
  await page.reload();
  await expect(page.getByRole("heading", { level: 1, name: "Sign in" })).toBeVisible();
  await page.getByRole("button", { name: "Auf Deutsch umschalten" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Anmelden" })).toBeVisible();
  expect(errors).toEqual([]);
});

test("an editor writes and publishes with the keyboard alone; the article is in the RSS feed", async ({ page, baseURL }) => {
  const errors = watchForErrors(page);
  await signIn(page, "editor");
  await expect(page.getByRole("link", { name: "Neuer Artikel" })).toBeVisible();
  await expect(page.getByRole("status").filter({ hasText: /\d+ \/ \d+/ })).toBeVisible();
  await expectAccessible(page, "news list");
  await screenshot(page, "news-list");

  const title = unique("Neue Spielplätze");
  await tabTo(page, "#new-article");
  await page.keyboard.press("Enter");
  await expect(page.getByRole("heading", { level: 1, name: "Neuer Artikel" })).toBeVisible();
  await expect(page.locator("#f-title")).toBeFocused();
  await page.keyboard.type(title);
  await tabTo(page, "#f-teaser");
  await page.keyboard.type("Drei neue Spielplätze im Norden");
  await tabTo(page, "#f-body");
  await page.keyboard.type("Die Stadt eröffnet drei Spielplätze.");
  await expectAccessible(page, "news editor");
  await screenshot(page, "news-editor");
  await tabTo(page, "#publish");
  await page.keyboard.press("Enter");
  await expect(page.locator("#editor-status")).toHaveText("Veröffentlicht.");
  await expect(page.locator("#editor-state")).toHaveText("Status: Veröffentlicht");

  // Citizens' feed readers see it.
  await expect
    .poll(async () => (await (await fetch(`${baseURL}/cities/demo/v1/feed`)).text()).includes(title))
    .toBe(true);
  const feed = await fetch(`${baseURL}/cities/demo/v1/feed`);
  expect(feed.headers.get("content-type")).toContain("application/rss+xml");

  // And the list, filtered by state and searched by title.
  await page.getByRole("link", { name: "Zurück zur Liste" }).click();
  await page.getByLabel("Status", { exact: true }).selectOption("PUBLISHED");
  await page.getByLabel("Suche im Titel", { exact: true }).fill(title);
  const row = page.getByRole("row").filter({ hasText: title });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("Veröffentlicht");
  await page.getByLabel("Status", { exact: true }).selectOption("DRAFT");
  await expect(page.getByRole("row").filter({ hasText: title })).toHaveCount(0);
  expect(errors).toEqual([]);
});

test("scheduling uses the city's time zone, not the browser's", async ({ page, baseURL }) => {
  await signIn(page, "editor");
  await page.getByRole("link", { name: "Neuer Artikel" }).click();
  const title = unique("Weihnachtsmarkt");
  await page.getByLabel("Titel", { exact: true }).fill(title);
  await page.getByLabel("Text", { exact: true }).fill("Öffnet am 1. Juni.");
  // 09:00 in Berlin (summer time, UTC+2) while the browser runs in New York.
  await page.getByLabel("Veröffentlichen am (Zeit der Stadt)", { exact: true }).fill("2030-06-01T09:00");
  await page.getByRole("button", { name: "Planen" }).click();
  await expect(page.locator("#editor-status")).toContainText("09:00");
  await expect(page.locator("#editor-state")).toHaveText("Status: Geplant");
  const id = new URL(page.url()).hash.replace("#/news/", "");
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("civitas.console.session") ?? "{}").token);
  const article = await (await fetch(`${baseURL}/cities/demo/v1/articles/${id}`, {
    headers: { authorization: `Bearer ${token}` },
  })).json();
  expect(article.state).toBe("SCHEDULED");
  expect(article.publishTime).toBe("2030-06-01T07:00:00Z");
  const feed = await (await fetch(`${baseURL}/cities/demo/v1/feed`)).text();
  expect(feed).not.toContain(title);
});

test("an etag conflict between two editors keeps the second editor's text", async ({ browser, baseURL }) => {
  const first = await newSignedInPage(browser, "editor");
  const second = await newSignedInPage(browser, "editor");
  const title = unique("Baustelle Hauptstraße");

  await first.getByRole("link", { name: "Neuer Artikel" }).click();
  await first.getByLabel("Titel", { exact: true }).fill(title);
  await first.getByLabel("Text", { exact: true }).fill("Erste Fassung.");
  await first.getByRole("button", { name: "Entwurf speichern" }).click();
  await expect(first.locator("#editor-status")).toHaveText("Gespeichert.");
  const url = first.url();
  expect(url).toMatch(/#\/news\/[\w-]+$/);

  await second.goto(url);
  await expect(second.getByLabel("Titel", { exact: true })).toHaveValue(title);

  await first.getByLabel("Titel", { exact: true }).fill(`${title} (geändert)`);
  await first.getByRole("button", { name: "Entwurf speichern" }).click();
  await expect(first.locator("#editor-status")).toHaveText("Gespeichert.");

  const mine = "Zweite Fassung, von der zweiten Redakteurin.";
  await second.getByLabel("Text", { exact: true }).fill(mine);
  await second.getByRole("button", { name: "Entwurf speichern" }).click();
  await expect(second.getByRole("alert").filter({ hasText: "von jemand anderem geändert" })).toBeVisible();
  await expect(second.getByLabel("Text", { exact: true })).toHaveValue(mine);
  await expectAccessible(second, "news editor with a conflict");
  await screenshot(second, "news-conflict");

  // A reload of the page itself keeps the typed text as well (kept in the browser until saved).
  await second.reload();
  await expect(second.getByLabel("Text", { exact: true })).toHaveValue(mine);
  await second.getByRole("button", { name: "Entwurf speichern" }).click();
  const reload = second.getByRole("button", { name: "Neueste Fassung laden, meinen Text behalten" });
  await expect(reload).toBeVisible();
  await reload.click();
  await expect(second.locator("#editor-status")).toContainText("(geändert)");
  await expect(second.getByLabel("Text", { exact: true })).toHaveValue(mine);
  await second.getByRole("button", { name: "Entwurf speichern" }).click();
  await expect(second.locator("#editor-status")).toHaveText("Gespeichert.");

  const id = url.replace(/.*#\/news\//, "");
  const token = await second.evaluate(() => JSON.parse(sessionStorage.getItem("civitas.console.session") ?? "{}").token);
  const article = await (await fetch(`${baseURL}/cities/demo/v1/articles/${id}`, {
    headers: { authorization: `Bearer ${token}` },
  })).json();
  expect(article.body).toBe(mine);
  // Signing out leaves none of the typed text in the browser.
  await second.getByRole("button", { name: "Abmelden" }).click();
  await expect(second.getByRole("heading", { level: 1, name: "Anmelden" })).toBeVisible();
  expect(await second.evaluate(() => Object.keys(localStorage).filter((k) => k.includes("draft")))).toEqual([]);
  await first.context().close();
  await second.context().close();
});

test("a citizen sees published news only and no editing", async ({ page, baseURL }) => {
  // A draft written by an editor meanwhile.
  const editor = await (await fetch(`${baseURL}/console/dev-token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ city: "demo", role: "editor" }),
  })).json();
  const draftTitle = unique("Unveröffentlicht");
  const created = await fetch(`${baseURL}/cities/demo/v1/articles`, {
    method: "POST",
    headers: { authorization: `Bearer ${editor.token}`, "content-type": "application/json" },
    body: JSON.stringify({ title: draftTitle }),
  });
  expect(created.status).toBe(200);
  expect((await created.json()).state).toBe("DRAFT");

  await signIn(page, "citizen");
  await expect(page.getByText("Ihre Rolle darf Nachrichten lesen, aber nicht bearbeiten.")).toBeVisible();
  await expect(page.getByRole("link", { name: "Neuer Artikel" })).toHaveCount(0);
  await expect(page.getByRole("status").filter({ hasText: /\d+ \/ \d+|Keine Artikel/ })).toBeVisible();
  await expect(page.getByRole("cell", { name: "Veröffentlicht", exact: true }).first()).toBeVisible();
  await expect(page.getByRole("cell", { name: "Entwurf", exact: true })).toHaveCount(0);
  await expect(page.getByRole("row").filter({ hasText: draftTitle })).toHaveCount(0);
  await expectAccessible(page, "news list (citizen)");
  // The editor is not offered, even by its address; and the server refuses the call anyway.
  await page.goto("/console/#/news/new");
  await expect(page.getByRole("heading", { level: 1, name: "Nachrichten" })).toBeVisible();
  await expect(page.getByLabel("Titel", { exact: true })).toHaveCount(0);
  const status = await page.evaluate(async () => {
    const token = JSON.parse(sessionStorage.getItem("civitas.console.session") ?? "{}").token;
    const r = await fetch("/cities/demo/v1/articles", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ title: "Darf ich nicht" }),
    });
    return r.status;
  });
  expect(status).toBe(403);
});

test("the list and the editor fit a 360 px wide screen", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await signIn(page, "editor");
  await expect(page.getByRole("status").filter({ hasText: /\d+ \/ \d+/ })).toBeVisible();
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(await overflow(), "horizontal scrolling on the list").toBeLessThanOrEqual(0);
  await expectAccessible(page, "news list at 360 px");
  await page.getByRole("link", { name: "Neuer Artikel" }).click();
  await expect(page.getByLabel("Titel", { exact: true })).toBeFocused();
  expect(await overflow(), "horizontal scrolling in the editor").toBeLessThanOrEqual(0);
  const publish = page.getByRole("button", { name: "Jetzt veröffentlichen" });
  await publish.scrollIntoViewIfNeeded();
  await expect(publish).toBeInViewport({ ratio: 1 });
  await expectAccessible(page, "news editor at 360 px");
});
