#!/usr/bin/python3
"""Golden ResNet fixtures from torchvision (Debian python3-torchvision 0.14.1, torch 1.13.1).

Writes, under test/fixtures/:
  torchvision-resnet-keys.json    every state_dict key and shape of resnet18/34/50, wide_resnet50_2
  resnet-golden.safetensors       for resnet18 and wide_resnet50_2: the input image and the taps
                                  res1..res5 computed in float64 with weights made by a formula
                                  (weight_value() below; src/resnet.parity.test.ts makes the same)

Run: /usr/bin/python3 tools/make-resnet-fixtures.py   (from packages/backbones)
"""
import json
import math
import struct
import sys

import numpy as np
import torch
import torchvision

M = 0xFFFFFFFF
SIZE = 32


def uniform(k, n):
    """n values in [0, 1) from an integer hash of (element index, tensor index k)."""
    i = np.arange(n, dtype=np.uint64)
    h = (i * np.uint64(0x9E3779B1) + np.uint64((k * 0x85EBCA77) & M)) & np.uint64(M)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x2C1B3C6D)) & np.uint64(M)
    h ^= h >> np.uint64(12)
    return h.astype(np.float64) / 4294967296.0


def weight_value(name, shape, k):
    n = int(np.prod(shape)) if len(shape) else 1
    u = uniform(k, n)
    if name.endswith('running_var'):
        v = 0.5 + u
    elif name.endswith('running_mean'):
        v = 0.2 * (u - 0.5)
    elif len(shape) >= 2:
        fan_in = int(np.prod(shape[1:]))
        v = (2 * u - 1) * math.sqrt(3.0 / fan_in)
    elif name.endswith('weight'):
        v = 0.5 + u
    else:
        v = 0.2 * (u - 0.5)
    return v.astype(np.float32).reshape(shape)


def write_safetensors(path, tensors, metadata):
    header = {'__metadata__': metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype='<f4')
        b = a.tobytes()
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(',', ':'))
    h += ' ' * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)))
        f.write(h.encode())
        for b in blobs:
            f.write(b)


def taps(model, x):
    x = model.relu(model.bn1(model.conv1(x)))
    out = {'res1': x}
    x = model.maxpool(x)
    for i in range(1, 5):
        x = getattr(model, f'layer{i}')(x)
        out[f'res{i + 1}'] = x
    return out


def main():
    torch.set_num_threads(2)
    keys = {}
    for arch in ['resnet18', 'resnet34', 'resnet50', 'wide_resnet50_2']:
        sd = getattr(torchvision.models, arch)().state_dict()
        keys[arch] = {k: list(v.shape) for k, v in sd.items()}
    with open('test/fixtures/torchvision-resnet-keys.json', 'w') as f:
        json.dump({'torchvision': torchvision.__version__, 'torch': torch.__version__, 'keys': keys}, f, indent=0)

    image = (2 * uniform(999_999, 3 * SIZE * SIZE) - 1).astype(np.float32).reshape(1, 3, SIZE, SIZE)
    tensors = {'image': image}
    for arch in ['resnet18', 'wide_resnet50_2']:
        model = getattr(torchvision.models, arch)().double().eval()
        sd = model.state_dict()
        names = sorted(k for k in sd if not k.endswith('num_batches_tracked'))
        new = {n: torch.from_numpy(weight_value(n, list(sd[n].shape), k).astype(np.float64)) for k, n in enumerate(names)}
        model.load_state_dict(new, strict=False)
        with torch.no_grad():
            out = taps(model, torch.from_numpy(image.astype(np.float64)))
        for t, v in out.items():
            tensors[f'{arch}.{t}'] = v.numpy().astype(np.float32)
        print(arch, {t: tuple(v.shape) for t, v in out.items()}, file=sys.stderr)
    write_safetensors('test/fixtures/resnet-golden.safetensors', tensors, {
        'source': f'torchvision {torchvision.__version__}, torch {torch.__version__}, float64, eval mode',
        'weights': 'tools/make-resnet-fixtures.py weight_value(name, shape, index in sorted state_dict keys)',
    })


main()
