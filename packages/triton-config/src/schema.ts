/**
 * Triton's model configuration schema (`proto/model_config.proto`, see PROVENANCE.md), loaded with
 * protobufjs. Field names keep their proto spelling (snake_case), as in config.pbtxt and Triton's JSON.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/** The schema file this package ships (beside `src/` and `dist/`). */
export const MODEL_CONFIG_PROTO = fileURLToPath(new URL('../proto/model_config.proto', import.meta.url));

const cache = new Map<string, protobuf.Type>();

/** `inference.ModelConfig` from a model_config.proto file (default: the one shipped here). */
export function loadModelConfigSchema(protoPath: string = MODEL_CONFIG_PROTO): protobuf.Type {
  const hit = cache.get(protoPath);
  if (hit) return hit;
  const parsed = protobuf.parse(readFileSync(protoPath, 'utf8'), { keepCase: true });
  parsed.root.resolveAll();
  const type = parsed.root.lookupType('inference.ModelConfig');
  cache.set(protoPath, type);
  return type;
}
