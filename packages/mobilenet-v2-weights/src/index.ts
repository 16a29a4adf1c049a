/**
 * The ImageNet MobileNetV2 weights @unias/backbones loads by default, as files: the two tfjs
 * bundles nsfwjs 4.4.0 ships in `dist/models/mobilenet_v2` (`model.min.js` exports the tfjs layers
 * model.json object, `group1-shard1of1.min.js` the uint8-quantised weight shard as a base64 string).
 * Their layers Conv1..block_10 hold the Keras Applications MobileNetV2 ImageNet weights; see NOTICE.
 *
 * The published package carries its own copy of the files (`mobilenet_v2/`, copied from nsfwjs by
 * `pnpm build`), so it installs without nsfwjs or tfjs. In the workspace, where tests run from the
 * sources without a build, the files are read from nsfwjs (a devDependency) when that copy is absent.
 * Nothing here reads or evaluates the files: @unias/backbones converts them.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BundleFile {
  readonly name: string;
  /** Size in bytes. */
  readonly bytes: number;
  /** SHA-256 (hex) of the file as nsfwjs 4.4.0 ships it. */
  readonly sha256: string;
  readonly holds: string;
}

/** The bundle's files, as nsfwjs 4.4.0 ships them (the copy is byte for byte the same). */
export const MOBILENET_V2_BUNDLE_FILES: readonly [BundleFile, BundleFile] = [
  {
    name: 'model.min.js',
    bytes: 106_679,
    sha256: 'c32f104fd562b08cdff5ed69dfe1209643afa47e792fb12751d2949aa61a397a',
    holds: 'the tfjs layers model.json (Keras 2.2.4 topology and weights manifest), a UMD bundle exporting the object',
  },
  {
    name: 'group1-shard1of1.min.js',
    bytes: 3_493_394,
    sha256: 'ef2e0a63f7d2c4960b37b024b669313f65d3c45cd59e9042636c55b39de53517',
    holds: 'the uint8-quantised weight shard, a UMD bundle exporting it as a base64 string',
  },
];

/** The nsfwjs version the files come from. */
export const NSFWJS_VERSION = '4.4.0';

/** Where the weights come from and under which licences (one line, e.g. for a model's metadata). */
export const MOBILENET_V2_WEIGHTS_SOURCE =
  'nsfwjs (npm, MIT), dist/models/mobilenet_v2: layers Conv1..block_10, frozen during its NSFW fine-tuning, ' +
  'hold the Keras Applications MobileNetV2 ImageNet weights (Apache-2.0), uint8-quantised';

/** The licence notice the files travel with (the NOTICE file says the same, at length). */
export const MOBILENET_V2_WEIGHTS_LICENSE =
  'MobileNetV2 ImageNet weights of Keras Applications, Apache-2.0; ' + `packaged by nsfwjs ${NSFWJS_VERSION}, MIT, Copyright (c) 2019 Infinite Red, Inc.`;

/** This package's folder (src/ and dist/ both sit one level below it). */
export const PACKAGE_ROOT: string = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The NOTICE file: provenance, and the licence texts the weights are under. */
export const NOTICE_FILE: string = join(PACKAGE_ROOT, 'NOTICE');

export interface MobileNetV2WeightsLocation {
  /** The folder holding the bundle files. */
  readonly dir: string;
  /** `package`: this package's own copy; `nsfwjs`: the folder of the nsfwjs package (workspace only). */
  readonly from: 'package' | 'nsfwjs';
  /** Full paths of the files, in the order of MOBILENET_V2_BUNDLE_FILES. */
  readonly files: readonly [string, string];
}

export interface LocateOptions {
  /** The package folder to look for `mobilenet_v2/` in (default: this package's). */
  readonly packageRoot?: string;
  /** Where nsfwjs's `dist/models/mobilenet_v2` is (default: resolved from this package); throws when absent. */
  readonly nsfwjsDir?: () => string;
}

/** nsfwjs's `dist/models/mobilenet_v2`, found through node's module resolution from this package. */
export function nsfwjsBundleDir(): string {
  // nsfwjs exports no ./package.json; its main is <pkg>/dist/cjs/index.js.
  const main = createRequire(import.meta.url).resolve('nsfwjs');
  return join(dirname(main), '..', 'models', 'mobilenet_v2');
}

function filesIn(dir: string): [string, string] {
  return [join(dir, MOBILENET_V2_BUNDLE_FILES[0].name), join(dir, MOBILENET_V2_BUNDLE_FILES[1].name)];
}

/**
 * Where the bundle files are: this package's own copy (`mobilenet_v2/`) when it holds both files,
 * else nsfwjs's folder (the workspace, before a build). Throws one line when neither has them.
 */
export function locateMobileNetV2Weights(options: LocateOptions = {}): MobileNetV2WeightsLocation {
  const own = join(options.packageRoot ?? PACKAGE_ROOT, 'mobilenet_v2');
  const ownFiles = filesIn(own);
  if (ownFiles.every((f) => existsSync(f))) return { dir: own, from: 'package', files: ownFiles };
  let dir: string;
  try {
    dir = (options.nsfwjsDir ?? nsfwjsBundleDir)();
  } catch (e) {
    throw new Error(
      `@unias/mobilenet-v2-weights: the bundle files are missing from ${own} (reinstall the package; in the workspace run ` +
        `pnpm --filter @unias/mobilenet-v2-weights build) and nsfwjs is not installed to read them from (${firstLine(e)})`,
    );
  }
  const files = filesIn(dir);
  const missing = files.filter((f) => !existsSync(f));
  if (missing.length > 0) throw new Error(`@unias/mobilenet-v2-weights: the bundle files are missing from ${own} and from nsfwjs (${missing.join(', ')})`);
  return { dir, from: 'nsfwjs', files };
}

/** The folder holding the bundle files (see locateMobileNetV2Weights). */
export function mobileNetV2WeightsDir(options: LocateOptions = {}): string {
  return locateMobileNetV2Weights(options).dir;
}

/**
 * Checks the files at `location` against the sizes and SHA-256 above; returns the problems
 * (empty when the files are the expected ones). Reads 3.6 MB.
 */
export function verifyMobileNetV2Weights(location: MobileNetV2WeightsLocation = locateMobileNetV2Weights()): string[] {
  const problems: string[] = [];
  MOBILENET_V2_BUNDLE_FILES.forEach((spec, i) => {
    const path = location.files[i]!;
    const bytes = readFileSync(path);
    if (bytes.byteLength !== spec.bytes) problems.push(`${path}: ${bytes.byteLength} bytes, expected ${spec.bytes}`);
    const sha = createHash('sha256').update(bytes).digest('hex');
    if (sha !== spec.sha256) problems.push(`${path}: SHA-256 ${sha}, expected ${spec.sha256}`);
  });
  return problems;
}

function firstLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0]!;
}
