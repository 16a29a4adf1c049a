/**
 * openBackend off the CPU says where onnxruntime placed each kind of session's nodes and what it
 * copies per run, once per kind (by outputs), on WebGPU for real (SwiftShader; skipped with the
 * reason where it or the Vulkan loader is missing).
 */
import { swiftshaderMissing, useSwiftshader } from '@unias/backend-onnx/testing';
import { GraphBuilder, type TensorData } from '@unias/graph';
import { describe, expect, it } from 'vitest';
import { openBackend } from './backend.js';

const missing = swiftshaderMissing();
if (!missing) useSwiftshader();

function graph(output: string, scale: number) {
  const b = new GraphBuilder();
  b.output(output, b.mul(b.input('x', [2, 3]), scale));
  return b.build();
}

describe.skipIf(missing !== undefined)(`openBackend on WebGPU${missing ? ` (skipped: ${missing})` : ''}`, () => {
  it('logs the device choice, then one placement line per kind of session', async () => {
    const lines: string[] = [];
    const backend = await openBackend('onnx', { device: 'webgpu', threads: 1, log: (l) => lines.push(l) });
    const x: TensorData = { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    for (const [output, scale] of [
      ['y', 2],
      ['y', 3],
      ['z', 4],
    ] as const) {
      const s = await backend.prepare(graph(output, scale));
      const out = await s.run({ x });
      expect(Array.from(out[output]!.data)).toEqual([1, 2, 3, 4, 5, 6].map((v) => v * scale));
      await s.run({ x });
      await s.dispose();
    }
    expect(lines[0]).toMatch(/^device webgpu \(asked for/);
    const placements = lines.filter((l) => l.startsWith('placement'));
    expect(placements).toHaveLength(2);
    expect(placements[0]).toMatch(/^placement \(y\): \d+ nodes? on WebGpuExecutionProvider.*; 0\.000 MB copied between host and device per run/);
    expect(placements[1]).toMatch(/^placement \(z\): /);
  });
});
