#!/usr/bin/env bash
# ctest prereqs_check: the prerequisite check of scripts/test-all and scripts/run-sample
# (scripts/prereqs.sh, --check: installs nothing) on a PATH made for the test.
#
# PATH is a temporary directory of symlinks to everything on the real PATH; a command the
# check looks for that this machine lacks (say chromium) gets a stub there, so that the
# test does not depend on what is installed. Then:
#  1. with everything there, --check says nothing is missing and exits 0;
#  2. without cmake, --check names cmake and the command that installs it
#     (apt-get install -y ... cmake), exits non-zero, and prints nothing else: no other
#     missing command, no shell error.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
farm="$work/bin"
mkdir "$farm"
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# Symlinks to every executable on PATH (the first of a name wins, as on PATH itself).
IFS=: read -ra path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  [ -d "$dir" ] || continue
  for file in "$dir"/*; do
    name=${file##*/}
    [ -f "$file" ] && [ -x "$file" ] || continue
    [ -e "$farm/$name" ] || [ -L "$farm/$name" ] || ln -s "$file" "$farm/$name"
  done
done
# The check also looks in ~/.cargo/bin (rustup's place): keep cmake out of there too.
if [ -e "$HOME/.cargo/bin/cmake" ]; then
  echo "prereqs_check: $HOME/.cargo/bin/cmake exists, so no PATH here lacks cmake"
  exit 1
fi

# Stubs for whatever this machine lacks, so that "everything present" is true on the farm.
# Files the check needs (headers: /usr/include/...) are looked up under SESH_PREREQS_ROOT,
# a directory made here with an empty stub of each.
export SESH_PREREQS_ROOT="$work/root"
stubs=()
while read -r commands _package; do
  case "$commands" in
    /*)
      mkdir -p "$SESH_PREREQS_ROOT$(dirname "$commands")"
      : >"$SESH_PREREQS_ROOT$commands"
      continue
      ;;
  esac
  found=0
  for cmd in ${commands//|/ }; do
    [ -e "$farm/$cmd" ] && { found=1; break; }
  done
  if [ "$found" = 0 ]; then
    cmd=${commands%%|*}
    printf '#!/bin/sh\nexit 0\n' >"$farm/$cmd"
    chmod +x "$farm/$cmd"
    stubs+=("$cmd")
  fi
done < <(bash "$root/scripts/prereqs.sh" --list test)
for cmd in cargo rustc; do
  if [ ! -e "$farm/$cmd" ] && [ ! -x "$HOME/.cargo/bin/$cmd" ]; then
    printf '#!/bin/sh\nexit 0\n' >"$farm/$cmd"
    chmod +x "$farm/$cmd"
    stubs+=("$cmd")
  fi
done
[ ${#stubs[@]} -eq 0 ] || echo "stubs for commands this machine lacks: ${stubs[*]}"

check() {  # check SCRIPT: runs SCRIPT --check on the farm; sets out and rc
  out=$(PATH="$farm" "$BASH" "$root/scripts/$1" --check 2>&1)
  rc=$?
}

for script in test-all run-sample; do
  # 1. Everything there.
  check "$script"
  echo "--- $script --check, everything on PATH (exit $rc):"
  echo "$out"
  [ "$rc" = 0 ] || fail "$script --check exited $rc with everything on PATH"
  grep -q 'nothing missing' <<<"$out" || fail "$script --check did not say nothing is missing"

  # 2. No cmake.
  rm "$farm/cmake"
  check "$script"
  echo "--- $script --check, PATH without cmake (exit $rc):"
  echo "$out"
  [ "$rc" != 0 ] || fail "$script --check exited 0 without cmake"
  grep -q '^  cmake (Debian package cmake)$' <<<"$out" || fail "$script --check did not name cmake"
  grep -Eq '^  (sudo )?apt-get install -y cmake$' <<<"$out" ||
    fail "$script --check did not print the command installing cmake"
  others=$(grep -E '^  [^ ]+ \(Debian package' <<<"$out" | grep -v '^  cmake ' || true)
  [ -z "$others" ] || fail "$script --check named more than cmake: $others"
  lines=$(wc -l <<<"$out")
  [ "$lines" -le 4 ] || fail "$script --check printed $lines lines, expected the 4 of its report"
  if grep -Eiq 'command not found|no such file|error|line [0-9]+:' <<<"$out"; then
    fail "$script --check printed an error instead of its report"
  fi
  ln -s "$(command -v cmake)" "$farm/cmake"
done

if [ "$failures" -gt 0 ]; then
  echo "prereqs_check: $failures failure(s)"
  exit 1
fi
echo "prereqs_check: passed"
