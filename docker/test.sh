#!/usr/bin/env bash
# End-to-end check of docker/Dockerfile with podman (no Docker engine, no registry here;
# see shared/CONTAINERS.md). From anywhere:  bash docker/test.sh
#
#  1. installs podman & co. if missing, builds a Debian 12 base image with debootstrap
#     (only if localhost/debian:bookworm does not exist yet);
#  2. builds both targets of docker/Dockerfile (runtime and redis);
#  3. runs redis + punchd with --network=host on spare ports, waits for /healthz,
#     posts one event and checks the stars it earned, then reads the member back;
#  4. brings up docker/compose.yaml with podman-compose (bridge network, published port)
#     and checks both services run, pass their healthchecks and serve an event.
# Removes only the containers, volume and network it created. Exits non-zero on failure.
#
# Environment: REDIS_PORT (16379), HTTP_PORT (18080), COMPOSE_PORT (18081): host ports used;
# BASE (localhost/debian:bookworm); KEEP_IMAGES=0 removes the two built images at the end.
set -euo pipefail

cd "$(dirname "$0")/.."
REDIS_PORT=${REDIS_PORT:-16379}
HTTP_PORT=${HTTP_PORT:-18080}
COMPOSE_PORT=${COMPOSE_PORT:-18081}
BASE=${BASE:-localhost/debian:bookworm}
IMAGE=localhost/punchcard:test
REDIS_IMAGE=localhost/punchcard-redis:test
tag="pc-test-$$"

say() { printf 'docker/test.sh: %s\n' "$*"; }
fail() {
	local noise='systemd connection|connect to syslog'
	if grep -Evq "$noise" "${tmp:-/nonexistent}/podman.log" 2>/dev/null; then
		say "last podman messages:" >&2
		grep -Ev "$noise" "$tmp/podman.log" | tail -5 >&2
	fi
	printf 'docker/test.sh: FAIL: %s\n' "$*" >&2
	exit 1
}
# podman without systemd logs an error for every container with a HEALTHCHECK (it cannot
# add the timer); keep that noise in a log shown only on failure.
pm() { podman "$@" </dev/null 2>>"$tmp/podman.log"; }

# ---- tools -------------------------------------------------------------------------------
need=""
for t in podman:podman buildah:buildah debootstrap:debootstrap newuidmap:uidmap \
	slirp4netns:slirp4netns runc:runc podman-compose:podman-compose curl:curl jq:jq; do
	command -v "${t%%:*}" >/dev/null 2>&1 || need="$need ${t#*:}"
done
if [ -n "$need" ]; then
	[ "$(id -u)" = 0 ] && sudo="" || sudo=sudo
	say "installing$need"
	$sudo apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $need >/dev/null ||
		fail "could not install$need"
fi

tmp=$(mktemp -d)
containers=()
volumes=()
networks=()
cleanup() {
	local rc=$? c
	for c in "${containers[@]}"; do podman rm -f -t 3 -v "$c" >/dev/null 2>&1 || true; done
	for c in "${volumes[@]}"; do podman volume rm -f "$c" >/dev/null 2>&1 || true; done
	for c in "${networks[@]}"; do podman network rm -f "$c" >/dev/null 2>&1 || true; done
	if [ "${KEEP_IMAGES:-1}" = 0 ]; then
		podman rmi "$IMAGE" "$REDIS_IMAGE" >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
	if [ "$rc" = 0 ]; then say "PASS"; else say "FAILED (exit $rc)" >&2; fi
}
trap cleanup EXIT

# This sandbox has mixed cgroups and no right to raise limits: runc and fixed ulimits.
if [ -z "${CONTAINERS_CONF:-}" ]; then
	cat >"$tmp/containers.conf" <<'CONF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF
	export CONTAINERS_CONF="$tmp/containers.conf"
fi

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in REDIS_PORT HTTP_PORT COMPOSE_PORT; do
	port_free "${!p}" || fail "port ${!p} is in use (set $p=...)"
done

