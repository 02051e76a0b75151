// Browser tests of the console: Debian's chromium (never a downloaded browser) against the real
// gateway, started once by tests/gateway.ts on loopback ports with a temporary data directory.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "tests",
  globalSetup: "./tests/gateway.ts",
  // One browser at a time: the tests share a machine with the build.
  workers: 1,
  fullyParallel: false,
  retries: 0,
  timeout: 90_000,
  expect: { timeout: 20_000 },
  reporter: [["list"]],
  outputDir: process.env.CONSOLE_TEST_OUTPUT ?? "test-results",
  use: {
    browserName: "chromium",
    launchOptions: { executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium" },
    actionTimeout: 20_000,
    navigationTimeout: 30_000,
    // The city is in Europe/Berlin; the browser is elsewhere, so city time is what must show.
    timezoneId: "America/New_York",
    locale: "de-DE",
    viewport: { width: 1100, height: 800 },
  },
});
