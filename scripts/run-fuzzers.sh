#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) in a separate clang build and
# runs each one for a bounded time on a scratch copy of its seed corpus.
#
#   FUZZ_SECONDS=60       time per target (libFuzzer -max_total_time)
#   FUZZ_BUILD_DIR=build-fuzz
#   FUZZ_TARGETS="fuzz-packet ..."   subset to run (default: all)
#   FUZZ_ARTIFACTS=tests/fuzz/crashes  where crash inputs are kept (git-ignored)
#   FUZZ_KEEP_CORPUS=dir  keep the grown corpora under dir/<target> instead of
#                         deleting them
#
# Prints one line per target and exits non-zero if any target crashed,
# leaked, timed out or ran out of memory; the input is kept under
# $FUZZ_ARTIFACTS/<target>/ and the libFuzzer log next to it.
# Reproduce one: <build>/tests/fuzz/<target> <artifact>
# (GLOW_FUZZ_VERBOSE=1 makes the harnesses say how far an input got).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD_DIR:-build-fuzz}
artifacts=${FUZZ_ARTIFACTS:-$root/tests/fuzz/crashes}
read -r -a targets <<< "${FUZZ_TARGETS:-fuzz-packet fuzz-noise-responder fuzz-pbjson fuzz-link fuzz-dv fuzz-e2e fuzz-beacon fuzz-book}"

case $seconds in
  '' | *[!0-9]*) echo "run-fuzzers: FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2 ;;
esac

if ! command -v clang > /dev/null; then
  echo "run-fuzzers: clang is missing (scripts/setup-deps.sh installs it)" >&2
  exit 2
fi

# Configure once; later runs only make sure the option is on.
if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzz=true
elif ! meson introspect "$build" --buildoptions | python3 -c '
import json, sys
sys.exit(0 if any(o["name"] == "fuzz" and o["value"] for o in json.load(sys.stdin)) else 1)'; then
  meson setup --reconfigure "$build" -Dfuzz=true
fi
meson compile -C "$build" "${targets[@]}"

work=$(mktemp -d "${TMPDIR:-/tmp}/glow-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Sanitizer reports must end the run (a UBSan report included) and be readable.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/$t
  seeds=$root/tests/fuzz/corpus/$t
  corpus=$work/$t
  log=$work/$t.log
  art=$artifacts/$t
  mkdir -p "$corpus" "$art"
  if [ -d "$seeds" ]; then
    cp -R "$seeds/." "$corpus/"
  fi
  dict=()
  if [ -f "$root/tests/fuzz/$t.dict" ]; then
    dict=("-dict=$root/tests/fuzz/$t.dict")
  fi
  rc=0
  "$bin" "$corpus" "${dict[@]}" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$art/" > "$log" 2>&1 || rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  size=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -eq 0 ]; then
    printf '%-22s ok     %10s execs  %6s exec/s  corpus %s\n' "$t" "${execs:-?}" "${rate:-?}" "$size"
  else
    failed=1
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    kind=$(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [a-z-]+|runtime error:.*|fuzz invariant failed.*' "$log" || true)
    cp "$log" "$art/$t.log"
    printf '%-22s CRASH  %10s execs  %6s exec/s  corpus %s  exit %s  %s\n' "$t" "${execs:-?}" "${rate:-?}" \
      "$size" "$rc" "${kind:-}"
    echo "  input: ${crash:-(none written)}"
    echo "  log:   $art/$t.log"
  fi
  rmdir "$art" 2> /dev/null || true # only kept when it holds something
  if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
    mkdir -p "$FUZZ_KEEP_CORPUS/$t"
    cp -R "$corpus/." "$FUZZ_KEEP_CORPUS/$t/"
  fi
done
rmdir "$artifacts" 2> /dev/null || true
exit "$failed"
