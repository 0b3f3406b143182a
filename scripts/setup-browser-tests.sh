#!/usr/bin/env bash
# Installs the browser tests' one npm package (playwright-core, pinned in
# tests/browser/package-lock.json). It drives Debian's chromium: no browser is downloaded.
# Idempotent: nothing happens while node_modules matches the lock file.
set -euo pipefail

dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
installed="$dir/node_modules/.package-lock.json"
if [ -f "$installed" ] && [ "$installed" -nt "$dir/package-lock.json" ]; then
  echo "setup: browser test packages present"
  exit 0
fi
echo "setup: npm ci in tests/browser"
(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
