#!/bin/sh
# Installs the OpenAPI test tools (package.json, package-lock.json: ajv, ajv-formats,
# @redocly/cli) into DIR/node_modules with `npm ci`, once per lockfile. Exit 77 (ctest: skipped)
# when node or npm is missing; tools/install-deps.sh installs them on CI.
set -eu
src=$(cd "$(dirname "$0")" && pwd)
dir=$1
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || {
	echo "openapi tools: node or npm missing; skipped"
	exit 77
}
mkdir -p "$dir"
if [ -f "$dir/node_modules/.punch-lock" ] && cmp -s "$src/package-lock.json" "$dir/node_modules/.punch-lock"; then
	exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dir/"
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.punch-lock
