/**
 * The same block trained the tfjs way, for comparison: tf.variableGrads through runGraphTf (tfjs's
 * own autodiff of the forward graph) and an AdamW update in tf ops.
 */
import * as tf from '@tensorflow/tfjs';
import { activateRuntime, loadRuntime, runGraphTf, type TfjsRuntimeName } from '@unias/backend-tfjs';
import type { Graph, TensorData } from '@unias/graph';

export async function timeTfjsAutodiff(
  runtime: TfjsRuntimeName,
  forward: Graph,
  params: ReadonlyMap<string, TensorData>,
  data: Record<string, TensorData>,
  steps: number,
  log: (m: string) => void,
): Promise<number[]> {
  await activateRuntime(await loadRuntime(runtime));
  const vars = new Map<string, tf.Variable>();
  const moments = new Map<string, [tf.Variable, tf.Variable]>();
  for (const [name, p] of params) {
    if (!forward.params.has(name)) continue;
    vars.set(name, tf.variable(tf.tensor(p.data, [...p.shape]), true, name));
    moments.set(name, [tf.variable(tf.zeros([...p.shape])), tf.variable(tf.zeros([...p.shape]))]);
  }
  const feeds: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(data)) feeds[k] = tf.tensor(v.data, [...v.shape]);
  const [lr, b1, b2, eps, wd] = [1e-3, 0.9, 0.999, 1e-8, 0.01];
  const times: number[] = [];
  for (let t = 1; t <= steps + 1; t++) {
    const start = performance.now();
    const { value, grads } = tf.variableGrads(() => runGraphTf(forward, feeds, vars, { outputs: ['loss'] })['loss']! as tf.Scalar);
    tf.tidy(() => {
      for (const [name, v] of vars) {
        const g = grads[name]!;
        const [m, s] = moments.get(name)!;
        m.assign(m.mul(b1).add(g.mul(1 - b1)));
        s.assign(s.mul(b2).add(g.square().mul(1 - b2)));
        const denom = s
          .sqrt()
          .div(Math.sqrt(1 - b2 ** t))
          .add(eps);
        v.assign(v.mul(1 - lr * wd).sub(m.div(denom).mul(lr / (1 - b1 ** t))));
      }
    });
    await value.data();
    value.dispose();
    for (const g of Object.values(grads)) g.dispose();
    if (t > 1) {
      times.push(performance.now() - start);
      log(`${runtime} tf.variableGrads: step ${t - 1}/${steps} ${times.at(-1)!.toFixed(0)} ms`);
    }
  }
  for (const v of vars.values()) v.dispose();
  for (const [m, s] of moments.values()) {
    m.dispose();
    s.dispose();
  }
  for (const t of Object.values(feeds)) t.dispose();
  return times;
}
