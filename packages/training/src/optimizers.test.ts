import { createRng, type GraphBuilder, type Sym, type TensorData } from '@unias/graph';
import { createOnnxBackend } from '@unias/backend-onnx';
import { describe, expect, it } from 'vitest';
import { adamw, sgd, type OptimizerSpec } from './optimizers.js';
import { stepLr, type Schedule } from './schedules.js';
import { createTrainingStep } from './training-step.js';
import { createReferenceBackend } from './testing/reference-backend.js';
import { AdamW64, clipGradNorm64, Sgd64 } from './testing/torch-optim.js';

/**
 * L = sum_p 0.5 sum(c_p (p - t_p)^2), so dL/dp = c_p (p - t_p) is known in closed form. c and t are
 * float32-representable so the graph constants equal the JS values; what remains on the float64
 * path is the float32 rounding of the per-step scalars and of the params read back (~1e-7).
 */
const SHAPES: Record<string, number[]> = { 'layer.weight': [3, 4], 'layer.bias': [4], 'norm.weight': [2, 1, 3] };
const rng = createRng(11);
const fixed = Object.fromEntries(
  Object.entries(SHAPES).map(([name, shape]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return [
      name,
      {
        c: Float64Array.from({ length: n }, () => Math.fround(0.5 + 2 * rng.uniform())),
        t: Float64Array.from({ length: n }, () => Math.fround(rng.uniform() * 2 - 1)),
        p0: Float32Array.from({ length: n }, () => rng.uniform() * 2 - 1),
      },
    ];
  }),
);

function quadraticModel(b: GraphBuilder): Sym {
  let loss: Sym | null = null;
  for (const [name, shape] of Object.entries(SHAPES)) {
    const p = b.param(name, shape, { kind: 'zeros' });
    const { c, t } = fixed[name]!;
    const term = b.sumAll(b.mul(b.mul(b.constant(c, shape), b.square(b.sub(p, b.constant(t, shape)))), 0.5));
    loss = loss ? b.add(loss, term) : term;
  }
  return loss!;
}

const initial = new Map<string, TensorData>(Object.entries(SHAPES).map(([name, shape]) => [name, { dtype: 'float32', shape, data: fixed[name]!.p0 }]));

interface Torch {
  step(g: ArrayLike<number>, lr: number): void;
  readonly p: Float64Array;
}

/** Runs `steps` graph steps and the float64 PyTorch formulas side by side; returns the worst relative error. */
async function compare(
  spec: OptimizerSpec,
  make: (p: Float64Array, name: string) => Torch,
  opts: { steps: number; schedule?: Schedule; clipNorm?: number; onnx?: boolean; layout?: 'flat' | 'per-param' },
): Promise<number> {
  const backend = opts.onnx ? await createOnnxBackend({ intraOpNumThreads: 1 }) : createReferenceBackend();
  const trainer = await createTrainingStep({
    model: quadraticModel,
    params: initial,
    optimizer: spec,
    backend,
    ...(opts.layout ? { layout: opts.layout } : {}),
    ...(opts.schedule ? { schedule: opts.schedule } : {}),
    ...(opts.clipNorm ? { clipNorm: opts.clipNorm } : {}),
  });
  const names = Object.keys(SHAPES);
  const torch = names.map((n) => make(Float64Array.from(fixed[n]!.p0), n));
  let worst = 0;
  for (let s = 0; s < opts.steps; s++) {
    const grads = names.map((n, i) => Float64Array.from(torch[i]!.p, (v, k) => fixed[n]!.c[k]! * (v - fixed[n]!.t[k]!)));
    const norm = opts.clipNorm ? clipGradNorm64(grads, opts.clipNorm) : undefined;
    const lr = opts.schedule ? opts.schedule(s) : spec.lr;
    torch.forEach((t, i) => t.step(grads[i]!, lr));
    const r = await trainer.step({});
    expect(r.lr).toBe(lr);
    if (norm !== undefined) worst = Math.max(worst, Math.abs(r.gradNorm! - norm) / norm);
    const state = await trainer.getState();
    names.forEach((n, i) => {
      const got = state.params.get(n)!.data;
      const want = torch[i]!.p;
      const scale = Math.max(...Array.from(want, Math.abs));
      for (let k = 0; k < want.length; k++) worst = Math.max(worst, Math.abs(got[k]! - want[k]!) / scale);
    });
  }
  await trainer.dispose();
  return worst;
}

