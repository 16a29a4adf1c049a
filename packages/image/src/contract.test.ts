/** The contract's constants are what decoding does: the default kernel is linear, recorded as such. */
import { describe, expect, it } from 'vitest';
import { PREPROCESSING_METADATA_KEYS, preprocessingMetadata, preprocessingMismatch, RESIZE_KERNEL } from './contract.js';
import { decodeImageBytes } from './decode.js';
import { pngBytes } from './testing/images.js';

describe('image contract', () => {
  it('decodes with the linear kernel by default, which other kernels do not match', async () => {
    const data = Uint8Array.from({ length: 61 * 47 * 3 }, (_, i) => (i * 104729) % 256);
    const png = await pngBytes({ width: 61, height: 47, channels: 3, data });
    const size = { width: 24, height: 16 };
    const bytesOf = async (kernel?: 'linear' | 'lanczos3') => Buffer.from((await decodeImageBytes(png, 't', kernel ? { size, kernel } : { size })).data.buffer);
    expect(RESIZE_KERNEL).toBe('linear');
    expect((await bytesOf()).equals(await bytesOf('linear'))).toBe(true);
    expect((await bytesOf()).equals(await bytesOf('lanczos3'))).toBe(false);
  });

  it('records every step in the export metadata', () => {
    const m = preprocessingMetadata();
    expect(Object.keys(m).sort()).toEqual(Object.values(PREPROCESSING_METADATA_KEYS).sort());
    expect(m).toEqual({
      'unias.preprocess.resize': 'linear',
      'unias.preprocess.fit': 'fill',
      'unias.preprocess.orientation': 'exif',
      'unias.preprocess.colour': 'rgb',
      'unias.preprocess.alpha': 'black',
      'unias.preprocess.range': '0,1',
    });
  });

  it('names the first metadata key that asks for other preprocessing; absent keys are this contract', () => {
    expect(preprocessingMismatch({})).toBeNull();
    expect(preprocessingMismatch(preprocessingMetadata())).toBeNull();
    expect(preprocessingMismatch({ 'unias.preprocess.alpha': 'white' })).toBe(
      "metadata unias.preprocess.alpha = 'white', but images are preprocessed with unias.preprocess.alpha = 'black' (docs/exported-model.md)",
    );
  });
});
