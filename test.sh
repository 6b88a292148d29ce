#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole suite through ctest: once on the
# normal build and once on an AddressSanitizer + UndefinedBehaviorSanitizer build.
set -euo pipefail
HB_ROOT=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$HB_ROOT/scripts/common.sh"

hb_install_deps "${HB_TEST_PACKAGES[@]}"
# Both store backends, so the e2e files run on sqlite and on PostgreSQL (label e2e-pg).
hb_build "$HB_ROOT/build" -DHAUSBUS_POSTGRES=ON
ctest --test-dir "$HB_ROOT/build" --output-on-failure -j 2 "$@"

hb_build "$HB_ROOT/build-asan" -DHAUSBUS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DHAUSBUS_POSTGRES=ON
# The sanitizer run also runs the suite with batching off (one event per message and per
# transaction), so every e2e and fault test passes in both modes.
HAUSBUS_BUS_BATCH=1 HAUSBUS_COMMIT_BATCH=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir "$HB_ROOT/build-asan" --output-on-failure -j 2 "$@"
