import { describe, expect, it } from 'vitest';
import { loadModel, modelNameOf, readContract, type TensorSpec } from './loaded-model.js';
import { addTestModel, anomalyTestModel, contractMetadata } from './testing/test-models.js';

describe('loadModel', () => {
  it('describes a contract model: specs with -1 for N, batchable, thresholds from metadata', async () => {
    const m = await loadModel({ bytes: anomalyTestModel({ height: 16, width: 24 }), name: 'm' }, { threads: 1 });
    try {
      expect(m.inputs).toEqual([{ name: 'image', datatype: 'FP32', shape: [-1, 3, 16, 24] }]);
      expect(m.outputs.map((t) => t.name)).toEqual(['anomaly_map', 'score']);
      expect(m.batchable).toBe(true);
      expect(m.contract).toEqual({
        inputName: 'image',
        height: 16,
        width: 24,
        mapOutput: 'anomaly_map',
        scoreOutput: 'score',
        thresholds: { image: 0.3, pixel: 0.25, source: 'fixed for tests' },
        precision: 'float32',
      });
    } finally {
      await m.session.release();
    }
  });

  it('fails loudly, naming the key, on a malformed threshold or input size', async () => {
    const bad = (metadata: Record<string, string>) => loadModel({ bytes: anomalyTestModel({ height: 8, width: 8, metadata }), name: 'bad' });
    await expect(bad({ ...contractMetadata(8, 8), 'unias.threshold.image': 'high' })).rejects.toThrow(
      /unias\.threshold\.image = "high" is not a finite number/,
    );
    await expect(bad({ ...contractMetadata(8, 8), 'unias.input_size': '8x8' })).rejects.toThrow(/unias\.input_size = "8x8" is not "H,W"/);
    await expect(bad(contractMetadata(16, 16))).rejects.toThrow(/unias\.input_size = "16,16" disagrees with input 'image'/);
  });

  it('serves a model outside the contract over v2 only, and says why', async () => {
    const m = await loadModel({ bytes: addTestModel(), name: 'add' });
    try {
      expect(m.contract).toBeNull();
      expect(m.contractProblem).toMatch(/needs one input named 'image', has a, b/);
      expect(m.outputs).toEqual([
        { name: 'sum', datatype: 'FP32', shape: [-1, 4] },
        { name: 'argmax', datatype: 'INT64', shape: [-1, 1] },
      ]);
    } finally {
      await m.session.release();
    }
  });

  it("opens the worker process's session on the execution providers it is given (the server's --device)", async () => {
    const m = await loadModel({ bytes: addTestModel(), name: 'add' }, { threads: 1, executionProviders: ['cpu'] });
    await m.session.release();
    // A provider this onnxruntime does not know fails inside the worker, so the list reached it.
    await expect(loadModel({ bytes: addTestModel(), name: 'add' }, { executionProviders: ['no-such-provider'] })).rejects.toThrow(/no-such-provider/);
  });

  it('names models after their file and rejects unusable names', async () => {
    expect(modelNameOf({ path: '/x/y/bottle.v2.onnx' })).toBe('bottle.v2');
    expect(modelNameOf({ path: 'a.onnx', name: 'other' })).toBe('other');
    await expect(loadModel({ bytes: addTestModel(), name: 'has space' })).rejects.toThrow(/model name 'has space'/);
    await expect(loadModel({ path: '/nonexistent/m.onnx' })).rejects.toThrow(/cannot read model file \/nonexistent\/m\.onnx/);
  });
});

describe('readContract', () => {
  const image: TensorSpec = { name: 'image', datatype: 'FP32', shape: [-1, 3, -1, -1] };
  const map: TensorSpec = { name: 'anomaly_map', datatype: 'FP32', shape: [-1, 1, -1, -1] };

  it('takes the size from metadata when the graph leaves H and W dynamic', () => {
    const r = readContract([image], [map], { 'unias.input_size': '64,32' });
    expect(r.contract).toMatchObject({
      height: 64,
      width: 32,
      scoreOutput: null,
      thresholds: { image: null, pixel: null, source: null },
      precision: 'float32',
    });
  });

  it('reports the precision of an int8 export from its metadata', () => {
    expect(readContract([image], [map], { 'unias.input_size': '64,32', 'unias.precision': 'int8' }).contract?.precision).toBe('int8');
  });

  it('reports what is missing', () => {
    expect(readContract([image], [map], {}).problem).toMatch(/input size unknown/);
    expect(readContract([image], [], {}).problem).toMatch(/no output named 'anomaly_map'/);
    expect(readContract([{ ...image, datatype: 'FP64' }], [map], {}).problem).toMatch(/must be FP32 \[N,3,H,W\]/);
    // the image contract: absent keys (older exports) or this contract's values serve /predict; others do not
    const sized = { 'unias.input_size': '64,32' };
    expect(readContract([image], [map], { ...sized, 'unias.preprocess.resize': 'linear', 'unias.preprocess.alpha': 'black' }).problem).toBeNull();
    expect(readContract([image], [map], { ...sized, 'unias.preprocess.resize': 'cubic' }).problem).toMatch(
      /metadata unias\.preprocess\.resize = 'cubic', but images are preprocessed with unias\.preprocess\.resize = 'linear'.*use infer/,
    );
  });
});
