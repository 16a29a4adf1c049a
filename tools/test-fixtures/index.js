// Absolute paths of the golden reference files (tests must pass on a fresh clone, so they live here,
// not in ../shared). See PROVENANCE.md.
import { fileURLToPath } from 'node:url';

export function referenceFixture(name) {
  return fileURLToPath(new URL(`./reference/${name}`, import.meta.url));
}

export const FIXTURES = {
  /** Official-layout EfficientNet-B4 weights (F16), only the keys the four taps need. */
  backboneTaps: referenceFixture('unias-small.backbone-taps.safetensors'),
  /** Official-layout head weights of the "small" preset (F16). */
  head: referenceFixture('unias-small.head.safetensors'),
  /** Input image, backbone targets/decoder inputs, reconstructions, final map, loss, 26 gradients. */
  io: referenceFixture('unias-small.io.safetensors'),
  /** Every state_dict key and shape of the "paper" and "small" presets, trainable counts. */
  stateDictShapes: referenceFixture('unias-state-dict-shapes.json'),
};
