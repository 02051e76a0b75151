#!/bin/sh
# ctest entry: the console's browser tests. Usage: run.sh <civitas-gateway> <output dir>
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
export CIVITAS_GATEWAY="$1"
export CONSOLE_TEST_OUTPUT="$2/results"
export CONSOLE_SCREENSHOTS="${CONSOLE_SCREENSHOTS:-$2/screenshots}"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
mkdir -p "$2"
cd "$here"
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "Playwright needs Node.js 20 or later, found $(node --version)" >&2
  exit 1
fi
if ! cmp -s package-lock.json node_modules/.civitas-lock; then
  npm ci --no-audit --no-fund --silent && cp package-lock.json node_modules/.civitas-lock
fi
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "chromium is missing: make deps installs it" >&2
  exit 1
fi
exec node_modules/.bin/playwright test --config playwright.config.ts
