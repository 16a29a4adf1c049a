/**
 * The presets on onnxruntime's WebGPU provider against its CPU provider, at 64x64: the inference
 * pipeline's maps and scores (1e-4), and three training steps of the cpu preset's head (losses
 * 1e-4; parameters 1e-3, as the GPU check asks: AdamW moves an element whose gradient is near zero
 * by about lr whatever its size, so float rounding in such gradients shows at lr / |w|; measured
 * 4.1e-4 on SwiftShader, the losses equal). On SwiftShader (a software Vulkan driver) one preset takes a minute or more,
 * almost all of it compiling shaders, so this runs only with UNIAS_WEBGPU_PRESETS=1; the package
 * tests of backend-onnx and training run the WebGPU path on small graphs every time.
 */
import { createOnnxBackend, formatPlacement, openOnnxDevice, type OnnxBackend, type PlacementReport } from '@unias/backend-onnx';
import { compareTrainedParams, swiftshaderMissing, useSwiftshader } from '@unias/backend-onnx/testing';
import { createRng, initParams, sizeOf, type Backend, type TensorData } from '@unias/graph';
import { maxRelError } from '@unias/graph/testing';
import { buildInferenceGraph, buildTrainingGraph, presetConfig, resolveConfig, type PresetName } from '@unias/model';
import { adamw, createTrainingStep } from '@unias/training';
import { beforeAll, describe, expect, it } from 'vitest';

const SIZE = 64;
const wanted = process.env['UNIAS_WEBGPU_PRESETS'] === '1';
// A hardware GPU needs no SwiftShader; without one, SwiftShader is the driver.
const missing = wanted ? swiftshaderMissing() : 'slow on SwiftShader; set UNIAS_WEBGPU_PRESETS=1 to run';
if (wanted && !missing && !process.env['VK_ICD_FILENAMES']) useSwiftshader();

/** A preset at 64x64 (the 7x7 neighbour mask needs a larger query grid: 3x3 here). */
const small = (name: PresetName) => presetConfig(name, { inputSize: SIZE, neighbourSize: 3 });

describe.skipIf(missing !== undefined)(`presets on WebGPU vs the CPU provider${missing ? ` (skipped: ${missing})` : ''}`, () => {
  let gpu: OnnxBackend;
  let cpu: OnnxBackend;
  const placements: Array<{ what: string; report: PlacementReport }> = [];
  beforeAll(async () => {
    gpu = await openOnnxDevice('webgpu', { onPlacement: (report, s) => placements.push({ what: s.outputs.slice(0, 2).join(','), report }) });
    cpu = await createOnnxBackend();
    console.log(`webgpu: ${gpu.name}, ${(gpu as { choice?: { why: string } }).choice?.why}`);
  });

  it.each(['cpu', 'small', 'paper'] as const)('%s preset: maps and scores within 1e-4', { timeout: 900_000 }, async (name) => {
    const graph = buildInferenceGraph(resolveConfig(small(name)));
    const params = initParams(graph, 1);
    const image: TensorData = { dtype: 'float32', shape: [2, 3, SIZE, SIZE], data: createRng(3).fillUniform(new Float32Array(2 * 3 * SIZE * SIZE), 0, 1) };
    const run = async (b: Backend) => {
      const s = await b.prepare(graph, { params, dynamicBatch: true });
      try {
        const t0 = performance.now();
        const out = await s.run({ image });
        return { out, ms: performance.now() - t0 };
      } finally {
        await s.dispose();
      }
    };
    const [g, c] = [await run(gpu), await run(cpu)];
    const errors = Object.keys(c.out).map((k) => [k, maxRelError(g.out[k]!.data, c.out[k]!.data)] as const);
    console.log(
      `${name} preset at ${SIZE}x${SIZE}, batch 2: ${errors.map(([k, e]) => `${k} ${e.toExponential(2)}`).join(', ')}; webgpu ${g.ms.toFixed(0)} ms (first run), cpu ${c.ms.toFixed(0)} ms; ${formatPlacement(placements.at(-1)!.report)}`,
    );
    for (const [k, e] of errors) expect(e, k).toBeLessThanOrEqual(1e-4);
  });

  it('cpu preset: three training steps give the same losses (1e-4) and parameters (1e-3)', { timeout: 900_000 }, async () => {
    const graph = buildTrainingGraph(small('cpu'), { batchSize: 2 });
    const init = initParams(graph, 0);
    const train = async (b: Backend) => {
      const trainer = await createTrainingStep({
        model: graph,
        params: init,
        optimizer: adamw({ lr: 1e-3, weightDecay: 1e-4 }),
        clipNorm: 0.1,
        backend: b,
        seed: 1,
      });
      const feeds: Record<string, TensorData> = {};
      for (const n of trainer.feedNames) {
        const shape = graph.inputs.get(n)!.shape;
        feeds[n] = { dtype: 'float32', shape, data: createRng(5).fillUniform(new Float32Array(sizeOf(shape)), -1, 1) };
      }
      const losses: number[] = [];
      for (let i = 0; i < 3; i++) losses.push((await trainer.step(feeds)).loss);
      const { params } = await trainer.getState();
      await trainer.dispose();
      return { losses, params };
    };
    const [g, c] = [await train(gpu), await train(cpu)];
    // The attention's key biases (zero true gradient) are compared apart, to 5 lr (see compareTrainedParams).
    const { worst, worstName, keyBiasMax } = compareTrainedParams(g.params, c.params);
    expect(keyBiasMax).toBeLessThan(5 * 1e-3);
    console.log(
      `cpu preset training, 3 steps: losses ${maxRelError(g.losses, c.losses).toExponential(2)}, parameters ${worst.toExponential(2)} (${worstName}); ${formatPlacement(placements.at(-1)!.report)}`,
    );
    expect(maxRelError(g.losses, c.losses)).toBeLessThanOrEqual(1e-4);
    expect(worst).toBeLessThanOrEqual(1e-3);
  });
});