# ---- base image --------------------------------------------------------------------------
if ! podman image exists "$BASE"; then
	[ "$BASE" = localhost/debian:bookworm ] || fail "base image $BASE not found"
	mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
	mirror=${mirror:-http://deb.debian.org/debian}
	say "building $BASE with debootstrap from $mirror"
	debootstrap --variant=minbase bookworm "$tmp/rootfs" "$mirror" >"$tmp/debootstrap.log" 2>&1 ||
		{ tail -20 "$tmp/debootstrap.log" >&2; fail "debootstrap failed"; }
	# like debian:bookworm-slim: no package lists or downloaded .debs in the image
	rm -rf "$tmp"/rootfs/var/lib/apt/lists/* "$tmp"/rootfs/var/cache/apt/archives/*.deb \
		"$tmp"/rootfs/var/cache/apt/*.bin
	tar -C "$tmp/rootfs" -c . | podman import - "$BASE" >/dev/null 2>&1 || fail "podman import failed"
	rm -rf "$tmp/rootfs"
fi

# ---- build -------------------------------------------------------------------------------
build() { # target tag
	say "building target $1 as $2"
	podman build -q --format docker --build-arg BASE="$BASE" --target "$1" -t "$2" -f docker/Dockerfile . \
		>"$tmp/build-$1.log" 2>&1 || { tail -40 "$tmp/build-$1.log" >&2; fail "image build ($1) failed"; }
}
build runtime "$IMAGE"
build redis "$REDIS_IMAGE"

# The runtime image must find every library punchd and punch link against.
missing_libs=$(pm run --rm --entrypoint sh "$IMAGE" -c \
	'ldd /usr/local/bin/punchd /usr/local/bin/punch | grep "not found" || true')
[ -z "$missing_libs" ] || fail "runtime image lacks libraries: $missing_libs"
[ "$(pm run --rm --entrypoint id "$IMAGE" -u)" != 0 ] || fail "runtime image runs as root"

# ---- helpers -----------------------------------------------------------------------------

running() { [ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }

logs_and_fail() { # container message
	say "logs of $1:" >&2
	podman logs --tail 30 "$1" >&2 2>&1 || true
	fail "$2"
}

wait_healthz() { # container url
	local i body=""
	for i in $(seq 60); do
		running "$1" || logs_and_fail "$1" "container $1 exited before /healthz was ok"
		body=$(curl -fsS --max-time 2 "$2/healthz" 2>/dev/null || true)
		[ -n "$body" ] && [ "$(jq -r .status <<<"$body" 2>/dev/null)" = ok ] && return 0
		sleep 0.5
	done
	logs_and_fail "$1" "$2/healthz not ok after 30 s (last answer: ${body:-none})"
}

check_event() { # base-url event-id member
	local url=$1 resp member
	resp=$(curl -sS --max-time 5 -X POST -H 'Content-Type: application/json' \
		-d "{\"id\":\"$2\",\"type\":\"order\",\"member\":\"$3\",\"data\":{\"items\":[{\"category\":\"fuel\",\"amount\":500},{\"category\":\"shop\",\"amount\":125}]}}" \
		-w '\n%{http_code}' "$url/v1/events") || fail "POST $url/v1/events: no answer"
	local code=${resp##*$'\n'}
	resp=${resp%$'\n'*}
	[ "$code" = 200 ] || fail "POST $url/v1/events: HTTP $code: $resp"
	jq -e '.duplicate == false' <<<"$resp" >/dev/null ||
		fail "POST /v1/events: expected \"duplicate\":false, got: $resp"
	jq -e 'any(.outcomes[]?; .kind == "stars" and .delta == 86)' <<<"$resp" >/dev/null ||
		fail "POST /v1/events: expected a stars outcome with delta 86, got: $resp"
	say "event $2: outcomes $(jq -c '[.outcomes[] | {mechanic, kind} + if has("delta") then {delta} else {} end]' <<<"$resp")"
	member=$(curl -fsS --max-time 5 "$url/v1/members/$3") || fail "GET $url/v1/members/$3 failed"
	jq -e '.balances.stars == 86' <<<"$member" >/dev/null ||
		fail "GET /v1/members/$3: expected balances.stars == 86, got: $member"
	say "member $3: balances $(jq -c .balances <<<"$member")"
}

# ---- 1. host network, spare ports --------------------------------------------------------
port_free "$REDIS_PORT" || fail "port $REDIS_PORT is in use (set REDIS_PORT=...)"
port_free "$HTTP_PORT" || fail "port $HTTP_PORT is in use (set HTTP_PORT=...)"

say "run redis on 127.0.0.1:$REDIS_PORT, punchd on 127.0.0.1:$HTTP_PORT (host network)"
containers+=("$tag-redis")
pm run -d --name "$tag-redis" --network=host "$REDIS_IMAGE" \
	--port "$REDIS_PORT" --bind 127.0.0.1 >/dev/null || fail "could not start the redis container"
for i in $(seq 60); do
	[ "$(pm exec "$tag-redis" redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
	running "$tag-redis" || logs_and_fail "$tag-redis" "redis container exited"
	[ "$i" = 60 ] && logs_and_fail "$tag-redis" "redis did not answer PING within 30 s"
	sleep 0.5
done
aof=$(pm exec "$tag-redis" redis-cli -p "$REDIS_PORT" config get appendonly | tail -1)
fsync=$(pm exec "$tag-redis" redis-cli -p "$REDIS_PORT" config get appendfsync | tail -1)
dir=$(pm exec "$tag-redis" redis-cli -p "$REDIS_PORT" config get dir | tail -1)
[ "$aof/$fsync/$dir" = "yes/everysec//data" ] ||
	fail "redis should run appendonly=yes appendfsync=everysec dir=/data, runs $aof/$fsync/$dir"

containers+=("$tag-punchd")
pm run -d --name "$tag-punchd" --network=host \
	-e PUNCHD_LISTEN="127.0.0.1:$HTTP_PORT" -e PUNCHD_REDIS="127.0.0.1:$REDIS_PORT" \
	"$IMAGE" >/dev/null || fail "could not start the punchd container"
wait_healthz "$tag-punchd" "http://127.0.0.1:$HTTP_PORT"
say "healthz ok: $(curl -sS "http://127.0.0.1:$HTTP_PORT/healthz" | jq -c .)"
# The image's own HEALTHCHECK command (follows PUNCHD_LISTEN's port).
pm healthcheck run "$tag-punchd" >/dev/null 2>&1 ||
	fail "the runtime image's HEALTHCHECK fails on a healthy punchd"
check_event "http://127.0.0.1:$HTTP_PORT" docker-1 ann
# The very same event again is a duplicate and changes nothing.
dup=$(curl -fsS -X POST -d '{"id":"docker-1","type":"order","member":"ann","data":{"items":[{"category":"fuel","amount":500},{"category":"shop","amount":125}]}}' \
	"http://127.0.0.1:$HTTP_PORT/v1/events") || fail "retried POST failed"
jq -e '.duplicate == true' <<<"$dup" >/dev/null || fail "retried event not flagged duplicate: $dup"
[ "$(curl -fsS "http://127.0.0.1:$HTTP_PORT/v1/members/ann" | jq .balances.stars)" = 86 ] ||
	fail "retried event changed ann's stars"
pm rm -f -t 3 -v "$tag-punchd" "$tag-redis" >/dev/null

# ---- 2. the compose file's services ------------------------------------------------------
# docker/compose.yaml itself, through podman-compose (podman 4.3 has no `podman compose`).
# podman-compose 1.0.3 exits 0 even when a container fails, and ignores depends_on's
# condition, so every claim is checked here: both containers running and healthy by the
# compose file's own healthchecks, punchd serving an event through the published port,
# Redis writing its AOF into the named /data volume. Project name = $tag, so only our own
# containers, volume and network are touched; images are the ones built above (tag test).
port_free "$COMPOSE_PORT" || fail "port $COMPOSE_PORT is in use (set COMPOSE_PORT=...)"
project=$tag
containers+=("${project}_redis_1" "${project}_punchd_1")
volumes+=("${project}_redis-data")
networks+=("${project}_default")
compose() {
	BASE="$BASE" PUNCHCARD_TAG=test PUNCHD_PORT="$COMPOSE_PORT" \
		podman-compose -p "$project" -f docker/compose.yaml "$@" >>"$tmp/compose.log" 2>&1
}
say "podman-compose up (project $project, punchd published on :$COMPOSE_PORT)"
compose up -d || { tail -30 "$tmp/compose.log" >&2; fail "podman-compose up failed"; }
for s in redis punchd; do
	pm container exists "${project}_${s}_1" ||
		{ tail -30 "$tmp/compose.log" >&2; fail "podman-compose did not create service $s"; }
done
wait_healthz "${project}_punchd_1" "http://127.0.0.1:$COMPOSE_PORT"
for s in redis punchd; do
	pm healthcheck run "${project}_${s}_1" >/dev/null 2>&1 ||
		fail "compose service $s: its healthcheck fails"
done
pm inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "${project}_punchd_1" |
	grep -qx PUNCHD_REDIS=redis:6379 || fail "compose punchd: PUNCHD_REDIS is not redis:6379"
check_event "http://127.0.0.1:$COMPOSE_PORT" docker-compose-1 bob
pm exec "${project}_redis_1" sh -c 'test -s /data/appendonlydir/*.incr.aof' ||
	fail "compose redis: no AOF written under /data"
[ "$(pm exec "${project}_redis_1" redis-cli config get appendfsync | tail -1)" = everysec ] ||
	fail "compose redis: appendfsync is not everysec"
for s in redis punchd; do
	running "${project}_${s}_1" || logs_and_fail "${project}_${s}_1" "compose service $s stopped"
done
say "compose: redis and punchd running and healthy, event served on :$COMPOSE_PORT, AOF in /data"
compose down -v || true
