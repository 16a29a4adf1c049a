/**
 * Every publishable workspace package carries what a registry user needs to install it alone:
 * a licence (the repository's LICENSE, shipped in the tarball), the repository folder it comes from,
 * the Node versions it supports, and an explicit exports map with types.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../../..');
const rootLicense = readFileSync(join(root, 'LICENSE'), 'utf8');

interface Manifest {
  name: string;
  private?: boolean;
  license?: string;
  repository?: { type?: string; url?: string; directory?: string };
  engines?: { node?: string };
  files?: string[];
  exports?: Record<string, unknown>;
}

const folders = ['packages', 'apps'].flatMap((top) =>
  readdirSync(join(root, top))
    .map((d) => `${top}/${d}`)
    .filter((d) => existsSync(join(root, d, 'package.json'))),
);
const publishable = folders
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest }))
  .filter((p) => !p.manifest.private);

describe('publishable package manifests', () => {
  it('finds the packages (the workspace layout did not move under this test)', () => {
    expect(publishable.map((p) => p.manifest.name)).toContain('@unias/model');
    expect(publishable.length).toBeGreaterThanOrEqual(15);
  });

  it.each(publishable.map((p) => [p.manifest.name, p] as const))('%s: licence, repository folder, engines, exports', (_name, { dir, manifest }) => {
    expect(manifest.name.startsWith('@unias/')).toBe(true);
    expect(manifest.license).toBe('Apache-2.0');
    expect(manifest.repository?.type).toBe('git');
    expect(manifest.repository?.directory).toBe(dir);
    expect(manifest.engines?.node).toBe('>=20');
    // the tarball carries the licence text: the package folder's copy is the repository's
    expect(manifest.files).toContain('LICENSE');
    expect(readFileSync(join(root, dir, 'LICENSE'), 'utf8')).toBe(rootLicense);
    const main = manifest.exports?.['.'] as Record<string, string> | undefined;
    expect(main?.['types'], `${dir}: exports["."].types`).toMatch(/^\.\/dist\/.*\.d\.ts$/);
    expect(main?.['import'], `${dir}: exports["."].import`).toMatch(/^\.\/dist\/.*\.js$/);
  });
});
