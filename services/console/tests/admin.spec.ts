// The admin screens end to end, against a gateway of its own (a config file with a trusted
// publisher and an import folder, and the demo's development key for the sign-in). Modules: an
// admin installs the notice board 1.0.0 from a signed bundle, upgrades it to 1.1.0 and rolls it
// back, each after a confirmation that names the version change; cancelling changes nothing.
// Backups: an admin creates two backups and verifies one.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Page } from "@playwright/test";
import { expect, expectAccessible, roleLabel, screenshot, test, watchForErrors } from "./fixtures";
import { startGateway, type Gateway } from "./gateway";

let gw: Gateway;
let importDir = "";

test.beforeAll(async () => {
  const bin = dirname(process.env.CIVITAS_GATEWAY ?? "");
  const ctl = join(bin, "civitasctl");
  const lib = join(bin, "..", "lib", "civitas");
  const demoData = process.env.CONSOLE_DEMO_DATA_DIR ?? "";
  gw = await startGateway((dir) => {
    const state = join(dir, "state");
    importDir = join(dir, "import");
    mkdirSync(state, { recursive: true });
    mkdirSync(importDir, { recursive: true });
    // The same key pair as the demo: the development sign-in exists with it.
    for (const f of ["dev-jwks.json", "dev-signing-key.pem"]) copyFileSync(join(demoData, f), join(state, f));
    execFileSync(ctl, ["keys", "generate", "--out", join(dir, "publisher")]);
    const pub = readFileSync(join(dir, "publisher.pub"), "utf8").trim();
    const bundle = (library: string, out: string) => {
      execFileSync(ctl, ["module", "pack", library, "--publisher", "stadtwerke", "--license", "EUPL-1.2",
        "--out", join(importDir, out)]);
      execFileSync(ctl, ["module", "sign", join(importDir, out), "--key", join(dir, "publisher.key")]);
    };
    bundle(join(lib, "modules", "civitas.noticeboard.so"), "noticeboard-1.0.0.civmod");
    bundle(join(lib, "fixtures", "next", "civitas.noticeboard.so"), "noticeboard-1.1.0.civmod");
    const config = join(dir, "gateway.yaml");
    writeFileSync(config, [
      `data_dir: ${state}`,
      "auth:",
      `  jwks_file: ${join(state, "dev-jwks.json")}`,
      "admin:",
      `  bundle_import_dir: ${importDir}`,
      "cities:",
      "  - id: demo",
      "    display_name: Modulstadt",
      "    trusted_publishers:",
      "      - name: stadtwerke",
      `        key: ${pub}`,
      "",
    ].join("\n"));
    return [`--config=${config}`];
  });
});

test.afterAll(async () => {
  await gw?.stop();
});

