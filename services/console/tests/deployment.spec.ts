// A real deployment (a config file, no demo key): the console is served, the development sign-in
// does not exist.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, expectAccessible, test } from "./fixtures";
import { startGateway, type Gateway } from "./gateway";

let gw: Gateway;

test.beforeAll(async () => {
  gw = await startGateway((dir) => {
    const config = join(dir, "gateway.yaml");
    writeFileSync(config, [
      "data_dir: state",
      "cities:",
      "  - id: wien-test",
      "    display_name: Teststadt",
      "    time_zone: Europe/Vienna",
      "    modules:",
      "      - id: civitas.news",
      "",
    ].join("\n"));
    return [`--config=${config}`];
  });
});

test.afterAll(async () => {
  await gw?.stop();
});

test("without the demo's development key there is no development sign-in", async ({ page }) => {
  const settings = await (await fetch(`${gw.base}/console/settings.json`)).json();
  expect(settings.dev_sign_in).toBe(false);
  expect(settings.cities).toEqual([
    {
      id: "wien-test",
      display_name: "Teststadt",
      default_language: "de",
      time_zone: "Europe/Vienna",
      map: { tile_url: "https://tile.openstreetmap.org/{z}/{x}/{y}.png", attribution: "© OpenStreetMap contributors" },
      oidc: null,
    },
  ]);
  const minted = await fetch(`${gw.base}/console/dev-token`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ city: "wien-test", role: "admin" }),
  });
  expect(minted.status).toBe(404);
  expect(await minted.text()).not.toContain('"token"');

  await page.goto(`${gw.base}/`);
  await expect(page).toHaveURL(`${gw.base}/console/`);
  await expect(page.getByRole("heading", { level: 1, name: "Anmelden" })).toBeVisible();
  await expect(page.getByText("Für diese Stadt ist keine Anmeldung eingerichtet.")).toBeVisible();
  await expect(page.getByRole("group", { name: "Entwicklungs-Anmeldung" })).toHaveCount(0);
  await expectAccessible(page, "sign-in without a development key");
});
