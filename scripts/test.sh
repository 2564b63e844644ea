#!/usr/bin/env bash
# Runs the test parts named on the command line (host, asan, vm) and fails if
# the mount table of the namespace it was started in changed meanwhile: every
# test must do its mount work in namespaces it creates (STYLE.md rule 10).
set -uo pipefail

build=build
asan_build=build-asan
parts=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build=$2; shift 2 ;;
    --asan-build) asan_build=$2; shift 2 ;;
    host|asan|vm) parts+=("$1"); shift ;;
    *) echo "usage: $0 [--build DIR] [--asan-build DIR] host|asan|vm..." >&2; exit 2 ;;
  esac
done

jobs=$(nproc)
# The mount table as seen from here, without the mount ids' volatile parts: a
# snapshot is compared line by line, so any added, removed or changed mount shows.
snapshot() { cat /proc/self/mountinfo; }
before=$(mktemp)
after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
snapshot >"$before"

status=0
run_part() {
  local name=$1; shift
  echo "==> $name: $*"
  if ! "$@"; then
    echo "==> $name: FAILED"
    status=1
  fi
}

for part in "${parts[@]}"; do
  case "$part" in
    host) run_part "host tests ($build)" ctest --test-dir "$build" -L host -j "$jobs" --output-on-failure ;;
    # The feature-profile reruns (profile.*) are left to the plain build: they
    # run the same code as the per-case host tests, minus a few branches.
    asan) run_part "host tests under ASan+UBSan ($asan_build)" \
            env ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            ctest --test-dir "$asan_build" -L host -E '^(install|profile)\.' -j "$jobs" --output-on-failure ;;
    vm)
      if [ "${MNTNS_SKIP_VM:-0}" = 1 ]; then
        echo "******************************************************************************"
        echo "*** VM tests SKIPPED because MNTNS_SKIP_VM=1: the 7.x native paths were NOT tested ***"
        echo "******************************************************************************"
      fi
      run_part "the same suites in a Linux 7.x VM, plain and as 7.0 and 6.18 (feature profiles)" ctest --test-dir "$build" -L vm -j "$jobs" --output-on-failure ;;
  esac
done

snapshot >"$after"
if ! diff -u "$before" "$after" >/dev/null; then
  echo "==> FAILED: the mount table of the namespace the tests were started in changed:"
  diff -u "$before" "$after" | sed -n '3,60p'
  status=1
else
  echo "==> mount table of the calling namespace unchanged ($(wc -l <"$before") mounts)"
fi
exit $status
