#!/bin/sh
# Inside unias-gpu-check.sh (built by tools/gpu-check.sh): sets up Vulkan for onnxruntime's WebGPU
# provider, then runs the check with the bundled Node. Arguments go to the check (--help lists them).
here=$(cd "$(dirname "$0")" && pwd)

ldcache() { { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q "$1"; }

# The Vulkan loader: the system's when it has one, else the bundled copy (Debian's libvulkan1).
if ! ldcache 'libvulkan\.so\.1 '; then
  LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH
  echo "note: no system Vulkan loader; using the bundled libvulkan.so.1"
fi

# NVIDIA's Vulkan driver is part of its display driver (libGLX_nvidia.so.0), but containers often
# lack its manifest (nvidia_icd.json): write one when the library is there and no manifest is.
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  manifests=$(ls /etc/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null)
  if [ -z "$manifests" ]; then
    for lib in libGLX_nvidia.so.0 libEGL_nvidia.so.0; do
      if ldcache "$lib"; then
        printf '{"file_format_version":"1.0.0","ICD":{"library_path":"%s","api_version":"1.3.0"}}\n' "$lib" > "$here/nvidia_icd.json"
        VK_ICD_FILENAMES="$here/nvidia_icd.json"
        export VK_ICD_FILENAMES
        echo "note: no Vulkan driver manifest; using $lib (NVIDIA) through $here/nvidia_icd.json"
        break
      fi
    done
  fi
fi

exec "$here/node" "$here/check.mjs" "$@"
