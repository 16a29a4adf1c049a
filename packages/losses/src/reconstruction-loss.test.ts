import { createGraph, createRng, entryToTensor, readSafetensorsFile, type TensorData } from '@unias/graph';
import { evaluateReference } from '@unias/graph/testing';
import { createOnnxBackend } from '@unias/backend-onnx';
import { FIXTURES } from '@unias/test-fixtures';
import { beforeAll, describe, expect, it } from 'vitest';
import { reconstructionLoss, type CosineSign, type MseForm } from './index.js';

const TARGETS = ['res4', 'res3', 'res2', 'res1'];

/** The loss computed directly in float64 from its definition. */
function directLoss(recons: TensorData[], targets: TensorData[], sign: CosineSign, weight: number, form: MseForm = 'raw'): number {
  let sum = 0;
  recons.forEach((r, l) => {
    const t = targets[l]!;
    const [n, c, h, w] = r.shape as [number, number, number, number];
    let se = 0;
    let tsq = 0;
    for (let i = 0; i < r.data.length; i++) {
      se += (r.data[i]! - t.data[i]!) ** 2;
      tsq += t.data[i]! ** 2;
    }
    let cos = 0;
    for (let b = 0; b < n; b++)
      for (let p = 0; p < h * w; p++) {
        let dot = 0,
          rr = 0,
          tt = 0;
        for (let k = 0; k < c; k++) {
          const x = r.data[(b * c + k) * h * w + p]!;
          const y = t.data[(b * c + k) * h * w + p]!;
          dot += x * y;
          rr += x * x;
          tt += y * y;
        }
        cos += dot / Math.max(Math.sqrt(rr) * Math.sqrt(tt), 1e-8);
      }
    const meanCos = cos / (n * h * w);
    const mse = form === 'none' ? 0 : form === 'relative' ? se / tsq : se / r.data.length;
    sum += mse + (sign === 'released' ? meanCos : 1 - meanCos);
  });
  return weight * sum;
}

describe('reconstruction loss on the official outputs', () => {
  const recons: TensorData[] = [];
  const targets: TensorData[] = [];
  let fixtureLoss = 0;
  beforeAll(async () => {
    const io = await readSafetensorsFile(FIXTURES.io);
    for (let i = 0; i < 4; i++) {
      recons.push(entryToTensor(io.tensors.get(`output.recon.${i}`)!));
      targets.push(entryToTensor(io.tensors.get(`backbone.target.${TARGETS[i]}`)!));
    }
    fixtureLoss = entryToTensor(io.tensors.get('output.loss')!).data[0]!;
  });

  const build = (sign: CosineSign, weight = 10, mse: MseForm = 'raw') => {
    const b = createGraph();
    const r = recons.map((t, i) => b.input(`recon.${i}`, t.shape));
    const t = targets.map((x, i) => b.input(`target.${i}`, x.shape));
    const out = reconstructionLoss(b, r, t, { cosine: sign, weight, mse });
    b.output('loss', out.loss);
    out.levels.forEach((l, i) => {
      if (l.mse) b.output(`mse.${i}`, l.mse);
      b.output(`cos.${i}`, l.meanCos);
    });
    const feeds: Record<string, TensorData> = {};
    recons.forEach((x, i) => (feeds[`recon.${i}`] = x));
    targets.forEach((x, i) => (feeds[`target.${i}`] = x));
    return { graph: b.build(), feeds };
  };

  it("'released' sign reproduces the fixture's loss (4.9095) within 1e-5 relative, reference and ORT", async () => {
    const { graph, feeds } = build('released');
    const ref = evaluateReference(graph, feeds).loss!.data[0]!;
    expect(Math.abs(ref - fixtureLoss) / fixtureLoss).toBeLessThan(1e-5);
    expect(fixtureLoss).toBeCloseTo(4.9095, 3);
    const session = await (await createOnnxBackend()).prepare(graph);
    try {
      const ort = (await session.run(feeds)).loss!.data[0]!;
      console.log(`loss: fixture ${fixtureLoss}, reference ${ref}, ORT ${ort}`);
      expect(Math.abs(ort - fixtureLoss) / fixtureLoss).toBeLessThan(1e-5);
    } finally {
      await session.dispose();
    }
  });

  it("'distance' sign (default) equals the direct float64 computation (and differs from the released one)", () => {
    const { graph, feeds } = build('distance', 1);
    const out = evaluateReference(graph, feeds);
    const direct = directLoss(recons, targets, 'distance', 1);
    expect(Math.abs(out.loss!.data[0]! - direct) / direct).toBeLessThan(1e-12);
    expect(direct).toBeGreaterThan(4); // 43.34 / 10: far from the released 0.49
    // per-level terms add up to the loss
    let sum = 0;
    for (let i = 0; i < 4; i++) sum += out[`mse.${i}`]!.data[0]! + 1 - out[`cos.${i}`]!.data[0]!;
    expect(sum).toBeCloseTo(out.loss!.data[0]!, 10);
  });

  it("'relative' and 'none' MSE forms equal the direct float64 computation, on the reference and on ORT", async () => {
    for (const form of ['relative', 'none'] as const) {
      const { graph, feeds } = build('distance', 10, form);
      const direct = directLoss(recons, targets, 'distance', 10, form);
      expect(direct).not.toBeCloseTo(directLoss(recons, targets, 'distance', 10, 'raw'), 2);
      const ref = evaluateReference(graph, feeds);
      expect(Math.abs(ref.loss!.data[0]! - direct) / direct).toBeLessThan(1e-10);
      expect('mse.0' in ref).toBe(form !== 'none');
      const session = await (await createOnnxBackend()).prepare(graph);
      try {
        const ort = (await session.run(feeds)).loss!.data[0]!;
        expect(Math.abs(ort - direct) / direct).toBeLessThan(1e-5);
      } finally {
        await session.dispose();
      }
    }
  });
});

