#!/usr/bin/env bash
# The one entry point for the tenant runtime image: bash runtime-image/build.sh (any cwd, as root
# or a docker-group user; building the offline base needs root).
#   1. bundle src/server.ts into dist/runtime.cjs, its entry and the code cache training on the host
#      (esbuild), and the reference pack (src/records-pack/) into dist/records-pack/, so the image
#      build needs no network and no npm;
#   2. pick the base: $BULKHEAD_NODE_BASE, else the official node:24-bookworm-slim when present or
#      pullable, else bulkhead/node-base built from Debian + npm by base-offline.sh;
#   3. tag the image with a hash of what goes into it, and skip the build when that tag exists.
# Prints the image reference and size. Idempotent; a re-run with nothing changed takes ~1 s.
# Environment: BULKHEAD_NODE_BASE; BULKHEAD_RUNTIME_TAG, the moving tag beside the content hash
# (default latest); BULKHEAD_RUNTIME_FAULTS=1, the test-only variant (tag suffix -faults);
# BULKHEAD_STATE_DIR, whose cache/ holds the build lock.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
OFFICIAL_BASE=node:24-bookworm-slim
OFFLINE_BASE=bulkhead/node-base:24.21.0-bookworm-py3
REPO=bulkhead/runtime
# The moving tag next to the content hash; parallel work trees set their own (BULKHEAD_RUNTIME_TAG).
EXTRA_TAG="${BULKHEAD_RUNTIME_TAG:-latest}"
# BULKHEAD_RUNTIME_FAULTS=1 builds the test-only variant (tag suffix -faults) whose bundle keeps the
# fault-injection hooks; the production bundle has them compiled out (esbuild --define).
FAULTS="${BULKHEAD_RUNTIME_FAULTS:-0}"
[ "$FAULTS" = 1 ] && EXTRA_TAG="$EXTRA_TAG-faults"

# shellcheck source=runtime-image/script-kit.sh
. "$(dirname "${BASH_SOURCE[0]}")/script-kit.sh"
script_args "$@"

command -v docker >/dev/null 2>&1 || die "the docker CLI is missing: install the Debian package 'docker.io'."
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable (is dockerd running, may this user use it?)."
ESBUILD="$ROOT/node_modules/.bin/esbuild"
[ -x "$ESBUILD" ] || die "esbuild not found at $ESBUILD: install the npm dependencies first (npm ci)."

# Concurrent runs (parallel setups, test jobs) would otherwise race on dist/ and on the tags.
LOCK_DIR="${BULKHEAD_STATE_DIR:-/var/lib/bulkhead}/cache"
mkdir -p "$LOCK_DIR" 2>/dev/null && [ -w "$LOCK_DIR" ] || LOCK_DIR="${TMPDIR:-/tmp}"
exec 9>"$LOCK_DIR/runtime-image.lock"
flock 9

# (a) Bundle. Always rebuilt (tens of ms) from a clean dist/, so a stale file never ships.
t=$(now)
rm -rf "$HERE/dist"
# Three files: the runtime itself as one CommonJS script (dist/runtime.cjs), which the entry
# (dist/server.mjs, src/code-cache-entry.ts) compiles with the V8 code cache the image build records
# by running dist/train-code-cache.mjs once (src/code-cache-training.ts; removed after the training).
# The banner gives CommonJS dependencies bundled into ESM the require() they expect. esbuild
# writes source paths relative to its cwd into the bundle: run it from the repository root so the
# bundle, and so the image hash, do not depend on where this script was called from.
bundle() {
  (cd "$ROOT" && "$ESBUILD" "$@" --bundle --platform=node --target=node22 --log-level=warning)
}
ESM_REQUIRE="--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
# CommonJS has no import.meta: its url is the bundle's own file URL (the entry passes __filename), so
# that a file found beside the source (pack-confine.py) is found beside the bundle.
bundle runtime-image/src/server.ts --format=cjs --outfile=runtime-image/dist/runtime.cjs \
  "--define:process.env.BULKHEAD_FAULTS_BUILD=\"$FAULTS\"" \
  --define:import.meta.url=__bundle_url \
  "--banner:js=const __bundle_url = require('node:url').pathToFileURL(__filename).href;"
# The runtime's entry starts the reference pack first (src/packs/reference-prestart.ts), then loads
# the bundle (src/code-cache-entry.ts); the pack's own entry is the second step alone.
bundle runtime-image/src/runtime-entry.ts --format=esm --outfile=runtime-image/dist/server.mjs
bundle runtime-image/src/code-cache-training.ts --format=esm --outfile=runtime-image/dist/train-code-cache.mjs \
  "$ESM_REQUIRE"
