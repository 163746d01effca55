#!/usr/bin/env bash
# The README's entry point: provision what is missing (Node >= 22.18, npm dependencies, Docker engine,
# Redis, the tenant runtime image), then run an npm script with the provisioned Node on PATH.
#   bash .ci/bulkhead.sh start   # the development stack with a demo tenant
#   bash .ci/bulkhead.sh test    # the whole test suite
set -euo pipefail
if [ "$#" -eq 0 ] || [ "$1" = "--help" ] || [ "$1" = "-h" ]; then
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
# The test suite also needs the test-only runtime image variant.
if [ "$1" = test ]; then export BULKHEAD_BUILD_TEST_IMAGES=1; fi
# shellcheck source=.ci/setup.sh
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$BULKHEAD_ROOT"
script="$1"
shift
if [ "$#" -gt 0 ]; then exec npm run --silent "$script" -- "$@"; fi
exec npm run --silent "$script"
