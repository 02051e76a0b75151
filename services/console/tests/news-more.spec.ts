// The News screen's further tools end to end: categories, tags, pin and expiry in the editor, the
// preview as the app shows it, duplicating an article, and archiving several at once (gone from
// the public RSS feed).
import { expect, expectAccessible, screenshot, signIn, test, watchForErrors } from "./fixtures";

const unique = (what: string) => `${what} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;

async function article(page: import("@playwright/test").Page, baseURL: string, id: string) {
  const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem("civitas.console.session") ?? "{}").token);
  return (await fetch(`${baseURL}/cities/demo/v1/articles/${id}`, { headers: { authorization: `Bearer ${token}` } })).json();
}

test("categories, tags, pin, expiry and the preview; duplicate; archive several at once", async ({ page, baseURL }) => {
  const errors = watchForErrors(page);
  await signIn(page, "editor");
  await page.getByRole("link", { name: "Neuer Artikel" }).click();
  const title = unique("Radweg am Wall");
  await page.getByLabel("Titel", { exact: true }).fill(title);
  await page.getByLabel("Kurzfassung").fill("Ab Montag fahren Räder getrennt vom Verkehr.");
  await page.getByLabel("Text", { exact: true }).fill("Der neue Radweg ist 2 km lang.\n\nEr verbindet Bahnhof und Markt.");
  await page.getByRole("checkbox", { name: "Verkehr" }).check();
  await page.getByRole("checkbox", { name: "Umwelt" }).check();
  await page.getByLabel("Schlagwörter").fill("Radweg, Innenstadt");
  await page.getByLabel(/Oben anheften/).check();
  // 20:00 in Berlin on 1 July (summer time, UTC+2), whatever the browser's zone.
  await page.getByLabel(/Archivieren am/).fill("2031-07-01T20:00");

  await page.getByRole("button", { name: "Vorschau", exact: true }).click();
  const preview = page.getByRole("region", { name: "Vorschau: so zeigt es die App" });
  await expect(preview.getByRole("heading", { level: 3 })).toHaveText(title);
  await expect(preview).toContainText("Angeheftet");
  await expect(preview).toContainText("Verkehr · Umwelt");
  await expect(preview).toContainText("#Radweg #Innenstadt");
  await expect(preview.locator("p")).toContainText(["Er verbindet Bahnhof und Markt."]);
  // The preview follows the typing.
  await page.getByLabel("Kurzfassung").fill("Ab Montag: eigener Radweg.");
  await expect(preview).toContainText("Ab Montag: eigener Radweg.");
  await expect(page.getByRole("button", { name: "Vorschau schließen" })).toHaveAttribute("aria-expanded", "true");
  await expectAccessible(page, "news editor with the preview");
  await preview.scrollIntoViewIfNeeded();
  await screenshot(page, "news-preview");

  await page.getByRole("button", { name: "Jetzt veröffentlichen" }).click();
  await expect(page.locator("#editor-status")).toHaveText("Veröffentlicht.");
  const id = new URL(page.url()).hash.replace("#/news/", "");
  const saved = await article(page, baseURL, id);
  expect(saved.categories).toEqual(["verkehr", "umwelt"]);
  expect(saved.tags).toEqual(["Radweg", "Innenstadt"]);
  expect(saved.pinned).toBe(true);
  expect(saved.expireTime).toBe("2031-07-01T18:00:00Z");
  // Reloaded, the editor shows what is stored.
  await page.reload();
  await expect(page.getByRole("checkbox", { name: "Verkehr" })).toBeChecked();
  await expect(page.getByLabel("Schlagwörter")).toHaveValue("Radweg, Innenstadt");
  await expect(page.getByLabel(/Archivieren am/)).toHaveValue("2031-07-01T20:00");

  // Duplicate: a new draft with the same content, not pinned; the original unchanged.
  await page.getByRole("button", { name: "Duplizieren" }).click();
  await expect(page.locator("#editor-status")).toHaveText("Kopie als Entwurf angelegt. Das Original ist unverändert.");
  await expect(page.getByLabel("Titel", { exact: true })).toHaveValue(`Kopie: ${title}`);
  await expect(page.locator("#editor-state")).toHaveText("Status: Entwurf");
  const copyId = new URL(page.url()).hash.replace("#/news/", "");
  expect(copyId).not.toBe(id);
  const copy = await article(page, baseURL, copyId);
  expect(copy.state).toBe("DRAFT");
  expect(copy.body).toBe(saved.body);
  expect(copy.pinned ?? false).toBe(false);
  expect((await article(page, baseURL, id)).state).toBe("PUBLISHED");
  expect(await (await fetch(`${baseURL}/cities/demo/v1/feed`)).text()).toContain(title);

  // Both archived at once from the list.
  await page.getByRole("link", { name: "Zurück zur Liste" }).click();
  await page.getByLabel("Suche im Titel", { exact: true }).fill(title);
  await expect(page.getByRole("row").filter({ hasText: title })).toHaveCount(2);
  await expect(page.getByRole("row").filter({ hasText: title }).filter({ hasNotText: "Kopie" })).toContainText("Angeheftet");
  await expect(page.getByRole("button", { name: "Ausgewählte archivieren" })).toBeDisabled();
  await page.getByRole("checkbox", { name: `„${title}“ auswählen` }).check();
  await page.getByRole("checkbox", { name: `„Kopie: ${title}“ auswählen` }).check();
  await expectAccessible(page, "news list with a selection");
  await page.getByRole("button", { name: "Ausgewählte archivieren" }).click();
  await expect(page.locator("#bulk-status")).toHaveText("2 Artikel archiviert.");
  await expect(page.getByRole("row").filter({ hasText: title })).toHaveCount(2);
  for (const r of await page.getByRole("row").filter({ hasText: title }).all()) await expect(r).toContainText("Archiviert");
  expect((await article(page, baseURL, id)).state).toBe("ARCHIVED");
  expect((await article(page, baseURL, copyId)).state).toBe("ARCHIVED");
  expect(await (await fetch(`${baseURL}/cities/demo/v1/feed`)).text()).not.toContain(title);
  expect(errors).toEqual([]);
});