const decayNoBias = (name: string) => (name.endsWith('.bias') || name.startsWith('norm.') ? 0 : 0.05);

describe('optimizers against float64 PyTorch formulas (graph evaluated in float64)', () => {
  it('AdamW with decoupled weight decay (per param) and bias correction, 6 steps under StepLR', async () => {
    const spec = adamw({ lr: 0.05, betas: [0.8, 0.95], eps: 1e-8, weightDecay: decayNoBias });
    const err = await compare(spec, (p, n) => new AdamW64(p, { lr: 0.05, betas: [0.8, 0.95], eps: 1e-8, weightDecay: decayNoBias(n) }), {
      steps: 6,
      schedule: stepLr({ lr: 0.05, stepSize: 2, gamma: 0.5 }),
    });
    expect(err).toBeLessThan(1e-6);
  });

  it('AdamW with per-param weight decay, params and moments carried per param (layout per-param)', async () => {
    const spec = adamw({ lr: 0.05, betas: [0.8, 0.95], eps: 1e-8, weightDecay: decayNoBias });
    const err = await compare(spec, (p, n) => new AdamW64(p, { lr: 0.05, betas: [0.8, 0.95], eps: 1e-8, weightDecay: decayNoBias(n) }), {
      steps: 6,
      layout: 'per-param',
    });
    expect(err).toBeLessThan(1e-6);
  });

  it('AdamW with clip_grad_norm_ (clipping active)', async () => {
    const spec = adamw({ lr: 0.1 });
    const err = await compare(spec, (p) => new AdamW64(p, { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 }), { steps: 5, clipNorm: 0.5 });
    expect(err).toBeLessThan(1e-6);
  });

  for (const [name, o] of [
    ['plain', { momentum: 0, nesterov: false, weightDecay: 0 }],
    ['momentum + weight decay', { momentum: 0.9, nesterov: false, weightDecay: 0.01 }],
    ['nesterov', { momentum: 0.8, nesterov: true, weightDecay: 0.001 }],
  ] as const) {
    it(`SGD ${name}, 6 steps`, async () => {
      const spec = sgd({ lr: 0.1, ...o });
      const err = await compare(spec, (p) => new Sgd64(p, { lr: 0.1, ...o }), { steps: 6 });
      expect(err).toBeLessThan(1e-6);
    });
  }
});

describe('optimizers on ONNX Runtime (float32) against the same formulas', () => {
  it('AdamW + clipping + schedule, 6 steps', async () => {
    const spec = adamw({ lr: 0.05, weightDecay: decayNoBias });
    const err = await compare(spec, (p, n) => new AdamW64(p, { lr: 0.05, betas: [0.9, 0.999], eps: 1e-8, weightDecay: decayNoBias(n) }), {
      steps: 6,
      schedule: stepLr({ lr: 0.05, stepSize: 3 }),
      clipNorm: 1,
      onnx: true,
    });
    // float32 arithmetic: ~1e-7 per op, a few ops per step
    expect(err).toBeLessThan(1e-5);
  });

  it('SGD nesterov, 6 steps (layout per-param)', async () => {
    const o = { momentum: 0.9, nesterov: true, weightDecay: 0.01 };
    const err = await compare(sgd({ lr: 0.05, ...o }), (p) => new Sgd64(p, { lr: 0.05, ...o }), { steps: 6, onnx: true, layout: 'per-param' });
    expect(err).toBeLessThan(1e-5);
  });
});
