# What sesh's scripts need on the machine, and installing it (Debian/Ubuntu, apt-get).
# Sourced by scripts/run-sample (the main job), scripts/test-all (every test) and fuzz/run:
#
#     . scripts/prereqs.sh
#     sesh_prereqs main|test "$@"     # handles --check and --prereqs-only, see below
#     sesh_apt_install PACKAGE...     # one-off installs (fuzz/run's clang)
#
# sesh_prereqs TIER [--check | --prereqs-only]:
#   (no flag)        makes sure every command TIER needs is there, then returns;
#   --prereqs-only   the same, then exits 0 (nothing else runs);
#   --check          installs nothing: lists what is missing with the command that installs
#                    it and exits 1, or says nothing is missing and exits 0.
# As root, what is missing is installed with apt-get (one quiet `apt-get update` at most, then
# `apt-get install`, saying what it installs). As another user, the scripts print the one
# command that installs it and exit 1. Nothing is installed when everything is there.
# Rust (cargo, rustc) is not a Debian package here: it comes from rustup (~/.cargo/bin).
#
# `bash scripts/prereqs.sh --list TIER` prints the commands (and files) TIER checks, one a
# line, as "COMMAND PACKAGE" (tests/scripts/prereqs_check.sh uses it).

export PATH="$HOME/.cargo/bin:$PATH"

# COMMAND:PACKAGE (COMMAND|OTHER: either command will do; /ABSOLUTE/PATH: a file that must
# exist, e.g. a header, checked under $SESH_PREREQS_ROOT when that is set, for tests).
SESH_PREREQS_MAIN=(
  cmake:cmake
  make:make
  gcc:gcc
  g++:g++
  python3:python3
  "pkg-config|pkgconf:pkg-config"
)
SESH_PREREQS_TEST=(
  valgrind:valgrind
  javac:openjdk-17-jdk-headless
  git:git
  abidiff:abigail-tools
  /usr/include/sqlite3.h:libsqlite3-dev
  "chromium|chromium-browser:chromium"
  node:nodejs
  npm:npm
)

sesh_prereqs_list() {
  local tier=$1 entry
  local entries=("${SESH_PREREQS_MAIN[@]}")
  [ "$tier" = test ] && entries+=("${SESH_PREREQS_TEST[@]}")
  for entry in "${entries[@]}"; do
    echo "${entry%%:*} ${entry#*:}"
  done
}

# Prints "COMMAND PACKAGE" for every command TIER needs that is not on PATH.
sesh_prereqs_missing() {
  local tier=$1 commands package cmd found
  while read -r commands package; do
    found=0
    for cmd in ${commands//|/ }; do
      case "$cmd" in
        /*) if [ -e "${SESH_PREREQS_ROOT:-}$cmd" ]; then found=1; break; fi ;;
        *) if command -v "$cmd" >/dev/null 2>&1; then found=1; break; fi ;;
      esac
    done
    [ "$found" = 1 ] || echo "${commands%%|*} $package"
  done < <(sesh_prereqs_list "$tier")
}

sesh_prereqs_rust_missing() {
  command -v cargo >/dev/null 2>&1 && command -v rustc >/dev/null 2>&1 && return 1
  return 0
}

sesh_prereqs_rust_message() {
  echo "  cargo/rustc: not found (nor in ~/.cargo/bin). Rust is not installed with apt-get here:" \
       "install it with rustup: curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh"
}

sesh_install_command() {
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo "
  echo "${sudo}apt-get install -y $*"
}

# Installs the given Debian packages as root (quietly; apt-get update once per run, shared with
# child scripts through SESH_APT_UPDATED); as another user prints the command and fails.
sesh_apt_install() {
  [ $# -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ]; then
    echo "prereqs: missing packages: $*; as root, run:" >&2
    echo "  $(sesh_install_command "$@")" >&2
    return 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "prereqs: no apt-get on this machine; install these (Debian names): $*" >&2
    return 1
  fi
  local log
  log=$(mktemp)
  echo "prereqs: installing with apt-get: $*"
  if [ -z "${SESH_APT_UPDATED:-}" ]; then
    if ! DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1; then
      cat "$log" >&2; rm -f "$log"
      echo "prereqs: apt-get update failed" >&2
      return 1
    fi
    export SESH_APT_UPDATED=1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    echo "prereqs: apt-get install $* failed" >&2
    return 1
  fi
  rm -f "$log"
}

sesh_prereqs() {
  local tier=$1 mode=install
  shift
  case "$tier" in main|test) ;; *) echo "sesh_prereqs: tier main or test, not '$tier'" >&2; exit 2 ;; esac
  for arg in "$@"; do
    case "$arg" in
      --check) mode=check ;;
      --prereqs-only) mode=only ;;
      *) echo "$(basename "$0"): unknown argument '$arg' (--check, --prereqs-only)" >&2; exit 2 ;;
    esac
  done

  local missing=() packages=() cmd package rust=0
  while read -r cmd package; do
    missing+=("$cmd")
    packages+=("$package")
  done < <(sesh_prereqs_missing "$tier")
  sesh_prereqs_rust_missing && rust=1

  if [ "$mode" = check ]; then
    if [ ${#missing[@]} -eq 0 ] && [ "$rust" = 0 ]; then
      echo "prereqs ($tier): nothing missing"
      exit 0
    fi
    echo "prereqs ($tier): missing:"
    local i
    for i in "${!missing[@]}"; do
      echo "  ${missing[$i]} (Debian package ${packages[$i]})"
    done
    [ "$rust" = 0 ] || sesh_prereqs_rust_message
    if [ ${#packages[@]} -gt 0 ]; then
      echo "install with:"
      echo "  $(sesh_install_command "${packages[@]}")"
    fi
    exit 1
  fi

  if [ ${#packages[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
      echo "prereqs ($tier): missing ${missing[*]}; install them with:" >&2
      echo "  $(sesh_install_command "${packages[@]}")" >&2
      [ "$rust" = 0 ] || sesh_prereqs_rust_message >&2
      exit 1
    fi
    sesh_apt_install "${packages[@]}" || exit 1
    hash -r
    local still
    still=$(sesh_prereqs_missing "$tier")
    if [ -n "$still" ]; then
      echo "prereqs ($tier): still missing after apt-get install: $(echo "$still" | cut -d' ' -f1 | tr '\n' ' ')" >&2
      exit 1
    fi
  fi
  if [ "$rust" = 1 ]; then
    echo "prereqs ($tier): missing:" >&2
    sesh_prereqs_rust_message >&2
    exit 1
  fi
  [ "$mode" = only ] && { echo "prereqs ($tier): everything is there"; exit 0; }
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  case "${1:-}" in
    --list) sesh_prereqs_list "${2:-test}" ;;
    *) echo "usage: bash scripts/prereqs.sh --list main|test (source it for the rest)" >&2; exit 2 ;;
  esac
fi
