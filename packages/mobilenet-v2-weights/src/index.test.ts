import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  MOBILENET_V2_BUNDLE_FILES,
  MOBILENET_V2_WEIGHTS_LICENSE,
  MOBILENET_V2_WEIGHTS_SOURCE,
  NOTICE_FILE,
  PACKAGE_ROOT,
  locateMobileNetV2Weights,
  nsfwjsBundleDir,
  verifyMobileNetV2Weights,
} from './index.js';

const names = MOBILENET_V2_BUNDLE_FILES.map((f) => f.name);
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'unias-mnv2-weights-'));
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('locating the bundle files', () => {
  it("finds them in nsfwjs's folder when the package has no copy of its own", () => {
    const root = join(tmp, 'no-copy');
    const loc = locateMobileNetV2Weights({ packageRoot: root });
    expect(loc.from).toBe('nsfwjs');
    expect(loc.dir).toBe(nsfwjsBundleDir());
    expect(loc.files).toEqual(names.map((n) => join(nsfwjsBundleDir(), n)));
    expect(verifyMobileNetV2Weights(loc)).toEqual([]);
  });

  it('prefers its own copy (mobilenet_v2/ in the package folder) when both files are there', async () => {
    const root = join(tmp, 'own-copy');
    await mkdir(join(root, 'mobilenet_v2'), { recursive: true });
    for (const n of names) await copyFile(join(nsfwjsBundleDir(), n), join(root, 'mobilenet_v2', n));
    const loc = locateMobileNetV2Weights({
      packageRoot: root,
      nsfwjsDir: () => {
        throw new Error('nsfwjs must not be looked up');
      },
    });
    expect(loc).toEqual({ dir: join(root, 'mobilenet_v2'), from: 'package', files: names.map((n) => join(root, 'mobilenet_v2', n)) });
    expect(verifyMobileNetV2Weights(loc)).toEqual([]);
  });

  it('a copy with one file missing is not used', async () => {
    const root = join(tmp, 'half-copy');
    await mkdir(join(root, 'mobilenet_v2'), { recursive: true });
    await copyFile(join(nsfwjsBundleDir(), names[0]!), join(root, 'mobilenet_v2', names[0]!));
    expect(locateMobileNetV2Weights({ packageRoot: root }).from).toBe('nsfwjs');
  });

  it('neither a copy nor nsfwjs: one line naming the folder and what to do', () => {
    const root = join(tmp, 'nothing');
    const missing = () => {
      throw new Error("Cannot find module 'nsfwjs'\nRequire stack: ...");
    };
    expect(() => locateMobileNetV2Weights({ packageRoot: root, nsfwjsDir: missing })).toThrow(
      new RegExp(
        `^@unias/mobilenet-v2-weights: the bundle files are missing from ${join(root, 'mobilenet_v2').replace(/[/\\.]/g, '\\$&')} .*reinstall.*Cannot find module 'nsfwjs'\\)$`,
      ),
    );
  });

  it("the files found without options are the stated ones (this package's copy after a build, else nsfwjs's)", () => {
    const loc = locateMobileNetV2Weights();
    expect(loc.dir).toBe(loc.from === 'package' ? join(PACKAGE_ROOT, 'mobilenet_v2') : nsfwjsBundleDir());
    expect(verifyMobileNetV2Weights(loc)).toEqual([]);
  });

  it('a changed file is reported by size and SHA-256', async () => {
    const root = join(tmp, 'changed');
    await mkdir(join(root, 'mobilenet_v2'), { recursive: true });
    for (const n of names) await copyFile(join(nsfwjsBundleDir(), n), join(root, 'mobilenet_v2', n));
    const shard = join(root, 'mobilenet_v2', names[1]!);
    const bytes = await readFile(shard);
    bytes[1000] = bytes[1000]! ^ 1;
    await writeFile(shard, bytes);
    await writeFile(join(root, 'mobilenet_v2', names[0]!), 'module.exports = {}');
    const problems = verifyMobileNetV2Weights(locateMobileNetV2Weights({ packageRoot: root }));
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/model\.min\.js: 19 bytes, expected 106679$/);
    expect(problems[2]).toMatch(/group1-shard1of1\.min\.js: SHA-256 [0-9a-f]{64}, expected ef2e0a63/);
  });
});

describe('provenance and licence', () => {
  it('the NOTICE ships (package.json files) and names both sources, their licences and the copyright line', async () => {
    const manifest = JSON.parse(await readFile(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { files: string[]; exports: Record<string, unknown> };
    expect(manifest.files).toEqual(expect.arrayContaining(['dist', 'mobilenet_v2', 'NOTICE', 'LICENSE', 'README.md']));
    expect(manifest.exports['./NOTICE']).toBe('./NOTICE');
    const notice = await readFile(NOTICE_FILE, 'utf8');
    expect(notice).toContain('Copyright (c) 2019 Infinite Red, Inc.');
    expect(notice).toContain('Permission is hereby granted, free of charge');
    expect(notice).toMatch(/Keras Applications MobileNetV2 ImageNet weights \(Apache License 2\.0\)/);
    expect(notice).toMatch(/Conv1 \.\. block_10/);
    for (const f of MOBILENET_V2_BUNDLE_FILES) expect(notice).toMatch(new RegExp(`${f.name.replace(/\./g, '\\.')}\\s+${f.bytes} bytes\\s+SHA-256 ${f.sha256}`));
  });

  it('the copy folder is gitignored (built, never committed)', async () => {
    expect(await readFile(join(PACKAGE_ROOT, '.gitignore'), 'utf8')).toMatch(/^\/mobilenet_v2\/$/m);
  });

  it('the one-line strings name the sources and licences', () => {
    expect(MOBILENET_V2_WEIGHTS_SOURCE).toMatch(
      /^nsfwjs \(npm, MIT\).*Conv1\.\.block_10.*Keras Applications MobileNetV2 ImageNet weights \(Apache-2\.0\), uint8-quantised$/,
    );
    expect(MOBILENET_V2_WEIGHTS_LICENSE).toMatch(/Apache-2\.0.*MIT, Copyright \(c\) 2019 Infinite Red, Inc\./);
    expect(MOBILENET_V2_WEIGHTS_SOURCE).not.toMatch(/\n/);
  });
});
