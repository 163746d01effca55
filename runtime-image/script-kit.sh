# shellcheck shell=bash
# Sourced by the image scripts in this directory (build.sh, base-offline.sh,
# build-compose-images.sh): one message style, timings, and a failing command named by its line.
now() { date +%s%N; }
T0=$(now)
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", (b - a) / 1e9 }'; }
log() { printf '[image] %s\n' "$*"; }
die() { printf '[image] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'die "${BASH_SOURCE[0]##*/} line $LINENO: \"$BASH_COMMAND\" failed"' ERR
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
