#!/bin/sh
# Build a libFuzzer target in build/fuzz (clang, ASan+UBSan) and run it for
# SECONDS (default 60) on a copy of its seed corpus: FUZZ_TARGET=fuzz_request
# (the default: the request parser, with the HTTP dictionary), fuzz_h2 (the
# HTTP/2 front end) or fuzz_blob (the shared tier's page decoder).
# Exits non-zero when the fuzzer finds a crash (the reproducer is left in
# build/fuzz/artifacts/), a leak or a sanitizer report.
#
#   [FUZZ_TARGET=fuzz_blob] tests/fuzz/run.sh [SECONDS] [extra libFuzzer flags...]
set -eu
SECONDS_TO_RUN=${1:-60}
[ $# -gt 0 ] && shift
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD="$ROOT/build/fuzz"
TARGET=${FUZZ_TARGET:-fuzz_request}
case "$TARGET" in
  fuzz_request) SEEDS="$HERE/corpus"; DICT="-dict=$HERE/http.dict" ;;
  fuzz_blob) SEEDS="$HERE/corpus-blob"; DICT="" ;;
  fuzz_h2) SEEDS="$HERE/corpus-h2"; DICT="" ;;
  *) echo "run.sh: unknown FUZZ_TARGET $TARGET" >&2; exit 2 ;;
esac

cmake -S "$ROOT" -B "$BUILD" -DRS_FUZZ=ON -DRS_TESTS=OFF \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "$TARGET"

WORK="$BUILD/corpus-$TARGET"       # grows as the fuzzer finds new inputs
mkdir -p "$WORK" "$BUILD/artifacts"
cp -n "$SEEDS"/* "$WORK"/ 2>/dev/null || true

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
set +e
"$BUILD/$TARGET" "$WORK" $DICT \
  -max_total_time="$SECONDS_TO_RUN" \
  -max_len=8192 \
  -timeout=10 \
  -rss_limit_mb=2048 \
  -print_final_stats=1 \
  -artifact_prefix="$BUILD/artifacts/" \
  "$@"
rc=$?
set -e
if [ $rc -ne 0 ]; then
  echo "$TARGET: FAILED (exit $rc); reproducers in $BUILD/artifacts/" >&2
  exit $rc
fi
echo "$TARGET: no crash in ${SECONDS_TO_RUN}s"
