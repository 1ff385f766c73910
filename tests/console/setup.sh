#!/bin/sh
# Installs the console test's tool (package.json, package-lock.json: playwright-core, which
# drives a browser and downloads none) into DIR/node_modules with `npm ci`, once per
# lockfile. The browser is Debian's chromium (/usr/bin/chromium). Exit 77 (ctest: skipped)
# when node, npm or chromium is missing; tools/install-deps.sh installs them on CI.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
dir=$1
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && [ -x /usr/bin/chromium ] || {
	echo "console test: node, npm or /usr/bin/chromium missing; skipped"
	exit 77
}
mkdir -p "$dir"
if [ -f "$dir/node_modules/.punch-lock" ] && cmp -s "$src/package-lock.json" "$dir/node_modules/.punch-lock"; then
	exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dir/"
cd "$dir"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.punch-lock
