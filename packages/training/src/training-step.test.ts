import { createOnnxBackend } from '@unias/backend-onnx';
import { createTfjsBackend } from '@unias/backend-tfjs';
import { createGraph, initParams, type Backend, type TensorData } from '@unias/graph';
import { maxRelError } from '@unias/graph/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { adamw, sgd } from './optimizers.js';
import { warmupCosineLr } from './schedules.js';
import { buildStepGraph, createTrainingStep, type TrainingStepOptions } from './training-step.js';
import { createReferenceBackend } from './testing/reference-backend.js';
import { keyBias, smallBatch, smallModel, worstParamError } from './testing/small-model.js';

const modelGraph = (() => {
  const b = createGraph({ training: true });
  smallModel(b);
  return b.build();
})();
const init = initParams(modelGraph, 7);
const batches = [0, 1, 2, 3, 4].map((i) => smallBatch(100 + i));

function options(backend: Backend, extra: Partial<TrainingStepOptions> = {}): TrainingStepOptions {
  return {
    model: smallModel,
    params: init,
    optimizer: adamw({ lr: 3e-3, weightDecay: 0.01 }),
    schedule: warmupCosineLr({ lr: 3e-3, warmupSteps: 2, totalSteps: 10 }),
    clipNorm: 1,
    backend,
    seed: 42,
    ...extra,
  };
}

interface Run {
  losses: number[];
  norms: number[];
  params: ReadonlyMap<string, TensorData>;
}

async function train(backend: Backend, steps = 5, extra: Partial<TrainingStepOptions> = {}): Promise<Run> {
  const trainer = await createTrainingStep(options(backend, extra));
  const losses: number[] = [];
  const norms: number[] = [];
  for (let s = 0; s < steps; s++) {
    const r = await trainer.step(batches[s % batches.length]!);
    losses.push(r.loss);
    norms.push(r.gradNorm!);
  }
  const { params } = await trainer.getState();
  await trainer.dispose();
  return { losses, norms, params };
}

describe('training step: 5 AdamW steps (warm-up + cosine, clipping, dropout on) of a conv + attention + norm model', () => {
  let reference: Run;
  let onnx: Run;
  beforeAll(async () => {
    reference = await train(createReferenceBackend());
    onnx = await train(await createOnnxBackend());
  });

  it('the key bias of the attention (zero true gradient) stays at rounding-noise level on every backend', () => {
    for (const run of [reference, onnx]) expect(Math.max(...keyBias(run.params.get('attn.in_proj_bias')!).map(Math.abs))).toBeLessThan(5 * 3e-3);
  });

  it('ONNX Runtime matches the float64 reference', () => {
    expect(maxRelError(onnx.losses, reference.losses)).toBeLessThan(1e-5);
    expect(worstParamError(onnx.params, reference.params)).toBeLessThan(1e-4);
    expect(reference.losses[4]).toBeLessThan(reference.losses[0]!);
  });

  it('tfjs (cpu) gives the same parameters as ONNX Runtime to 1e-4', async () => {
    const tfjs = await train(await createTfjsBackend({ prefer: ['tfjs-cpu'] }));
    const err = worstParamError(tfjs.params, onnx.params);
    console.info(
      `5-step parity ORT vs tfjs-cpu: worst param rel error ${err.toExponential(2)}, losses ${maxRelError(tfjs.losses, onnx.losses).toExponential(2)}`,
    );
    expect(err).toBeLessThan(1e-4);
    expect(maxRelError(tfjs.norms, onnx.norms)).toBeLessThan(1e-4);
  });

  it('with SGD + momentum (no noise amplification) every param, key bias included, agrees to 1e-4', async () => {
    const o = { optimizer: sgd({ lr: 0.05, momentum: 0.9, weightDecay: 1e-4 }), schedule: () => 0.05 };
    const a = await train(await createOnnxBackend(), 5, o);
    const b = await train(await createTfjsBackend({ prefer: ['tfjs-cpu'] }), 5, o);
    let worst = 0;
    for (const [name, t] of a.params) worst = Math.max(worst, maxRelError(t.data, b.params.get(name)!.data));
    expect(worst).toBeLessThan(1e-4);
  });

  it('trained params actually moved (the check above is not trivially satisfied)', () => {
    expect(worstParamError(onnx.params, init)).toBeGreaterThan(1e-3);
  });
});

