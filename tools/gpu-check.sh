#!/usr/bin/env bash
# Builds the GPU check: ONE file (at most 64 MiB) for a Linux x64 machine with a GPU, no Node and no
# network: Node (this machine's official linux-x64 build), the check bundled with every workspace
# package it uses, onnxruntime-node's JS and linux-x64 binaries (CPU and WebGPU providers) and the
# Vulkan loader with glvnd's libraries, as an xz tarball behind a small sh header. docs/devices.md says how to run it.
#
#   tools/gpu-check.sh [OUT_FILE]        default: out/unias-gpu-check.sh
#   sh unias-gpu-check.sh [--help]       on the GPU machine (needs sh, tar, xz, mktemp)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/out/unias-gpu-check.sh}
limit=$((64 * 1024 * 1024))

node_bin=$(node -p 'process.execPath')
[ "$(node -p 'process.platform + "-" + process.arch + "-" + process.release.name')" = "linux-x64-node" ] \
  || { echo "gpu-check.sh: needs a linux-x64 Node (official build) to bundle" >&2; exit 1; }
ldd "$node_bin" | grep -qE 'libnode|libuv|libssl|libicu' \
  && { echo "gpu-check.sh: $node_bin links shared libnode/libuv/openssl/icu; use an official nodejs.org build" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT

echo "bundling the check (tools/gpu-check)"
pnpm --dir "$root" --filter @unias/gpu-check --silent build >/dev/null
cp "$root/tools/gpu-check/dist/check.mjs" "$root/tools/gpu-check/run.sh" "$stage/"
cp "$node_bin" "$stage/node"
# Node's official build carries its debug symbols (99 MB); strip drops them (86 MB, 2 MB less packed)
# and keeps the dynamic symbol table that native addons such as onnxruntime's binding link against.
if command -v strip >/dev/null 2>&1; then strip "$stage/node"; fi

echo "onnxruntime-node (JS, linux-x64 binding and library)"
ort=$(readlink -f "$root/tools/gpu-check/node_modules/onnxruntime-node")
common=$(readlink -f "$ort/../onnxruntime-common")
mkdir -p "$stage/node_modules/onnxruntime-node/bin/napi-v6/linux/x64" "$stage/node_modules/onnxruntime-common"
cp -r "$ort/package.json" "$ort/dist" "$stage/node_modules/onnxruntime-node/"
cp "$ort/bin/napi-v6/linux/x64/onnxruntime_binding.node" "$ort/bin/napi-v6/linux/x64/libonnxruntime.so.1" "$stage/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/"
cp -r "$common/package.json" "$common/dist" "$stage/node_modules/onnxruntime-common/"

echo "the Vulkan loader and glvnd's libraries"
# NVIDIA's Vulkan driver (libGLX_nvidia.so.0) loads but creates no instance without glvnd's EGL/GLX
# dispatch libraries, which bare CUDA containers lack ("Found no drivers"): they travel too, and
# run.sh puts on the library path only those the GPU machine does not have.
mkdir -p "$stage/lib"
for lib in libvulkan.so.1:libvulkan1 libGLdispatch.so.0:libglvnd0 libEGL.so.1:libegl1 libGLX.so.0:libglx0 \
  libOpenGL.so.0:libopengl0 libGL.so.1:libgl1 libGLESv2.so.2:libgles2; do
  name=${lib%%:*} found=""
  for d in /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib; do
    [ -e "$d/$name" ] && { found=$(readlink -f "$d/$name"); break; }
  done
  [ -n "$found" ] || { echo "gpu-check.sh: no $name here to bundle (Debian: apt-get install ${lib#*:})" >&2; exit 1; }
  cp "$found" "$stage/lib/$name"
done

echo "packing (xz)"
mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
cat > "$tmp" <<'HEADER'
#!/bin/sh
# UniAS.ts GPU check (built by tools/gpu-check.sh; docs/devices.md). Unpacks Node, onnxruntime and
# the check into a temporary folder and runs it: sh unias-gpu-check.sh [--help]
set -eu
command -v xz >/dev/null 2>&1 || { echo "unias-gpu-check: needs xz (Debian/Ubuntu: apt-get install xz-utils)" >&2; exit 2; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/unias-gpu-check.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM
line=$(awk '/^__UNIAS_PAYLOAD__$/ { print NR + 1; exit 0 }' "$0")
tail -n +"$line" "$0" | tar -xJf - -C "$dir"
status=0
sh "$dir/run.sh" "$@" || status=$?
exit $status
__UNIAS_PAYLOAD__
HEADER
tar -C "$stage" -cf - . | xz -T0 -6 >> "$tmp"
chmod +x "$tmp"
size=$(stat -c %s "$tmp")
if [ "$size" -gt "$limit" ]; then
  rm -f "$tmp"
  echo "gpu-check.sh: the file would be $size bytes, over 64 MiB" >&2
  exit 1
fi
mv "$tmp" "$out"
echo "$out: $((size / 1024 / 1024)) MiB ($size bytes)"
