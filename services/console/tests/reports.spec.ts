// The defect reports screen end to end: a citizen files a report with a photo, an editor finds it
// in the triage list (status, service, age), moves it through the workflow with notes, and the
// new status is in the Open311 export. No map tile is ever fetched: the tests run offline.
import type { Page } from "@playwright/test";
import { expect, expectAccessible, screenshot, signIn, test, watchForErrors } from "./fixtures";

const unique = (what: string) => `${what} ${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;

async function token(baseURL: string, role: string): Promise<string> {
  const r = await fetch(`${baseURL}/console/dev-token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ city: "demo", role }),
  });
  return (await r.json()).token;
}

// Tiles are refused, as on a machine without network: the screen must not depend on them.
async function offlineTiles(page: Page): Promise<string[]> {
  const asked: string[] = [];
  await page.route(/^https?:\/\/(?!127\.0\.0\.1)/, (route) => {
    asked.push(route.request().url());
    return route.abort("internetdisconnected");
  });
  return asked;
}

async function fileReport(baseURL: string, page: Page, description: string): Promise<string> {
  // A real PNG: a small screenshot of the sign-in page.
  const png = await page.screenshot({ clip: { x: 0, y: 0, width: 240, height: 160 } });
  const r = await fetch(`${baseURL}/cities/demo/v1/reports`, {
    method: "POST",
    headers: { authorization: `Bearer ${await token(baseURL, "citizen")}`, "content-type": "application/json" },
    body: JSON.stringify({
      service: "services/schlagloch",
      description,
      location: { latitude: 51.5149, longitude: 7.4637 },
      address: "Friedensplatz 1",
      attributes: [{ code: "groesse", values: ["klein"] }],
      photos: [{ data: png.toString("base64"), contentType: "image/png" }],
    }),
  });
  const body = await r.json();
  expect(r.status, JSON.stringify(body)).toBe(200);
  return String(body.name).replace("reports/", "");
}

