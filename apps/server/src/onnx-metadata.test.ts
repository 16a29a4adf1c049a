import onnxProto from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { OnnxFormatError, readOnnxMetadataProps } from './onnx-metadata.js';
import { anomalyTestModel, contractMetadata } from './testing/test-models.js';

describe('readOnnxMetadataProps', () => {
  it('reads what onnx-proto wrote, without decoding the graph', () => {
    const bytes = anomalyTestModel({ height: 16, width: 32 });
    expect(readOnnxMetadataProps(bytes)).toEqual(contractMetadata(16, 32));
    // Independent check: the full protobuf decoder agrees.
    const decoded = onnxProto.onnx.ModelProto.decode(bytes);
    const viaProto = Object.fromEntries(decoded.metadataProps.map((p) => [p.key, p.value]));
    expect(readOnnxMetadataProps(bytes)).toEqual(viaProto);
  });

  it('returns an empty record for a model without metadata and handles unicode', () => {
    expect(readOnnxMetadataProps(anomalyTestModel({ height: 8, width: 8, metadata: {} }))).toEqual({});
    const bytes = anomalyTestModel({ height: 8, width: 8, metadata: { 'unias.classes': 'vis\u00e9,\u30ce\u30fc\u30c9' } });
    expect(readOnnxMetadataProps(bytes)['unias.classes']).toBe('vis\u00e9,\u30ce\u30fc\u30c9');
  });

  it('rejects a truncated file with a format error', () => {
    const bytes = anomalyTestModel({ height: 8, width: 8 });
    expect(() => readOnnxMetadataProps(bytes.subarray(0, bytes.length - 7))).toThrow(OnnxFormatError);
  });
});