async function signInAt(page: Page, role: string): Promise<void> {
  await page.goto(`${gw.base}/console/`);
  await page.getByRole("radio", { name: roleLabel(role) }).check();
  await page.getByRole("button", { name: "Anmelden" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Nachrichten" })).toBeVisible();
}

async function installFrom(page: Page, file: string): Promise<void> {
  await page.getByLabel("Pfad der Bundle-Datei").fill(join(importDir, file));
  await page.getByRole("button", { name: "Prüfen …" }).click();
}

const row = (page: Page, id: string) => page.locator(`#modules tr[data-module="${id}"]`);

test("an admin installs, upgrades and rolls back a module, each confirmed with its versions", async ({ page }) => {
  const errors = watchForErrors(page);
  await signInAt(page, "admin");
  await page.getByRole("link", { name: "Module" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Module" })).toBeVisible();
  await expect(page.locator("#modules-status")).toHaveText("0 Module");

  // Install 1.0.0.
  await installFrom(page, "noticeboard-1.0.0.civmod");
  const dialog = page.getByRole("dialog", { name: "Modul installieren oder aktualisieren" });
  await expect(dialog).toContainText("civitas.noticeboard: neu, Version 1.0.0");
  await expect(dialog).toContainText("Herausgeber stadtwerke");
  await expect(page.getByRole("button", { name: "Installieren" })).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(page.locator("#modules-status")).toHaveText("civitas.noticeboard 1.0.0 ist in Betrieb.");
  await expect(row(page, "civitas.noticeboard").locator(".version")).toHaveText("1.0.0");
  await expect(row(page, "civitas.noticeboard")).toContainText("In Betrieb");
  await expect(row(page, "civitas.noticeboard")).toContainText("1.3"); // ABI

  // The upgrade, cancelled with Escape first: nothing changes.
  await installFrom(page, "noticeboard-1.1.0.civmod");
  const upgrade = page.getByRole("dialog", { name: "Modul aktualisieren?" });
  await expect(upgrade).toContainText("civitas.noticeboard: Version 1.0.0 → 1.1.0");
  await expectAccessible(page, "modules: the upgrade confirmation");
  await screenshot(page, "modules-confirm");
  await page.keyboard.press("Escape");
  await expect(upgrade).toHaveCount(0);
  await expect(page.locator("#modules-status")).toHaveText("Abgebrochen; nichts wurde geändert.");
  await expect(row(page, "civitas.noticeboard").locator(".version")).toHaveText("1.0.0");
  await page.getByRole("button", { name: "Prüfen …" }).click();
  await page.getByRole("button", { name: "Aktualisieren" }).click();
  await expect(page.locator("#modules-status")).toHaveText("civitas.noticeboard 1.1.0 ist in Betrieb.");
  await expect(row(page, "civitas.noticeboard").locator(".version")).toHaveText("1.1.0");

  // Installing the same version again is refused with the gateway's message.
  await page.getByRole("button", { name: "Prüfen …" }).click();
  await expect(page.locator("#modules-alert")).toContainText("already runs civitas.noticeboard 1.1.0");
  await expectAccessible(page, "modules list");
  await screenshot(page, "modules");

  // Roll back to 1.0.0.
  await row(page, "civitas.noticeboard").getByRole("button", { name: "civitas.noticeboard auf 1.0.0 zurückrollen" }).click();
  const rollback = page.getByRole("dialog", { name: "Modul zurückrollen?" });
  await expect(rollback).toContainText("civitas.noticeboard: Version 1.1.0 → 1.0.0");
  await expect(rollback).toContainText("alle Änderungen bleiben erhalten");
  await page.getByRole("button", { name: "Zurückrollen", exact: true }).click();
  await expect(page.locator("#modules-status")).toHaveText("civitas.noticeboard läuft wieder in Version 1.0.0.");
  await expect(row(page, "civitas.noticeboard").locator(".version")).toHaveText("1.0.0");
  expect(errors).toEqual([]);
});

test("an admin creates backups while the city serves and verifies one", async ({ page }) => {
  const errors = watchForErrors(page);
  await signInAt(page, "admin");
  await page.getByRole("link", { name: "Sicherungen" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Sicherungen" })).toBeVisible();
  await expect(page.locator("#backups-status")).toHaveText(/^\d+ Sicherung/);
  const before = await page.locator("#backups tr").count();
  await page.getByRole("button", { name: "Sicherung anlegen" }).click();
  await expect(page.locator("#backups-status")).toHaveText(/^Sicherung \d+ angelegt \(.+, \d+ s\)\.$/);
  await expect(page.locator("#backups tr")).toHaveCount(before + 1);
  await page.getByRole("button", { name: "Sicherung anlegen" }).click();
  await expect(page.locator("#backups tr")).toHaveCount(before + 2);
  // Newest first; each verified on its own.
  const newest = page.locator("#backups tr").first();
  const id = await newest.getAttribute("data-backup");
  await newest.getByRole("button", { name: `Sicherung ${id} prüfen` }).click();
  await expect(newest.locator(".verified")).toHaveText(/^In Ordnung: \d+ Dateien gelesen/);
  await expect(page.locator("#backup-dir")).toContainText("Ordner der Sicherungen");
  await expectAccessible(page, "backups");
  await screenshot(page, "backups");
  // The same over the HTTP route, for the record: the array of progress messages, the last with the backup.
  const steps = await page.evaluate(async () => {
    const token = JSON.parse(sessionStorage.getItem("civitas.console.session") ?? "{}").token;
    const r = await fetch("/cities/demo/v1/cities/demo/backups", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}",
    });
    return r.json();
  });
  expect(Array.isArray(steps)).toBe(true);
  expect(steps[steps.length - 1].backup.name).toMatch(/^cities\/demo\/backups\/\d+$/);
  expect(errors).toEqual([]);
});

test("the modules and backups screens fit 360 px", async ({ page }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await signInAt(page, "admin");
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  await page.getByRole("link", { name: "Module" }).click();
  await expect(page.locator("#modules-status")).toHaveText(/Modul/);
  expect(await overflow(), "horizontal scrolling on the modules screen").toBeLessThanOrEqual(0);
  await expectAccessible(page, "modules at 360 px");
  await page.getByRole("link", { name: "Sicherungen" }).click();
  await expect(page.locator("#backups-status")).toHaveText(/Sicherung/);
  expect(await overflow(), "horizontal scrolling on the backups screen").toBeLessThanOrEqual(0);
  await expectAccessible(page, "backups at 360 px");
});

test("an editor is offered no modules or backups, and the gateway refuses the calls", async ({ page }) => {
  await signInAt(page, "editor");
  await expect(page.getByRole("link", { name: "Module" })).toHaveCount(0);
  await expect(page.getByRole("link", { name: "Sicherungen" })).toHaveCount(0);
  const backup = await page.evaluate(async () => {
    const token = JSON.parse(sessionStorage.getItem("civitas.console.session") ?? "{}").token;
    const r = await fetch("/cities/demo/v1/cities/demo/backups", {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "{}",
    });
    return r.status;
  });
  expect(backup).toBe(403);
  const status = await page.evaluate(async () => {
    const token = JSON.parse(sessionStorage.getItem("civitas.console.session") ?? "{}").token;
    const r = await fetch("/cities/demo/v1/cities/demo/modules", { headers: { authorization: `Bearer ${token}` } });
    return r.status;
  });
  expect(status).toBe(403);
  expect((await fetch(`${gw.base}/cities/demo/v1/cities/demo/modules`)).status).toBe(401);
});
