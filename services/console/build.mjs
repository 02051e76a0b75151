// Builds the console into OUT_DIR (argument 1, default dist/): types from the protos (buf generate),
// a strict type check, one minified ES module bundle, index.html and the style sheet. Fails when
// the first load exceeds its budget of compressed JavaScript.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "dist"));
const bin = (name) => join(here, "node_modules", ".bin", name);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: here, stdio: "inherit" });

rmSync(join(here, "src", "gen"), { recursive: true, force: true });
// The services the console calls (and what they import).
const protos = ["civitas/news", "civitas/reports", "civitas/participation", "civitas/events",
  "civitas/gateway", "civitas/type", "google/api"];
run(bin("buf"), ["generate", "../../proto", "--template", "buf.gen.yaml",
  ...protos.flatMap((p) => ["--path", `../../proto/${p}`])]);
run(bin("tsc"), ["--noEmit", "-p", "."]);

mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: [join(here, "src", "app.ts")],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  outfile: join(out, "app.js"),
  legalComments: "none",
  logLevel: "warning",
});
copyFileSync(join(here, "index.html"), join(out, "index.html"));
copyFileSync(join(here, "src", "app.css"), join(out, "app.css"));
// Leaflet's own style sheet, from the pinned package (the map uses no marker images).
copyFileSync(join(here, "node_modules", "leaflet", "dist", "leaflet.css"), join(out, "leaflet.css"));

const BUDGET = 300 * 1024;
const gz = gzipSync(readFileSync(join(out, "app.js")), { level: 9 }).length;
if (gz > BUDGET) {
  console.error(`console: app.js is ${gz} bytes gzipped, over the budget of ${BUDGET}`);
  process.exit(1);
}
writeFileSync(join(out, "build-info.json"), JSON.stringify({ app_js_gzip_bytes: gz }) + "\n");
console.log(`console: built ${out} (app.js ${gz} bytes gzipped)`);
