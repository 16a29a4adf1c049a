/**
 * The metadata_props of an exported ONNX file, read from the file. The keys, how values are written
 * and how they are parsed are the contract's (./contract.ts, `@unias/exporters/contract`).
 */
import { readFile } from 'node:fs/promises';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxNamespace } from 'onnx-proto';
import { parseExportMetadata, type ExportedMetadata } from './contract.js';
import { ExportError } from './errors.js';

export { CUSTOM_PRESET, EXPORT_FORMAT_VERSION, METADATA_KEYS, exportMetadata, parseExportMetadata, type ExportedMetadata } from './contract.js';

/** metadata_props of an ONNX model (bytes or a path), as a record. */
export async function readOnnxMetadataProps(model: Uint8Array | string): Promise<Record<string, string>> {
  let bytes: Uint8Array;
  if (typeof model === 'string') {
    try {
      bytes = await readFile(model);
    } catch (e) {
      throw new ExportError(`cannot read ONNX model ${model}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else {
    bytes = model;
  }
  let decoded: OnnxNamespace.ModelProto;
  try {
    decoded = onnxProto.onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ExportError(`${typeof model === 'string' ? model : 'model'}: not an ONNX model (${(e as Error).message})`);
  }
  const out: Record<string, string> = {};
  for (const p of decoded.metadataProps) out[p.key ?? ''] = p.value ?? '';
  return out;
}

/** The typed metadata of an exported ONNX file. */
export async function readExportMetadata(model: Uint8Array | string): Promise<ExportedMetadata> {
  return parseExportMetadata(await readOnnxMetadataProps(model), typeof model === 'string' ? model : 'model');
}
