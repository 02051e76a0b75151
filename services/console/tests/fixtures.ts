// Shared helpers: the gateway's address, sign-in, axe and screenshots.
import AxeBuilder from "@axe-core/playwright";
import { test as base, expect, type Browser, type Page } from "@playwright/test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const test = base.extend<{ baseURL: string }>({
  baseURL: async ({}, use) => {
    const url = process.env.CONSOLE_BASE_URL;
    if (!url) throw new Error("the global setup did not start the gateway");
    await use(url);
  },
});
export { expect };

export async function signIn(page: Page, role: string): Promise<void> {
  await page.goto("/");
  await expect(page).toHaveURL(/\/console\/$/);
  await page.getByRole("radio", { name: roleLabel(role) }).check();
  await page.getByRole("button", { name: "Anmelden" }).click();
  await expect(page.getByRole("heading", { level: 1, name: "Nachrichten" })).toBeVisible();
}

export function roleLabel(role: string): string {
  return { editor: "Redaktion", moderator: "Moderation", admin: "Verwaltung", citizen: "Bürgerin/Bürger" }[role] ?? role;
}

export async function newSignedInPage(browser: Browser, role: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, role);
  return page;
}

// Zero violations of WCAG 2.1 A/AA rules on what the page shows now.
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const summary = result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`);
  expect(summary, `axe violations on ${screen}`).toEqual([]);
  expect(result.passes.length, `axe checked nothing on ${screen}`).toBeGreaterThan(0);
}

export async function screenshot(page: Page, name: string): Promise<void> {
  const dir = process.env.CONSOLE_SCREENSHOTS;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: false });
}

// Fails the test on any CSP violation or script error the console causes.
export function watchForErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => {
    if (m.type() === "error" && /Content Security Policy|Refused to/i.test(m.text())) errors.push(m.text());
  });
  return errors;
}
