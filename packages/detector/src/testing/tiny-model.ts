/**
 * Test support: one tiny UniAS model (MobileNetV2 taps, a narrow head, random weights: nothing to
 * download, a fraction of a second to build) written in every format the project writes: a run
 * directory (model.safetensors in it), a bare .safetensors file and an exported .onnx pipeline.
 */
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { exportModel, type Thresholds } from '@unias/exporters';
import { initParams } from '@unias/graph';
import { buildInferenceGraph, presetConfig, resolveConfig } from '@unias/model';

/** Non-square input (height 32, width 64), so a swapped axis shows. */
export const TINY_INPUT: readonly [number, number] = [32, 64];

export interface TinyModelFiles {
  readonly dir: string;
  readonly runDir: string;
  readonly safetensors: string;
  readonly onnx: string;
  cleanup(): Promise<void>;
}

export async function tinyModelFiles(thresholds: Thresholds = {}): Promise<TinyModelFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'unias-detector-'));
  const config = presetConfig('cpu', { inputSize: TINY_INPUT, convDim: 32, hidden: 16, maskDim: 8, dimFeedforward: 16, encoderLayers: 1, neighbourSize: 0 });
  const params = initParams(buildInferenceGraph(resolveConfig(config)), 5);
  const model = { config, params, preset: 'cpu', classes: ['tiny'], thresholds };
  const runDir = join(dir, 'run');
  await mkdir(runDir);
  await exportModel({ model, format: 'safetensors', out: join(runDir, 'model.safetensors') });
  const safetensors = join(dir, 'tiny.safetensors');
  await copyFile(join(runDir, 'model.safetensors'), safetensors);
  const onnx = join(dir, 'tiny.onnx');
  await exportModel({ model, format: 'onnx', out: onnx });
  return { dir, runDir, safetensors, onnx, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A textured RGB picture, width x height, as raw interleaved bytes (detail at every scale). */
export function texture(width: number, height: number, seed: number): Uint8Array {
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 0.5 + 0.3 * Math.sin((x * (c + 1) + seed) * 0.45) * Math.cos(y * 0.21 * (c + 2)) + 0.15 * (((x * 7 + y * 13 + c * 5 + seed) % 11) / 10 - 0.5);
        out[(y * width + x) * 3 + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
    }
  }
  return out;
}

/** `texture` as a PNG file's bytes. */
export async function texturePng(width: number, height: number, seed: number): Promise<Buffer> {
  return sharp(Buffer.from(texture(width, height, seed)), { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}
