/**
 * The models a server holds, by name and version (Open Inference Protocol paths
 * `/v2/models/{name}[/versions/{v}]/...`). A request without a version gets the highest one.
 */
import { HttpError } from '../errors.js';

interface Named {
  readonly model: { readonly name: string; readonly version: string };
}

/** Numeric order for integer versions (Triton's), text order otherwise. */
function compareVersions(a: string, b: string): number {
  const na = /^\d+$/.test(a);
  const nb = /^\d+$/.test(b);
  if (na && nb) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
  return a < b ? -1 : a > b ? 1 : 0;
}

export class ModelTable<E extends Named> {
  private readonly byName = new Map<string, E[]>();

  add(entry: E): void {
    const { name, version } = entry.model;
    const versions = this.byName.get(name) ?? [];
    if (versions.some((e) => e.model.version === version)) throw new Error(`two models are named '${name}' (version ${version}); give one a different name`);
    versions.push(entry);
    versions.sort((a, b) => compareVersions(a.model.version, b.model.version));
    this.byName.set(name, versions);
  }

  /** The entry for `name` at `version` (null: the highest); 404 naming what exists otherwise. */
  get(name: string, version: string | null): E {
    const versions = this.byName.get(name);
    if (versions === undefined) {
      const known = this.names()
        .map((n) => `'${n}'`)
        .join(', ');
      throw new HttpError(404, `unknown model '${name}'; this server has ${known || 'no models loaded yet'}`);
    }
    if (version === null) return versions[versions.length - 1]!;
    const entry = versions.find((e) => e.model.version === version);
    if (entry === undefined) {
      throw new HttpError(404, `model '${name}' has no version '${version}'; available: ${versions.map((e) => `'${e.model.version}'`).join(', ')}`);
    }
    return entry;
  }

  /** Every entry, by name, then version. */
  values(): E[] {
    return [...this.byName.values()].flat();
  }

  /** The highest version of each model. */
  latest(): E[] {
    return [...this.byName.values()].map((v) => v[v.length - 1]!);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  versionsOf(name: string): string[] {
    return (this.byName.get(name) ?? []).map((e) => e.model.version);
  }

  clear(): void {
    this.byName.clear();
  }
}
