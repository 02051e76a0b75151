// The events screen end to end: an editor creates a weekly course with the recurrence editor,
// which says the rule in words and lists the next dates in city time; the gateway expands the
// saved rule to the same dates; a citizen registers, the editor sees the seat taken and the CSV.
import { expect, expectAccessible, screenshot, signIn, test, watchForErrors } from "./fixtures";

const unique = (what: string) => `${what} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;

// A Tuesday at least a week ahead, as a date in Berlin ("2027-01-12").
function nextTuesday(): string {
  const fmt = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Berlin", year: "numeric", month: "2-digit", day: "2-digit", weekday: "short" });
  for (let d = 7; d < 15; d++) {
    const when = new Date(Date.now() + d * 86400000);
    const parts = fmt.formatToParts(when);
    if (parts.find((p) => p.type === "weekday")?.value === "Tue") {
      const n = (t: string) => parts.find((p) => p.type === t)?.value ?? "";
      return `${n("year")}-${n("month")}-${n("day")}`;
    }
  }
  throw new Error("no Tuesday in a week");
}

async function token(baseURL: string, role: string): Promise<string> {
  const r = await fetch(`${baseURL}/console/dev-token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ city: "demo", role }),
  });
  return (await r.json()).token;
}

test("an editor creates a recurring event; words, next dates, registrations and CSV", async ({ page, baseURL }) => {
  const errors = watchForErrors(page);
  await signIn(page, "editor");
  await page.getByRole("link", { name: "Veranstaltungen" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Veranstaltungen" })).toBeVisible();
  await expect(page.locator("#events-status")).toHaveText(/Veranstaltung/);
  await page.getByRole("link", { name: "Neue Veranstaltung" }).click();
  await expect(page.getByLabel("Titel", { exact: true })).toBeFocused();

  const title = unique("Töpferkurs");
  const day = nextTuesday();
  await page.keyboard.type(title);
  await page.getByLabel("Beginn (Zeit der Stadt)").fill(`${day}T18:00`);
  await page.getByLabel("Ende (Zeit der Stadt)").fill(`${day}T20:00`);
  await page.getByLabel("Wiederholt sich").selectOption("WEEKLY");
  await page.getByRole("checkbox", { name: "Dienstag" }).check();
  await page.getByRole("checkbox", { name: "Donnerstag" }).check();
  await page.getByLabel("Endet", { exact: true }).selectOption("count");
  await page.getByLabel("Anzahl Termine").fill("6");
  await expect(page.locator("#rule-words")).toHaveText("Wöchentlich am Dienstag und Donnerstag, 6 Mal");
  await expect(page.locator("#rule-text")).toHaveText("FREQ=WEEKLY;COUNT=6;BYDAY=TU,TH");
  const preview = page.locator("#next-occurrences li");
  await expect(preview).toHaveCount(5);
  await expect(preview.first()).toContainText("18:00");
  const shown = await preview.allTextContents();
  await page.getByLabel("Plätze", { exact: true }).fill("20");
  await page.getByLabel("Anmeldung möglich").check();
  await page.getByLabel("Ort", { exact: true }).fill("Volkshochschule, Raum 4");
  await expectAccessible(page, "event editor");
  await screenshot(page, "events-editor");

  await page.getByRole("button", { name: "Speichern" }).click();
  await expect(page.locator("#event-status")).toHaveText("Gespeichert.");
  const id = new URL(page.url()).hash.replace("#/events/", "");
  expect(id).toMatch(/^[\w-]+$/);

  // The gateway expands the stored rule to the same dates.
  const rows = page.locator("#registrations tr");
  await expect(rows).toHaveCount(6);
  const served = (await rows.locator("td:first-child").allTextContents()).slice(0, 5);
  expect(served).toEqual(shown);
  const event = await (await fetch(`${baseURL}/cities/demo/v1/events/${id}`)).json();
  expect(event.recurrenceRule).toBe("FREQ=WEEKLY;COUNT=6;BYDAY=TU,TH");
  expect(event.capacity).toBe(20);

  // A citizen takes a seat at the first date.
  const seat = await fetch(`${baseURL}/cities/demo/v1/events/${id}:register`, {
    method: "POST",
    headers: { authorization: `Bearer ${await token(baseURL, "citizen")}`, "content-type": "application/json" },
    body: "{}",
  });
  expect(seat.status).toBe(200);
  await page.reload();
  await expect(rows.first()).toContainText("1");
  await expect(rows.first().locator("td").nth(2)).toHaveText("19");
  const href = await page.getByRole("link", { name: "Als CSV herunterladen", exact: true }).getAttribute("href");
  expect(href).toMatch(/^data:text\/csv;charset=utf-8,/);
  const csv = decodeURIComponent(href!.replace(/^data:text\/csv;charset=utf-8,/, ""));
  expect(csv.split("\r\n")[0]).toBe("\ufeffVeranstaltung;Termin;Beginn (UTC);Angemeldet;Plätze;Freie Plätze");
  expect(csv.split("\r\n")[1]).toMatch(new RegExp(`^${title};[^;]+;\\d{4}-\\d\\d-\\d\\dT17:00:00Z;1;20;19$`));
  expect(csv.split("\r\n").filter(Boolean)).toHaveLength(7);

  // Who registered: the citizen's account, in the table and in the list of participants.
  const people = page.getByRole("region", { name: "Angemeldete Personen" });
  await expect(people.locator("#registrants tr")).toHaveCount(1);
  await expect(people.locator("#registrants tr").first()).toContainText("dev-citizen");
  const list = await people.getByRole("link", { name: "Teilnehmerliste als CSV herunterladen" }).getAttribute("href");
  const participants = decodeURIComponent(list!.replace(/^data:text\/csv;charset=utf-8,/, "")).split("\r\n").filter(Boolean);
  expect(participants[0]).toBe("\ufeffVeranstaltung;Termin;Beginn (UTC);Person (Kennung);Angemeldet am");
  expect(participants[1]).toMatch(new RegExp(`^${title};[^;]+;\\d{4}-\\d\\d-\\d\\dT17:00:00Z;dev-citizen;[^;]+$`));
  expect(participants).toHaveLength(2);
  await expectAccessible(page, "event editor with the registrants");
  await people.scrollIntoViewIfNeeded();
  await screenshot(page, "events-registrants");
  // Registrants are personal data: a citizen's token is refused.
  const refused = await fetch(`${baseURL}/cities/demo/v1/events/${id}/registrations`, {
    headers: { authorization: `Bearer ${await token(baseURL, "citizen")}` },
  });
  expect(refused.status).toBe(403);

  // The editor shows the stored rule again; a monthly rule reads differently, in both languages.
  await expect(page.locator("#rule-words")).toHaveText("Wöchentlich am Dienstag und Donnerstag, 6 Mal");
  await page.getByLabel("Wiederholt sich").selectOption("MONTHLY");
  await page.getByLabel("Im Monat").selectOption("weekday");
  await expect(page.locator("#rule-words")).toHaveText(/^Monatlich am (ersten|zweiten|dritten|vierten|letzten) Dienstag, 6 Mal$/);
  await page.getByRole("button", { name: "Switch to English" }).click();
  await expect(page.locator("#rule-words")).toHaveText("Weekly on Tuesday and Thursday, 6 times");
  await page.getByRole("button", { name: "Auf Deutsch umschalten" }).click();

  // The list shows it with its rule in words.
  await page.getByRole("link", { name: "Zurück zu den Veranstaltungen" }).click();
  const row = page.getByRole("row").filter({ hasText: title });
  await expect(row).toContainText("Wöchentlich am Dienstag und Donnerstag, 6 Mal");
  await expect(row).toContainText("1 / 20");
  await expectAccessible(page, "events list");
  await screenshot(page, "events-list");
  expect(errors).toEqual([]);
});

test("the events editor fits 360 px", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await signIn(page, "editor");
  await page.getByRole("link", { name: "Veranstaltungen" }).click();
  await expect(page.locator("#events-status")).toHaveText(/Veranstaltung/);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(await overflow(), "horizontal scrolling on the events list").toBeLessThanOrEqual(0);
  await page.getByRole("link", { name: "Neue Veranstaltung" }).click();
  await page.getByLabel("Beginn (Zeit der Stadt)").fill("2030-05-06T10:00");
  await page.getByLabel("Wiederholt sich").selectOption("WEEKLY");
  await expect(page.locator("#next-occurrences li")).toHaveCount(5);
  expect(await overflow(), "horizontal scrolling in the events editor").toBeLessThanOrEqual(0);
  await expectAccessible(page, "events editor at 360 px");
});
