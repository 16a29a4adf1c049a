/** The model that asks onnxruntime for its NCHWc block (see blocked-conv.ts). */
import { NCHWC_DOMAIN } from './blocked-conv.js';
import { DataType, type ModelProto, type ValueInfoProto } from './proto.js';
import { OPSET, PRODUCER_NAME } from './to-onnx.js';

/**
 * A model of one ReorderInput from [1, 4, 1, 1]: its output has the channels rounded up to the
 * block, so the block is what a run of it says (4 or less where it has no blocked kernels).
 */
export function nchwcBlockProbeModel(): ModelProto {
  const io = (name: string): ValueInfoProto => ({
    name,
    type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: [1, 4, 1, 1].map((d) => ({ dimValue: d })) } } },
  });
  return {
    irVersion: 8,
    opsetImport: [
      { domain: '', version: OPSET },
      { domain: NCHWC_DOMAIN, version: 1 },
    ],
    producerName: PRODUCER_NAME,
    graph: {
      name: 'nchwc_block_probe',
      node: [{ opType: 'ReorderInput', domain: NCHWC_DOMAIN, input: ['x'], output: ['y'], name: 'probe' }],
      input: [io('x')],
      output: [{ name: 'y', type: { tensorType: { elemType: DataType.FLOAT } } }],
    },
  };
}