test("an editor moves a report through the workflow; Open311 shows the new status", async ({ page, baseURL }) => {
  const errors = watchForErrors(page);
  const tiles = await offlineTiles(page);
  await page.goto("/console/");
  const description = unique("Tiefes Schlagloch vor dem Rathaus");
  const id = await fileReport(baseURL, page, description);

  await signIn(page, "editor");
  await page.getByRole("link", { name: "Mängelmeldungen" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Mängelmeldungen" })).toBeVisible();
  await expect(page.locator("#reports-status")).toHaveText(/\d+ Meldung/);
  // The map is there, with a point per located report, even without a single tile.
  await expect(page.locator("#report-map path.leaflet-interactive").first()).toBeVisible();
  await page.getByLabel("Status", { exact: true }).selectOption("SUBMITTED");
  await page.getByLabel("Kategorie", { exact: true }).selectOption({ label: "Schlagloch" });
  await page.getByLabel("Alter", { exact: true }).selectOption("1d");
  const row = page.getByRole("row").filter({ hasText: description.slice(0, 60) });
  await expect(row).toHaveCount(1);
  await expect(row).toContainText("Eingegangen");
  await expectAccessible(page, "reports list");
  await screenshot(page, "reports-list");
  // The list follows by itself: a report filed while it is open appears without a reload.
  const later = unique("Umgestürzter Baum am Wall");
  await fileReport(baseURL, page, later);
  await expect(page.getByRole("row").filter({ hasText: later.slice(0, 60) })).toHaveCount(1, { timeout: 25_000 });
  await expect(page.locator("#reports-status")).toContainText("1 neue Meldung eingegangen.");
  // Older than 7 days: the new report is not there.
  await page.getByLabel("Alter", { exact: true }).selectOption("older7d");
  await expect(page.locator("#reports-status")).toHaveText(/Meldung/);
  await expect(page.getByRole("row").filter({ hasText: description.slice(0, 60) })).toHaveCount(0);
  await page.getByLabel("Alter", { exact: true }).selectOption("1d");
  await row.getByRole("link").click();

  await expect(page.getByRole("heading", { level: 1 })).toContainText("Meldung: Tiefes Schlagloch");
  await expect(page.locator("#report-current-status")).toHaveText("Eingegangen");
  const photo = page.getByRole("img", { name: /Foto 1 von 1/ });
  await expect(photo).toBeVisible();
  // Loaded from the gateway (lazily, so wait for it): a real image, not a broken one.
  await expect.poll(() => photo.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);

  // Acknowledged (preselected as the next step), with a note; then in progress; then resolved.
  await expect(page.getByLabel("Neuer Status")).toHaveValue("ACKNOWLEDGED");
  await page.getByLabel("Nachricht an die meldende Person").fill("Danke, wir sehen es uns an.");
  await page.getByLabel("Zuständige Stelle").fill("Tiefbauamt");
  await page.getByRole("button", { name: "Status ändern" }).click();
  await expect(page.locator("#report-status")).toHaveText("Status geändert: Gesichtet.");
  await expect(page.locator("#report-history")).toContainText("Danke, wir sehen es uns an.");
  await expect(page.getByLabel("Neuer Status")).toHaveValue("IN_PROGRESS");
  await page.getByRole("button", { name: "Status ändern" }).click();
  await expect(page.locator("#report-current-status")).toHaveText("In Arbeit");

  // Rejecting needs a note: the console says so before asking the gateway.
  await page.getByLabel("Neuer Status").selectOption("REJECTED");
  await page.getByRole("button", { name: "Status ändern" }).click();
  await expect(page.locator("#report-alert")).toContainText("Grund");
  await expect(page.locator("#report-current-status")).toHaveText("In Arbeit");

  await page.getByLabel("Neuer Status").selectOption("RESOLVED");
  await page.getByLabel("Nachricht an die meldende Person").fill("Das Schlagloch ist geschlossen.");
  await page.getByRole("button", { name: "Status ändern" }).click();
  await expect(page.locator("#report-current-status")).toHaveText("Erledigt");
  // Filed, acknowledged, in progress, resolved.
  await expect(page.locator("#report-history li")).toHaveCount(4);
  await expect(page.locator("#report-history li").last()).toContainText("Erledigt");
  await expect(page.getByLabel("Neuer Status")).toHaveValue("IN_PROGRESS"); // reopening is offered
  await expect(page.getByLabel("Ursprüngliche Meldung (Nummer)")).toBeHidden();
  await expectAccessible(page, "report with history");
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, "report");

  // Open311 GeoReport v2: closed, with the last note.
  const one = await (await fetch(`${baseURL}/open311/v2/requests/${id}.json?jurisdiction_id=demo`)).json();
  expect(one[0].status).toBe("closed");
  expect(one[0].status_notes).toBe("Das Schlagloch ist geschlossen.");
  expect(one[0].agency_responsible).toBe("Tiefbauamt");
  const closed = await (await fetch(`${baseURL}/cities/demo/open311/v2/requests.json?status=closed&service_code=schlagloch`)).json();
  expect(closed.map((r: { service_request_id: string }) => r.service_request_id)).toContain(id);
  const open = await (await fetch(`${baseURL}/cities/demo/open311/v2/requests.json?status=open`)).json();
  expect(open.map((r: { service_request_id: string }) => r.service_request_id)).not.toContain(id);

  // Back in the list, filtered by the new status.
  await page.getByRole("link", { name: "Zurück zu den Meldungen" }).click();
  await page.getByLabel("Status", { exact: true }).selectOption("RESOLVED");
  await expect(page.getByRole("row").filter({ hasText: description.slice(0, 60) })).toContainText("Erledigt");
  for (const url of tiles) expect(url).toMatch(/^https:\/\/tile\.openstreetmap\.org\//);
  expect(errors).toEqual([]);
});

test("the reports screen fits 360 px and is offered to editors only", async ({ page }) => {
  await offlineTiles(page);
  await page.setViewportSize({ width: 360, height: 740 });
  await signIn(page, "editor");
  await page.getByRole("link", { name: "Mängelmeldungen" }).click();
  await expect(page.locator("#reports-status")).toHaveText(/\d+ Meldung/);
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(await overflow(), "horizontal scrolling on the reports list").toBeLessThanOrEqual(0);
  await expectAccessible(page, "reports list at 360 px");
  await page.getByRole("row").nth(1).getByRole("link").click();
  await expect(page.getByRole("button", { name: "Status ändern" })).toBeVisible();
  expect(await overflow(), "horizontal scrolling on a report").toBeLessThanOrEqual(0);

  await page.getByRole("button", { name: "Abmelden" }).click();
  await signIn(page, "citizen");
  await expect(page.getByRole("link", { name: "Mängelmeldungen" })).toHaveCount(0);
});
