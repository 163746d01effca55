#!/usr/bin/env bash
# Every image docker-compose.yml runs, built on this host with no container registry:
#   bulkhead/runtime        tenant runtime, which the supervisor starts tenants from (build.sh)
#   bulkhead/control-plane  router, supervisor, egress gateway and operator CLI (control-plane.Dockerfile)
#   bulkhead/dev-idp        the control plane plus the development IdP, for the dev profile only
#                           (dev-idp.Dockerfile)
#   bulkhead/redis          Debian bookworm's redis-server (redis.Dockerfile)
#   bulkhead/prometheus     Debian bookworm's prometheus, for the observability profile
#                           (prometheus.Dockerfile)
# The others build on the base the runtime image was built on (build.sh picks it: the official
# node:24-bookworm-slim when present or pullable, else the one base-offline.sh assembles), with
# `docker build --network none`: nothing is fetched inside a build. Redis and Prometheus come from .deb files that
# apt-get downloads on the host from its own Debian mirror (cached under
# ${BULKHEAD_STATE_DIR:-/var/lib/bulkhead}/cache/debs), so the host must run Debian bookworm with
# its package lists present (apt-get update).
#
# Each image is tagged with a hash of what goes into it (the build is skipped when that tag
# exists) and with ${BULKHEAD_VERSION:-dev}, the tag docker-compose.yml names. Idempotent; prints
# progress, timings and the image references. Run from anywhere, as root or a docker-group user.
# Environment: BULKHEAD_VERSION; BULKHEAD_RUNTIME_IMAGE, a runtime image to use as it is (it must
# exist; build.sh is then not run), else BULKHEAD_RUNTIME_TAG and BULKHEAD_NODE_BASE for build.sh;
# BULKHEAD_STATE_DIR.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"
VERSION="${BULKHEAD_VERSION:-dev}"
RUNTIME_IMAGE="${BULKHEAD_RUNTIME_IMAGE:-bulkhead/runtime:${BULKHEAD_RUNTIME_TAG:-latest}}"
CACHE_DIR="${BULKHEAD_STATE_DIR:-/var/lib/bulkhead}/cache"

# shellcheck source=runtime-image/script-kit.sh
. "$HERE/script-kit.sh"
script_args "$@"

# shellcheck disable=SC1091
host_os=$(. /etc/os-release && printf '%s %s' "${VERSION_CODENAME:-unknown}" "${PRETTY_NAME:-}")
[ "${host_os%% *}" = bookworm ] \
  || die "Redis and Prometheus are installed from this host's Debian packages, which must match the bookworm base; this host runs ${host_os#* }."
command -v apt-get >/dev/null 2>&1 || die "apt-get is missing: this script needs a Debian host."
[ -f "$ROOT/node_modules/.package-lock.json" ] || die "no npm-installed node_modules in $ROOT: run npm ci first."
# The build context holds node_modules; docker build sends a symbolic link as a link, not its target.
[ ! -L "$ROOT/node_modules" ] || die "$ROOT/node_modules is a symbolic link, which docker build does not follow: use a real directory (npm ci)."

# 1. The tenant runtime image, and with it the base image.
if [ -n "${BULKHEAD_RUNTIME_IMAGE:-}" ]; then
  have_image "$RUNTIME_IMAGE" || die "BULKHEAD_RUNTIME_IMAGE=$RUNTIME_IMAGE is not a local image (build it with build.sh)."
  log "runtime image: $RUNTIME_IMAGE (from BULKHEAD_RUNTIME_IMAGE, not rebuilt)"
else
  bash "$HERE/build.sh"
fi
BASE=$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.base.name"}}' "$RUNTIME_IMAGE")
have_image "$BASE" || die "$RUNTIME_IMAGE names base $BASE, which is not a local image."
BASE_ID=$(docker image inspect -f '{{.Id}}' "$BASE")
log "base: $BASE (the runtime image's)"

