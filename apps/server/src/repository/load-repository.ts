/**
 * Loads every served version of every model in a Triton model repository: one onnxruntime worker
 * per version (loadModel), configured by the model's config.pbtxt (configureModel).
 */
import { loadModel, type SessionSettings } from '../loaded-model.js';
import { configureModel, type ConfiguredModel } from './configured-model.js';
import { RepositoryError, scanModelRepository } from './scan-repository.js';

export interface RepositoryLoadProgress {
  readonly name: string;
  readonly version: string;
  readonly path: string;
  readonly ms: number;
  /** Parts of the config this server does not act on (e.g. instance_group count > 1), for a log line. */
  readonly notes: readonly string[];
}

function notesOf(c: ConfiguredModel): string[] {
  const notes: string[] = [];
  for (const g of c.config.instance_group ?? []) {
    if ((g.count ?? 1) > 1) notes.push(`instance_group count ${g.count}: one onnxruntime worker per version here`);
    if (g.kind === 'KIND_GPU') notes.push('instance_group KIND_GPU: runs on the CPU provider here');
  }
  if ((c.config.dynamic_batching?.preferred_batch_size ?? []).length > 0)
    notes.push('dynamic_batching preferred_batch_size: batches form up to max_batch_size');
  return notes;
}

/**
 * Scans and loads `dir`; on any failure the versions loaded so far are released and the error
 * names the file. `settings` may differ per version (the server names the model in its worker
 * supervisor's events). `onLoaded` is called after each version.
 */
export async function loadModelRepository(
  dir: string,
  settings: SessionSettings | ((name: string, version: string) => SessionSettings),
  onLoaded?: (progress: RepositoryLoadProgress) => void,
): Promise<ConfiguredModel[]> {
  const models = await scanModelRepository(dir);
  const loaded: ConfiguredModel[] = [];
  try {
    for (const m of models) {
      for (const v of m.versions) {
        const t0 = performance.now();
        const model = await loadModel({ path: v.path, name: m.name }, typeof settings === 'function' ? settings(m.name, v.version) : settings);
        try {
          const configured = configureModel(model, m.config, v.version, m.configPath ?? m.dir);
          loaded.push(configured);
          onLoaded?.({ name: m.name, version: v.version, path: v.path, ms: Math.round(performance.now() - t0), notes: notesOf(configured) });
        } catch (e) {
          await model.session.release();
          throw e;
        }
      }
    }
  } catch (e) {
    await Promise.all(loaded.map((c) => c.model.session.release()));
    throw e instanceof RepositoryError ? e : new RepositoryError((e as Error).message);
  }
  return loaded;
}
