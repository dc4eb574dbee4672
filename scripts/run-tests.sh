#!/usr/bin/env bash
# Runs every suite: starts throwaway Redis and PostgreSQL, runs ctest on the
# Release build (the unit suites first, which need no server and fail fast, then
# the integration ones), then tm_common's tests under ASan+UBSan, then each
# libFuzzer target's regression inputs and FUZZ_SECONDS (default 20) of fuzzing.
# The services are always stopped, whatever fails.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}

eval "$(scripts/test-services.sh start)"
trap 'scripts/test-services.sh stop' EXIT

echo "== ctest ($BUILD): unit suites"
ctest --test-dir "$BUILD" --output-on-failure --no-tests=error -j2 -L '^unit$'

echo "== ctest ($BUILD): integration suites (every suite not labelled unit)"
ctest --test-dir "$BUILD" --output-on-failure --no-tests=error -j2 -LE '^unit$'

echo "== tm_common under AddressSanitizer + UBSan ($ASAN_BUILD)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  "$ASAN_BUILD/tests/common_test" --report_level=short

echo "== fuzz targets ($FUZZ_BUILD): regressions, seeds, ${FUZZ_SECONDS:-20} s of fuzzing each"
FUZZ_BUILD="$FUZZ_BUILD" FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/run-fuzz.sh
