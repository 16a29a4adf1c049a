#!/bin/sh
# Inside unias-gpu-check.sh (built by tools/gpu-check.sh): sets up Vulkan for onnxruntime's WebGPU
# provider, then runs the check with the bundled Node. Arguments go to the check (--help lists them).
here=$(cd "$(dirname "$0")" && pwd)

ldcache() { { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q "$1"; }

# The Vulkan loader and glvnd's libraries: the system's where it has them, else the bundled copies
# (Debian's), linked one by one into a folder on the library path.
mkdir -p "$here/use"
missing=""
for f in "$here"/lib/*; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  if ! ldcache "$(echo "$name" | sed 's/\./\\./g') "; then
    ln -sf "$f" "$here/use/$name"
    missing="$missing $name"
  fi
done
if [ -n "$missing" ]; then
  LD_LIBRARY_PATH="$here/use${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH
  echo "note: using the bundled$missing (not on this system)"
fi

# glvnd finds NVIDIA's EGL through a vendor file, which NVIDIA's container mount keeps under
# /usr/local/nvidia as well.
vendors=$(ls /etc/glvnd/egl_vendor.d/*.json /usr/share/glvnd/egl_vendor.d/*.json 2>/dev/null)
if [ -z "${__EGL_VENDOR_LIBRARY_FILENAMES:-}" ] && [ -z "$vendors" ] && [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
  __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  export __EGL_VENDOR_LIBRARY_FILENAMES
  echo "note: using NVIDIA's EGL vendor file $__EGL_VENDOR_LIBRARY_FILENAMES"
fi

# The driver's libraries in NVIDIA's container mount, when the linker does not know them.
if [ -d /usr/local/nvidia/lib64 ] && ! ldcache 'libGLX_nvidia\.so\.0 '; then
  LD_LIBRARY_PATH="/usr/local/nvidia/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export LD_LIBRARY_PATH
fi

# NVIDIA's Vulkan driver is part of its display driver (libGLX_nvidia.so.0), but containers often
# lack its manifest (nvidia_icd.json): write one when the library is there and no manifest is.
if [ -z "${VK_ICD_FILENAMES:-}${VK_DRIVER_FILES:-}" ]; then
  manifests=$(ls /etc/vulkan/icd.d/*.json /usr/share/vulkan/icd.d/*.json /usr/local/share/vulkan/icd.d/*.json 2>/dev/null)
  # NVIDIA's container mounts (GKE and similar) put the driver under /usr/local/nvidia, outside the
  # loader's search path.
  if [ -z "$manifests" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
    VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export VK_DRIVER_FILES
    manifests=$VK_DRIVER_FILES
    echo "note: using NVIDIA's driver manifest $VK_DRIVER_FILES"
  fi
  if [ -z "$manifests" ]; then
    for lib in libGLX_nvidia.so.0 libEGL_nvidia.so.0; do
      if ldcache "$lib" || [ -e "/usr/local/nvidia/lib64/$lib" ]; then
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
