#!/bin/sh
# Installs the Debian 12 packages Punchcard needs, and only those that are missing.
# One script for every consumer: `make run`, `make test`, CI and docker/Dockerfile.
#   tools/install-deps.sh          build + test (cppcheck too) + run dependencies
#   tools/install-deps.sh --build   only what compiling needs (the container image's build stage)
#   tools/install-deps.sh --runtime only what a built punchd needs to run
#   tools/install-deps.sh --fuzz    build dependencies and clang with libFuzzer (make fuzz)
set -eu

build="cmake make gcc pkg-config libc6-dev
liblua5.4-dev libhiredis-dev libevent-dev libjansson-dev libssl-dev libedit-dev libjemalloc-dev
libcmocka-dev libcurl4-openssl-dev redis-server redis-tools curl tmux cppcheck
python3-yaml"
# Test tools beyond the build: promtool (Debian's prometheus) checks /metrics; chromium, driven
# headless by playwright-core (tests/console), checks the console.
tests="prometheus chromium"
runtime="liblua5.4-0 libhiredis0.14 libevent-2.1-7 libevent-pthreads-2.1-7 libjansson4 libjemalloc2
libssl3 libedit2 ca-certificates"

# libFuzzer's runtime is only a Recommends of clang, and this script installs none.
fuzz="clang libclang-rt-14-dev"

case "${1:-}" in
--runtime) want=$runtime ;;
--build) want=$build ;;
--fuzz) want="$build $fuzz" ;;
*) want="$build $tests" ;;
esac

missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
# The OpenAPI tests run npm tools (tests/openapi): Node.js and npm from Debian, unless the
# machine has them already (from wherever).
if [ "$want" = "$build $tests" ]; then
	command -v node >/dev/null 2>&1 || missing="$missing nodejs"
	command -v npm >/dev/null 2>&1 || missing="$missing npm"
fi
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	sudo=sudo
else
	sudo=
fi
echo "install-deps: installing$missing"
$sudo apt-get update -q >/dev/null
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing >/dev/null