# The reference pack (the records tools, src/records-pack/): its own bundle, loaded by a copy of
# the runtime's entry without its early pack start, with a code cache of its own, its manifest beside them; the Dockerfile moves the
# directory to /opt/bulkhead/packs/records/ and trains the cache (src/records-pack/training.ts).
bundle runtime-image/src/records-pack/server.ts --format=cjs --outfile=runtime-image/dist/records-pack/runtime.cjs
bundle runtime-image/src/code-cache-entry.ts --format=esm --outfile=runtime-image/dist/records-pack/server.mjs
cp "$HERE/src/records-pack/bulkhead-pack.json" "$HERE/dist/records-pack/bulkhead-pack.json"
bundle runtime-image/src/records-pack/training.ts --format=esm --outfile=runtime-image/dist/train-records-pack.mjs \
  "$ESM_REQUIRE"
# The reference pack's output validators, compiled here once instead of in every new runtime
# (src/packs/reference-validators.ts; the runtime loads dist/reference-validators.cjs beside its
# bundle, src/packs/output-validators.ts). The generator runs bundled, as plain JavaScript; its
# output requires Ajv's runtime helpers, so it is bundled in turn.
command -v node >/dev/null 2>&1 || die "node is missing: run .ci/setup.sh (it installs Node 24)."
mkdir -p "$HERE/dist/.validators"
bundle runtime-image/src/packs/reference-validators-cli.ts --format=cjs --outfile=runtime-image/dist/.validators/cli.cjs
node "$HERE/dist/.validators/cli.cjs" "$HERE/dist/.validators/source.cjs"
bundle runtime-image/dist/.validators/source.cjs --format=cjs --outfile=runtime-image/dist/reference-validators.cjs
rm -rf "$HERE/dist/.validators"
log "bundled src/server.ts -> dist/runtime.cjs ($(du -k "$HERE/dist/runtime.cjs" | cut -f1) KB), src/records-pack -> dist/records-pack ($(du -k "$HERE/dist/records-pack/runtime.cjs" | cut -f1) KB) in $(secs "$t")"
# The packs' launcher (Landlock) is Python, not bundled: it sits beside the bundle, where
# runtime-image/src/packs/pack-confinement.ts looks for it.
cp "$HERE/src/packs/pack-confine.py" "$HERE/dist/pack-confine.py"

# (b) Base image. A local offline base wins over a pull attempt: the pull cannot succeed where it
#     was needed, and a blackholed registry would cost every re-run the full timeout.
t=$(now)
if [ -n "${BULKHEAD_NODE_BASE:-}" ]; then
  BASE="$BULKHEAD_NODE_BASE"
  have_image "$BASE" || die "BULKHEAD_NODE_BASE=$BASE is not a local image (the build does not pull)."
  log "base: $BASE (from BULKHEAD_NODE_BASE)"
elif have_image "$OFFICIAL_BASE"; then
  BASE="$OFFICIAL_BASE"
  log "base: $BASE (local)"
elif have_image "$OFFLINE_BASE"; then
  BASE="$OFFLINE_BASE"
  log "base: $BASE (local, assembled offline earlier)"
elif pull_err=$(timeout 20 docker pull -q "$OFFICIAL_BASE" 2>&1 >/dev/null); then
  BASE="$OFFICIAL_BASE"
  log "base: $BASE (pulled in $(secs "$t"))"
else
  [ -n "$pull_err" ] || pull_err="no answer within 20 s"
  log "docker pull $OFFICIAL_BASE failed after $(secs "$t"): $(printf '%s' "$pull_err" | tail -n 1)"
  log "falling back to assembling $OFFLINE_BASE from Debian's archive and the npm registry"
  bash "$HERE/base-offline.sh"
  BASE="$OFFLINE_BASE"
fi
BASE_ID=$(docker image inspect -f '{{.Id}}' "$BASE")

# (c) Content hash: the image is a function of the Dockerfile, the bundle and the base, nothing
#     else (no RUN fetches anything), so an existing tag for the hash is the image we would build.
HASH=$(
  {
    printf 'dockerfile %s\n' "$(sha256sum <"$HERE/Dockerfile" | cut -d' ' -f1)"
    (cd "$HERE" && find dist -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
    printf 'base %s\n' "$BASE_ID"
  } | sha256sum | cut -c1-12
)
IMAGE="$REPO:$HASH"
if have_image "$IMAGE"; then
  log "$IMAGE is up to date, skipping the build"
else
  log "building $IMAGE on $BASE (docker build --network none) ..."
  t=$(now)
  # The classic builder: BuildKit needs the buildx CLI plugin, which Debian's docker.io does not
  # ship, and the classic builder takes a local base image as is, without asking a registry.
  if ! out=$(DOCKER_BUILDKIT=0 docker build --network none --force-rm \
    --build-arg "NODE_BASE=$BASE" \
    --label "io.bulkhead.runtime.content-hash=$HASH" \
    -t "$IMAGE" -t "$REPO:$EXTRA_TAG" "$HERE" 2>&1); then
    printf '%s\n' "$out" | sed 's/^/[image]   /' >&2
    die "docker build failed (output above)"
  fi
  log "built in $(secs "$t")"
fi
# Keep :latest on the image matching the current sources, also after a skip.
docker tag "$IMAGE" "$REPO:$EXTRA_TAG"

# (d) Report.
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
log "image: $IMAGE (also $REPO:$EXTRA_TAG), $((size / 1000000)) MB, base $BASE; total $(secs "$T0")"