describe('reconstruction loss, closed forms and errors', () => {
  it("'relative' MSE is 1 per level for a zero reconstruction and for twice the target, whatever the target's scale", () => {
    const x: TensorData<'float32'> = { dtype: 'float32', shape: [2, 3, 4, 4], data: createRng(2).fillUniform(new Float32Array(96), -1, 1) };
    for (const scale of [1e-2, 1, 300]) {
      const t: TensorData<'float32'> = { ...x, data: x.data.map((v) => v * scale) };
      const b = createGraph();
      const target = b.input('t', t.shape);
      const out = reconstructionLoss(b, [b.mul(target, 0), b.mul(target, 2)], [target, target], { mse: 'relative', weight: 1 });
      out.levels.forEach((l, i) => b.output(`mse.${i}`, l.mse!));
      const r = evaluateReference(b.build(), { t });
      // 1e-6: the 1e-12 guard against an all-zero target, at the smallest scale
      expect(r['mse.0']!.data[0]).toBeCloseTo(1, 6);
      expect(r['mse.1']!.data[0]).toBeCloseTo(1, 6);
    }
  });

  it('a perfect reconstruction costs 0 (distance) or weight * levels (released); batch is averaged', () => {
    const x: TensorData<'float32'> = { dtype: 'float32', shape: [3, 4, 2, 5], data: createRng(1).fillUniform(new Float32Array(120), 0.1, 1) };
    for (const [sign, expected] of [
      ['distance', 0],
      ['released', 2 * 10],
    ] as const) {
      const b = createGraph();
      const r = b.input('r', x.shape);
      b.output('loss', reconstructionLoss(b, [r, r], [r, r], { cosine: sign }).loss);
      expect(evaluateReference(b.build(), { r: x }).loss!.data[0]).toBeCloseTo(expected, 12);
    }
  });

  it('refuses mismatched shapes, level counts, signs and weights', () => {
    const b = createGraph();
    const a = b.input('a', [1, 2, 3, 3]);
    const c = b.input('c', [1, 2, 3, 4]);
    expect(() => reconstructionLoss(b, [a], [c])).toThrow(/reconstruction \[1,2,3,3\] and target \[1,2,3,4\]/);
    expect(() => reconstructionLoss(b, [a, a], [a])).toThrow(/2 reconstructions for 1 targets/);
    expect(() => reconstructionLoss(b, [a], [a], { cosine: 'plus' as CosineSign })).toThrow(/unknown cosine sign "plus"/);
    expect(() => reconstructionLoss(b, [a], [a], { weight: 0 })).toThrow(/weight must be a positive number/);
    expect(() => reconstructionLoss(b, [a], [a], { mse: 'l1' as MseForm })).toThrow(/unknown MSE form "l1"/);
  });
});
