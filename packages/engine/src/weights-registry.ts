/**
 * Known pretrained backbone weights: where the official files are, how to check them, and their
 * licence. Both sources publish no full SHA-256; their file names carry its first 8 hex digits,
 * the prefix that torch hub's `check_hash` compares (torchvision loads with check_hash=True;
 * EfficientNet-PyTorch's loader does not check, but names its files the same way).
 */

export interface KnownWeights {
  /** The backbone id these weights fit (`unias weights fetch ID`). */
  readonly id: string;
  readonly url: string;
  /** The file name upstream, kept in the cache. */
  readonly fileName: string;
  /** Leading hex digits of the file's SHA-256. */
  readonly sha256Prefix: string;
  readonly licence: string;
  /** Where the URL is published. */
  readonly source: string;
}

const LUKEMELAS = 'https://github.com/lukemelas/EfficientNet-PyTorch/releases/download/1.0/';
const TORCHVISION = 'https://download.pytorch.org/models/';
const EFFICIENTNET_LICENCE = 'Apache-2.0 (EfficientNet-PyTorch, ported from the TensorFlow EfficientNet checkpoints)';
const TORCHVISION_LICENCE = 'BSD-3-Clause (torchvision)';
const EFFICIENTNET_SOURCE = 'lukemelas/EfficientNet-PyTorch efficientnet_pytorch/utils.py url_map (release 1.0)';
const TORCHVISION_SOURCE = 'torchvision.models IMAGENET1K_V1';

function entry(id: string, base: string, fileName: string, licence: string, source: string): KnownWeights {
  const prefix = /-([0-9a-f]{8,})\.pth$/.exec(fileName)?.[1];
  if (!prefix) throw new Error(`known weights ${id}: file name ${fileName} carries no hash prefix`);
  return { id, url: base + fileName, fileName, sha256Prefix: prefix, licence, source };
}

export const KNOWN_WEIGHTS: readonly KnownWeights[] = [
  entry('efficientnet-b0', LUKEMELAS, 'efficientnet-b0-355c32eb.pth', EFFICIENTNET_LICENCE, EFFICIENTNET_SOURCE),
  entry('efficientnet-b1', LUKEMELAS, 'efficientnet-b1-f1951068.pth', EFFICIENTNET_LICENCE, EFFICIENTNET_SOURCE),
  entry('efficientnet-b2', LUKEMELAS, 'efficientnet-b2-8bb594d6.pth', EFFICIENTNET_LICENCE, EFFICIENTNET_SOURCE),
  entry('efficientnet-b3', LUKEMELAS, 'efficientnet-b3-5fb5a3c3.pth', EFFICIENTNET_LICENCE, EFFICIENTNET_SOURCE),
  entry('efficientnet-b4', LUKEMELAS, 'efficientnet-b4-6ed6700e.pth', EFFICIENTNET_LICENCE, EFFICIENTNET_SOURCE),
  entry('resnet18', TORCHVISION, 'resnet18-f37072fd.pth', TORCHVISION_LICENCE, TORCHVISION_SOURCE),
  entry('resnet50', TORCHVISION, 'resnet50-0676ba61.pth', TORCHVISION_LICENCE, TORCHVISION_SOURCE),
  entry('wide_resnet50_2', TORCHVISION, 'wide_resnet50_2-95faca4d.pth', TORCHVISION_LICENCE, TORCHVISION_SOURCE),
];

export function findKnownWeights(id: string): KnownWeights | undefined {
  return KNOWN_WEIGHTS.find((w) => w.id === id);
}
