# shellcheck shell=bash
# Sourced by the image scripts in this directory (build.sh, base-offline.sh,
# build-compose-images.sh): one message style, timings, a failing command named by its line, and
# their command line (script_args).
now() { date +%s%N; }
T0=$(now)
secs() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", (b - a) / 1e9 }'; }
log() { printf '[image] %s\n' "$*"; }
die() { printf '[image] ERROR: %s\n' "$*" >&2; exit 1; }
trap 'die "${BASH_SOURCE[0]##*/} line $LINENO: \"$BASH_COMMAND\" failed"' ERR
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
# The scripts take their settings from the environment and no argument: `--help` (or -h) prints the
# calling script's header comment, and anything else is refused with exit code 2 before the script
# does anything, so that a --help never starts a build. Called as `script_args "$@"`.
script_args() {
  local script="${BASH_SOURCE[1]}"
  if [ "$#" -eq 0 ]; then return 0; fi
  if [ "$#" -eq 1 ] && { [ "$1" = --help ] || [ "$1" = -h ]; }; then
    awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$script"
    exit 0
  fi
  printf '[image] ERROR: %s takes no arguments, only its environment (--help describes it): %s\n' \
    "${script##*/}" "$*" >&2
  exit 2
}
