/**
 * The weights cache: `$UNIAS_CACHE_DIR`, else `$XDG_CACHE_HOME/unias`, else `~/.cache/unias`, with
 * `weights/<upstream file name>` (the verified download) and `weights/<id>.safetensors` (converted
 * once). Only complete, verified files ever carry these names; a download in progress is
 * `<file>.part` (kept after an interruption so the next fetch resumes).
 */
import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { EngineInputError } from './errors.js';
import { userCacheDir } from './cache-dir.js';
import { findKnownWeights, type KnownWeights } from './weights-registry.js';

export function weightsDir(env?: NodeJS.ProcessEnv): string {
  return join(userCacheDir(env), 'weights');
}

export function downloadedFile(w: Pick<KnownWeights, 'fileName'>, env?: NodeJS.ProcessEnv): string {
  return join(weightsDir(env), w.fileName);
}

export function convertedFile(id: string, env?: NodeJS.ProcessEnv): string {
  return join(weightsDir(env), `${id}.safetensors`);
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}

/**
 * The cached, converted weights of a backbone (for `--backbone-weights pretrained`), or a EngineInputError
 * that says how to fetch them.
 */
export async function pretrainedWeightsFile(backboneId: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const known = findKnownWeights(backboneId);
  if (!known)
    throw new EngineInputError(`no known pretrained weights for backbone "${backboneId}"; \`unias weights list\` shows the known ones, or pass a weights file`);
  const path = convertedFile(backboneId, env);
  if (!(await isFile(path)))
    throw new EngineInputError(
      `pretrained weights for "${backboneId}" are not in the cache (${path}); fetch them once with \`unias weights fetch ${backboneId}\``,
    );
  return path;
}

export { isFile };
