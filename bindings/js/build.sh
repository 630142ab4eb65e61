#!/bin/bash
# Builds dist/sesh.wasm: sesh for wasm32-unknown-unknown with Debian's Rust for the web
# (rustc-web, cargo-web, rust-web-src, lld-22), then wasm-opt (binaryen) when it is there.
# As root, installs what is missing with apt-get (scripts/prereqs.sh); as another user,
# prints the command. Run from anywhere; npm test runs it when dist/sesh.wasm is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
. "$repo/scripts/prereqs.sh"

# Debian's binaries by path: rustup's (a stable toolchain without the wasm std source)
# come first in PATH.
CARGO_WEB=/usr/bin/cargo
RUSTC_WEB=/usr/bin/rustc
RUSTDOC_WEB=/usr/bin/rustdoc
missing=()
dpkg -s rustc-web >/dev/null 2>&1 || missing+=(rustc-web)
dpkg -s cargo-web >/dev/null 2>&1 || missing+=(cargo-web)
dpkg -s rust-web-src >/dev/null 2>&1 || missing+=(rust-web-src)
command -v wasm-ld-22 >/dev/null 2>&1 || missing+=(lld-22)
sesh_apt_install "${missing[@]}"

cd "$here"
unset RUSTFLAGS CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_TARGET
# -Zbuild-std: Debian ships std's source, not a compiled wasm32 std; std's own crates come
# from crates.io.
RUSTC_BOOTSTRAP=1 RUSTC=$RUSTC_WEB RUSTDOC=$RUSTDOC_WEB "$CARGO_WEB" build --release \
  --target wasm32-unknown-unknown \
  -Zbuild-std=std,panic_abort \
  -j "${SESH_WEB_JOBS:-2}"

mkdir -p dist
built=target/wasm32-unknown-unknown/release/sesh_web.wasm
if command -v wasm-opt >/dev/null 2>&1; then
  # The features rustc's wasm32-unknown-unknown enables by default (wasm-opt needs them said).
  wasm-opt -Oz --strip-debug --strip-producers \
    --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-multivalue --enable-reference-types \
    "$built" -o dist/sesh.wasm
else
  echo "build.sh: no wasm-opt (Debian package binaryen): dist/sesh.wasm is cargo's output" >&2
  cp "$built" dist/sesh.wasm
fi
echo "build.sh: dist/sesh.wasm, $(wc -c < dist/sesh.wasm) bytes"
