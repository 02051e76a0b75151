// The participation screen end to end: a flagged comment appears in the open moderation queue by
// itself, the moderator hides it with a reason and it is gone from the public list, restores it,
// and an admin reads both decisions in the audit trail; an editor answers an idea officially;
// an editor creates a poll and reads its results.
import type { Page } from "@playwright/test";
import { expect, expectAccessible, newSignedInPage, screenshot, signIn, test, watchForErrors } from "./fixtures";

const unique = (what: string) => `${what} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;

async function token(baseURL: string, role: string): Promise<string> {
  const r = await fetch(`${baseURL}/console/dev-token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ city: "demo", role }),
  });
  return (await r.json()).token;
}

async function api(baseURL: string, bearer: string | null, method: string, path: string, body?: unknown) {
  const r = await fetch(`${baseURL}/cities/demo/v1/${path}`, {
    method,
    headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await r.json();
  expect(r.status, `${method} ${path}: ${JSON.stringify(json)}`).toBe(200);
  return json;
}

async function goToParticipation(page: Page, part?: string): Promise<void> {
  await page.getByRole("navigation", { name: "Hauptnavigation" }).getByRole("link", { name: "Beteiligung" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Beteiligung" })).toBeVisible();
  if (part) await page.getByRole("navigation", { name: "Bereiche der Beteiligung" }).getByRole("link", { name: part }).click();
}

test("a flagged comment appears in the open queue; hidden, it is gone from the public list", async ({ page, browser, baseURL }) => {
  const errors = watchForErrors(page);
  const citizen = await token(baseURL, "citizen");
  const idea = await api(baseURL, citizen, "POST", "ideas", {
    title: unique("Mehr Bänke am Kanal"),
    body: "Am Kanal fehlen Sitzgelegenheiten für ältere Menschen.",
    authorDisplayName: "Anna",
  });
  const words = unique("Beleidigender Kommentar");
  const comment = await api(baseURL, citizen, "POST", `${idea.name}/comments`, { body: words, authorDisplayName: "Troll" });
  const publicBodies = async () =>
    ((await api(baseURL, null, "GET", `${idea.name}/comments`)).comments ?? []).map((c: { body?: string }) => c.body ?? "");
  expect(await publicBodies()).toContain(words);

  await signIn(page, "moderator");
  await goToParticipation(page);
  await expect(page.getByRole("heading", { level: 2, name: "Moderation" })).toBeVisible();
  await expect(page.locator("#queue-status")).toHaveText(/gemeldete|gemeldeter/);
  await expect(page.locator("#queue tr").filter({ hasText: words })).toHaveCount(0);

  // Flagged while the moderator looks at the queue: it shows up without a reload.
  await api(baseURL, citizen, "POST", "moderation:flag", { item: comment.name, reason: "Beleidigung" });
  const row = page.locator("#queue tr").filter({ hasText: words });
  await expect(row).toHaveCount(1, { timeout: 15_000 });
  await expect(row).toContainText("Sichtbar");
  await expectAccessible(page, "moderation queue");
  await screenshot(page, "participation-moderation");

  // A decision needs a reason.
  await row.getByRole("button", { name: "Ausblenden" }).click();
  await expect(page.locator("#queue-alert")).toContainText("Grund");
  await row.getByLabel(/Grund für die Entscheidung/).fill("Beleidigt andere Nutzer");
  await row.getByRole("button", { name: "Ausblenden" }).click();
  await expect(page.locator("#queue-decision")).toHaveText(`Ausgeblendet: ${words}`);
  await expect(page.locator("#queue tr").filter({ hasText: words })).toHaveCount(0);
  expect(await publicBodies()).not.toContain(words);
  const shown = (await api(baseURL, null, "GET", `${idea.name}/comments`)).comments.find(
    (c: { name: string }) => c.name === comment.name,
  );
  expect(shown.hidden).toBe(true);

  // Restored from the list of this session's decisions.
  const decided = page.locator("#decided li").filter({ hasText: words });
  await decided.getByLabel(/Grund für die Entscheidung/).fill("Nach Rücksprache vertretbar");
  await decided.getByRole("button", { name: "Wiederherstellen" }).click();
  await expect(page.locator("#queue-decision")).toHaveText(`Sichtbar: ${words}`);
  expect(await publicBodies()).toContain(words);
  // The moderator reads both decisions in the audit trail: who, what, when, why.
  const trail = page.locator("#audit tr").filter({ hasText: comment.name });
  await expect(trail.filter({ hasText: "Beleidigt andere Nutzer" })).toContainText("Ausgeblendet");
  await expect(trail.filter({ hasText: "Nach Rücksprache vertretbar" })).toContainText("Wiederhergestellt");
  await expect(trail.first()).toContainText("dev-moderator");
  await expectAccessible(page, "moderation with the audit trail, as a moderator");
  await page.getByRole("heading", { level: 2, name: "Protokoll" }).scrollIntoViewIfNeeded();
  await screenshot(page, "participation-audit");

  // An admin reads both decisions, with their reasons, in the audit trail.
  const admin = await newSignedInPage(browser, "admin");
  await goToParticipation(admin);
  const audit = admin.locator("#audit tr").filter({ hasText: comment.name });
  await expect(audit.filter({ hasText: "Beleidigt andere Nutzer" })).toContainText("Ausgeblendet");
  await expect(audit.filter({ hasText: "Nach Rücksprache vertretbar" })).toContainText("Wiederhergestellt");
  await expectAccessible(admin, "moderation with the audit trail");
  await admin.context().close();

  expect(errors).toEqual([]);
});

test("an editor answers an idea; the answer is public", async ({ page, baseURL }) => {
  const citizen = await token(baseURL, "citizen");
  const title = unique("Trinkbrunnen am Markt");
  const idea = await api(baseURL, citizen, "POST", "ideas", {
    title,
    body: "Im Sommer fehlt Trinkwasser in der Innenstadt.",
    authorDisplayName: "Ben",
  });
  await signIn(page, "editor");
  await goToParticipation(page);
  await expect(page.getByRole("heading", { level: 2, name: "Ideen" })).toBeVisible();
  await page.getByRole("link", { name: title }).click();
  await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
  await page.getByLabel("Neuer Status").selectOption("ACCEPTED");
  await page.getByLabel("Antwort der Stadt").fill("Kommt im Frühjahr an den Marktplatz.");
  await expectAccessible(page, "idea with the answer form");
  await screenshot(page, "participation-idea");
  await page.getByRole("button", { name: "Antwort veröffentlichen" }).click();
  await expect(page.locator("#idea-status")).toHaveText("Die Antwort ist veröffentlicht.");
  await expect(page.locator("#idea-current-status")).toHaveText("Angenommen");
  const shown = await api(baseURL, null, "GET", idea.name);
  expect(shown.status).toBe("ACCEPTED");
  expect(shown.officialAnswer).toBe("Kommt im Frühjahr an den Marktplatz.");
});

test("an editor creates a poll and reads its results", async ({ page, baseURL }) => {
  await signIn(page, "editor");
  await goToParticipation(page, "Umfragen");
  const title = unique("Wie soll der neue Platz heißen");
  await page.getByLabel("Titel", { exact: true }).fill(title);
  await page.getByLabel("Endet am (Zeit der Stadt)").fill("2031-03-01T18:00");
  await page.getByLabel("Frage", { exact: true }).fill("Welcher Name?");
  await page.getByLabel("Antwortmöglichkeiten").fill("Rosa-Parks-Platz\nMarktplatz\nAm Brunnen");
  await page.getByRole("button", { name: "Frage hinzufügen" }).click();
  await expect(page.locator("#q-2-text")).toBeFocused();
  await page.keyboard.type("Soll es einen Brunnen geben?");
  await page.locator("#q-2-options").fill("Ja\nNein");
  await expectAccessible(page, "poll editor");
  await screenshot(page, "participation-poll-editor");
  await page.getByRole("button", { name: "Umfrage anlegen" }).click();
  await expect(page.getByRole("heading", { level: 1, name: title })).toBeVisible();
  await expect(page.locator("#poll-state")).toHaveText("Läuft");
  // 18:00 in Berlin (winter time, UTC+1).
  await expect(page.locator("#poll-results")).toContainText("01.03.2031, 18:00");
  const id = new URL(page.url()).hash.replace("#/participation/polls/", "");
  const poll = await api(baseURL, null, "GET", `polls/${id}`);
  expect(poll.closeTime).toBe("2031-03-01T17:00:00Z");

  await api(baseURL, await token(baseURL, "citizen"), "POST", `polls/${id}:vote`, { answers: [{ options: [0] }, { options: [1] }] });
  await page.reload();
  await expect(page.locator("#poll-ballots")).toHaveText("1");
  const first = page.getByRole("table", { name: "1. Welcher Name?" });
  await expect(first.getByRole("row", { name: /Rosa-Parks-Platz/ })).toContainText("100 %");
  await expectAccessible(page, "poll results");
  await screenshot(page, "participation-poll-results");

  // The list of all polls has it, open; from there it is closed early.
  await page.getByRole("link", { name: "Zurück zu den Umfragen" }).click();
  const listed = page.locator(`#polls tr[data-poll="${id}"]`);
  await expect(listed).toContainText("Läuft");
  await expect(listed).toContainText("01.03.2031, 18:00");
  await expect(listed).toContainText(title);
  await expect(page.locator("#polls-status")).toHaveText(/Umfrage/);
  await expectAccessible(page, "the list of polls");
  await screenshot(page, "participation-polls");
  await listed.getByRole("link", { name: title }).click();
  await page.getByRole("button", { name: "Umfrage jetzt beenden" }).click();
  await expect(page.locator("#close-poll-question")).toContainText("niemand mehr abstimmen");
  await page.getByRole("button", { name: "Abbrechen" }).click();
  await expect(page.getByRole("button", { name: "Umfrage jetzt beenden" })).toBeFocused();
  expect((await api(baseURL, null, "GET", `polls/${id}`)).closeTime).toBe("2031-03-01T17:00:00Z");
  await page.getByRole("button", { name: "Umfrage jetzt beenden" }).click();
  await page.getByRole("button", { name: "Ja, jetzt beenden" }).click();
  await expect(page.locator("#poll-status")).toHaveText("Die Umfrage ist beendet.");
  await expect(page.locator("#poll-state")).toHaveText("Beendet");
  const closed = await api(baseURL, null, "GET", `polls/${id}`);
  expect(new Date(closed.closeTime).getTime()).toBeLessThanOrEqual(Date.now());
  const late = await fetch(`${baseURL}/cities/demo/v1/polls/${id}:vote`, {
    method: "POST",
    headers: { authorization: `Bearer ${await token(baseURL, "citizen")}`, "content-type": "application/json" },
    body: JSON.stringify({ answers: [{ options: [1] }, { options: [0] }] }),
  });
  expect(late.status, "no ballot after the close").toBe(400);
  // A citizen may not close a poll.
  const refused = await fetch(`${baseURL}/cities/demo/v1/polls/${id}:close`, {
    method: "POST",
    headers: { authorization: `Bearer ${await token(baseURL, "citizen")}`, "content-type": "application/json" },
    body: "{}",
  });
  expect(refused.status).toBe(403);

  // The list of polls at 360 px.
  await page.setViewportSize({ width: 360, height: 740 });
  await page.getByRole("link", { name: "Zurück zu den Umfragen" }).click();
  await expect(page.locator(`#polls tr[data-poll="${id}"]`)).toContainText("Beendet");
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(await overflow(), "horizontal scrolling on the list of polls").toBeLessThanOrEqual(0);
  await expectAccessible(page, "the list of polls at 360 px");
});

test("the moderation queue fits 360 px; moderators see no ideas or polls; citizens no participation", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await signIn(page, "moderator");
  await goToParticipation(page);
  await expect(page.locator("#queue-status")).toHaveText(/gemeldete|gemeldeter/);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(await overflow(), "horizontal scrolling on the queue").toBeLessThanOrEqual(0);
  await expectAccessible(page, "moderation queue at 360 px");
  await expect(page.getByRole("navigation", { name: "Bereiche der Beteiligung" }).getByRole("link")).toHaveCount(1);
  await page.getByRole("button", { name: "Abmelden" }).click();
  await signIn(page, "citizen");
  await expect(page.getByRole("link", { name: "Beteiligung" })).toHaveCount(0);
});