describe('training step state', () => {
  it('getState/setState resume a run exactly, dropout draws included', async () => {
    const backend = await createOnnxBackend({ intraOpNumThreads: 1 });
    const trainer = await createTrainingStep(options(backend));
    await trainer.step(batches[0]!);
    await trainer.step(batches[1]!);
    const saved = await trainer.getState();
    expect(saved.step).toBe(2);
    expect([...saved.optimizer.keys()]).toContain('adamw.exp_avg.stem.weight');
    const first = [(await trainer.step(batches[2]!)).loss, (await trainer.step(batches[3]!)).loss];
    const after = await trainer.getState();
    await trainer.setState(saved);
    const again = [(await trainer.step(batches[2]!)).loss, (await trainer.step(batches[3]!)).loss];
    expect(again).toEqual(first);
    expect(worstParamError((await trainer.getState()).params, after.params)).toBe(0);
    await trainer.dispose();
  });

  it('frozen params are bound once, excluded from the gradient and the state, and never change', async () => {
    const backend = await createOnnxBackend({ intraOpNumThreads: 1 });
    const trainer = await createTrainingStep(options(backend, { frozen: (n) => n.startsWith('stem.') }));
    expect(trainer.frozen).toEqual(['stem.weight', 'stem.bias']);
    expect(trainer.trainable).not.toContain('stem.weight');
    // no backward op produces a gradient of the stem convolution's weight: nothing correlates x with dy
    const stemWeight = trainer.graph.params.get('stem.weight')!;
    const usesOfStem = trainer.graph.nodes.filter((n) => n.kind === 'op' && n.inputs.includes(stemWeight));
    expect(usesOfStem.map((n) => (n.kind === 'op' ? n.op : ''))).toEqual(['conv2d']);
    await trainer.step(batches[0]!);
    const state = await trainer.getState();
    expect(state.params.has('stem.weight')).toBe(false);
    expect([...state.optimizer.keys()].some((k) => k.includes('stem.'))).toBe(false);
    await trainer.dispose();
  });

  it('a model given as a graph trains like the same model given as a builder function', async () => {
    const backend = createReferenceBackend();
    const b = createGraph({ training: true });
    b.output('loss', smallModel(b));
    const fromGraph = await train(backend, 2, { model: b.build(), optimizer: sgd({ lr: 0.05, momentum: 0.9 }), schedule: () => 0.05 });
    const fromFn = await train(backend, 2, { optimizer: sgd({ lr: 0.05, momentum: 0.9 }), schedule: () => 0.05 });
    expect(fromGraph.losses).toEqual(fromFn.losses);
  });

  it('the flat layout (one vector per weight-decay group) and the per-param layout train identically', async () => {
    const backend = createReferenceBackend();
    const decay = { optimizer: adamw({ lr: 3e-3, weightDecay: (n: string) => (n.endsWith('.bias') ? 0 : 0.05) }) };
    const flat = await train(backend, 3, decay);
    const perParam = await train(backend, 3, { ...decay, layout: 'per-param' });
    expect(maxRelError(flat.losses, perParam.losses)).toBeLessThan(1e-12);
    expect(worstParamError(flat.params, perParam.params)).toBeLessThan(1e-6); // read back as float32
    const step = buildStepGraph({ model: smallModel, optimizer: decay.optimizer, clipNorm: 1 });
    expect(step.holders.map((h) => h.name)).toEqual(['trainable.flat.0', 'trainable.flat.1']);
    expect(buildStepGraph({ model: smallModel, optimizer: decay.optimizer, clipNorm: 1, layout: 'per-param' }).graph.nodes.length).toBeGreaterThan(
      step.graph.nodes.length,
    );
  });

  it('splits a flat group above flatHolderLimit into vectors of consecutive params, and trains identically', async () => {
    const backend = createReferenceBackend();
    const decay = { optimizer: adamw({ lr: 3e-3, weightDecay: (n: string) => (n.endsWith('.bias') ? 0 : 0.05) }) };
    const sizes = (step: ReturnType<typeof buildStepGraph>) => step.holders.map((h) => h.members.map((m) => m.size));
    const whole = buildStepGraph({ model: smallModel, ...decay, clipNorm: 1 });
    const limit = Math.max(...sizes(whole).flat()) + 1;
    const split = buildStepGraph({ model: smallModel, ...decay, clipNorm: 1, flatHolderLimit: limit });
    expect(split.holders.length).toBeGreaterThan(whole.holders.length);
    // every vector within the limit, or one param alone; params in the same order as unsplit
    for (const h of sizes(split)) expect(h.length === 1 || h.reduce((a, b) => a + b) <= limit).toBe(true);
    expect(split.holders.flatMap((h) => h.members.map((m) => m.param.name))).toEqual(whole.holders.flatMap((h) => h.members.map((m) => m.param.name)));
    const chunked = await train(backend, 3, { ...decay, flatHolderLimit: limit });
    const perParam = await train(backend, 3, { ...decay, layout: 'per-param' });
    expect(maxRelError(chunked.losses, perParam.losses)).toBeLessThan(1e-12);
    expect(worstParamError(chunked.params, perParam.params)).toBeLessThan(1e-6);
    expect(() => buildStepGraph({ model: smallModel, ...decay, flatHolderLimit: 0 })).toThrow(/flatHolderLimit must be a positive integer, got 0/);
  });

  it('reports bad input by name', async () => {
    const backend = createReferenceBackend();
    const trainer = await createTrainingStep(options(backend));
    expect(trainer.feedNames).toEqual(['image', 'target']);
    await expect(trainer.step({ image: batches[0]!['image']! })).rejects.toThrow(/missing feeds target/);
    const bad = new Map(init);
    bad.set('head.weight', { dtype: 'float32', shape: [4, 8], data: new Float32Array(32) });
    await expect(createTrainingStep(options(backend, { params: bad }))).rejects.toThrow(
      /param "head.weight" is float32 \[4,8\], the model expects float32 \[4,8,1,1\]/,
    );
    const missing = new Map(init);
    missing.delete('attn.in_proj_weight');
    await expect(createTrainingStep(options(backend, { params: missing }))).rejects.toThrow(/no initial value for param "attn.in_proj_weight"/);
  });
});