mkdir -p "$CACHE_DIR/debs"
exec 9>"$CACHE_DIR/compose-images.lock"
flock 9
WORK=$(mktemp -d)
cid=""
cleanup() {
  rm -rf "$WORK"
  [ -z "$cid" ] || docker rm -f "$cid" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Builds $1 (repository) from Dockerfile $2 and context $3 unless the tag for hash $4 exists; any
# further arguments go to docker build.
build() {
  local repo="$1" dockerfile="$2" context="$3" hash="$4" out t
  shift 4
  if have_image "$repo:$hash"; then
    log "$repo:$hash is up to date, skipping the build"
  else
    log "building $repo:$hash (docker build --network none) ..."
    t=$(now)
    if ! out=$(DOCKER_BUILDKIT=0 docker build --network none --force-rm -f "$dockerfile" \
      --build-arg "NODE_BASE=$BASE" --build-arg "BASE=$BASE" "$@" \
      --label "io.bulkhead.content-hash=$hash" -t "$repo:$hash" "$context" 2>&1); then
      printf '%s\n' "$out" | sed 's/^/[image]   /' >&2
      die "docker build of $repo failed (output above)"
    fi
    log "  built in $(secs "$t")"
  fi
  docker tag "$repo:$hash" "$repo:$VERSION"
  log "$repo:$VERSION = $repo:$hash, $(($(docker image inspect -f '{{.Size}}' "$repo:$hash") / 1000000)) MB"
}

# 2. Control plane. The context is the repository root as .dockerignore trims it; node_modules
#    counts through npm's record of what it installed (node_modules/.package-lock.json), which the
#    Dockerfile checks against package-lock.json.
t=$(now)
HASH=$(
  cd "$ROOT"
  {
    printf 'base %s\n' "$BASE_ID"
    find runtime-image/control-plane.Dockerfile .dockerignore package.json package-lock.json \
      node_modules/.package-lock.json kernel router supervisor tenants egress console -type f -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-12
)
log "control-plane sources hashed in $(secs "$t")"
build bulkhead/control-plane "$HERE/control-plane.Dockerfile" "$ROOT" "$HASH"
CONTROL_PLANE_HASH=$HASH

# 2b. The development IdP: the control plane's image plus dev/ and the development dependencies.
HASH=$(
  cd "$ROOT"
  {
    printf 'control-plane %s\n' "$CONTROL_PLANE_HASH"
    find runtime-image/dev-idp.Dockerfile package-lock.json node_modules/.package-lock.json dev \
      -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
  } | sha256sum | cut -c1-12
)
build bulkhead/dev-idp "$HERE/dev-idp.Dockerfile" "$ROOT" "$HASH" \
  --build-arg "CONTROL_PLANE=bulkhead/control-plane:$CONTROL_PLANE_HASH"

# 3. Images of Debian packages (Redis; Prometheus for the observability profile). apt simulates the
#    install against the base's own package database, so each list is exactly what that base lacks;
#    each file is downloaded once and checked against its SHA-256.
t=$(now)
cid=$(docker create "$BASE")
docker cp "$cid:/var/lib/dpkg/status" "$WORK/status" >/dev/null
docker rm "$cid" >/dev/null
cid=""
cached() { [ -f "$CACHE_DIR/debs/$1" ] && [ "$(sha256sum <"$CACHE_DIR/debs/$1" | cut -d' ' -f1)" = "${2#SHA256:}" ]; }
all_cached() {
  local _uri file _size sum
  while read -r _uri file _size sum; do cached "$file" "$sum" || return 1; done <"$1"
}

# Builds image $1 from Dockerfile $2 (in this directory) with Debian package $3 and what it needs
# from the archive put next to it as debs/.
deb_image() {
  local repo="$1" dockerfile="$2" package="$3" name t dir packages hash _uri file _size sum
  name=${repo#*/}
  t=$(now)
  dir="$WORK/$name"
  mapfile -t packages < <(
    apt-get -s --no-install-recommends -o Dir::State::status="$WORK/status" install "$package" \
      | awk '$1 == "Inst" { gsub(/[()]/, "", $3); print $2 "=" $3 }'
  )
  [ "${#packages[@]}" -gt 0 ] || die "apt found nothing to install for $package (are the package lists there? apt-get update)"
  mkdir -p "$dir/debs"
  cp "$HERE/$dockerfile" "$dir/Dockerfile"
  apt-get download --print-uris "${packages[@]}" >"$dir.uris" \
    || die "apt-get cannot locate ${packages[*]}: refresh the package lists (apt-get update)"
  if ! all_cached "$dir.uris"; then
    log "  apt-get download ${packages[*]}"
    rm -rf "$WORK/download" && mkdir "$WORK/download"
    (cd "$WORK/download" && apt-get download -q -o APT::Sandbox::User=root "${packages[@]}" >/dev/null) \
      || die "apt-get download failed: refresh the package lists (apt-get update) and re-run"
    mv "$WORK"/download/*.deb "$CACHE_DIR/debs/"
  fi
  while read -r _uri file _size sum; do
    cached "$file" "$sum" || die "$file does not match its SHA-256 in the package lists"
    cp "$CACHE_DIR/debs/$file" "$dir/debs/"
  done <"$dir.uris"
  log "$name packages ready in $(secs "$t"): ${packages[*]}"
  hash=$(
    {
      printf 'base %s\n' "$BASE_ID"
      cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -c1-12
  )
  build "$repo" "$dir/Dockerfile" "$dir" "$hash"
}
log "the base's package list read in $(secs "$t")"
deb_image bulkhead/redis redis.Dockerfile redis-server
deb_image bulkhead/prometheus prometheus.Dockerfile prometheus

log "images for docker-compose.yml (tag $VERSION) ready in $(secs "$T0")"
