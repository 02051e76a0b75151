// Starts civitas-gateway for the tests: ephemeral loopback ports, a fresh data directory. The
// global setup runs the embedded demo (development key included) for every test.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

async function waitFor<T>(what: string, probe: () => Promise<T | null>, seconds: number): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await probe().catch(() => null);
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${seconds}s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Gateway {
  base: string;
  dir: string;
  stop: () => Promise<void>;
}

// Starts civitas-gateway with `args` (plus ephemeral loopback ports) in a new temporary directory
// and waits until it serves.
export async function startGateway(args: (dir: string) => string[]): Promise<Gateway> {
  const bin = process.env.CIVITAS_GATEWAY;
  if (!bin) throw new Error("set CIVITAS_GATEWAY to the civitas-gateway binary");
  const dir = mkdtempSync(join(tmpdir(), "civitas-console-"));
  const portFile = join(dir, "ports");
  const child = spawn(
    bin,
    [...args(dir), "--listen=127.0.0.1:0", "--http_listen=127.0.0.1:0", "--metrics_listen=off",
      `--port_file=${portFile}`, "--log_level=warning"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
  let exited = false;
  child.on("exit", () => {
    exited = true;
  });
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    await waitFor("the gateway to stop", async () => (exited ? true : null), 30).catch(() => child.kill("SIGKILL"));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const httpPort = await waitFor("the gateway's port file", async () => {
      if (exited) throw new Error("civitas-gateway exited during start-up");
      if (!existsSync(portFile)) return null;
      const lines = readFileSync(portFile, "utf8").trim().split("\n");
      return lines[1] ? Number(lines[1]) : null;
    }, 120);
    const base = `http://127.0.0.1:${httpPort}`;
    await waitFor("/readyz", async () => ((await fetch(`${base}/readyz`)).ok ? true : null), 120);
    return { base, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  // The embedded demo: city "demo" with its development key.
  const gw = await startGateway((dir) => [`--data_dir=${join(dir, "state")}`]);
  await waitFor("the news module", async () => ((await fetch(`${gw.base}/cities/demo/v1/articles`)).ok ? true : null), 120);
  process.env.CONSOLE_BASE_URL = gw.base;
  // Its development key pair, for tests that start a gateway of their own with the same key.
  process.env.CONSOLE_DEMO_DATA_DIR = join(gw.dir, "state");
  return gw.stop;
}
