/** What every loader does after finding its samples: check the files, drop or refuse bad ones, describe the set. */
import { availableParallelism } from 'node:os';
import { readImageHeader, verifyDecodes, type ImageHeader } from '@unias/image';
import { ImageDecodeError } from './errors.js';
import type { IssueCollector } from './issues.js';
import { mapLimit } from './limit.js';
import type { CheckLevel, Dataset, DatasetCapabilities, DatasetFormat, Sample } from './types.js';

async function inspect(path: string, check: CheckLevel): Promise<ImageHeader> {
  return check === 'full' ? verifyDecodes(path) : readImageHeader(path);
}

/** Opens every image and mask (header or full decode) and returns the samples that passed. */
export async function checkSampleFiles(samples: readonly Sample[], check: CheckLevel, issues: IssueCollector): Promise<Sample[]> {
  if (check === 'structure') return [...samples];
  const limit = Math.max(2, availableParallelism() * 2);
  const ok = await mapLimit(samples, limit, async (s) => {
    let image: ImageHeader;
    try {
      image = await inspect(s.path, check);
    } catch (e) {
      issues.skipSample(s.path, e instanceof ImageDecodeError ? stripFile(e) : String(e));
      return false;
    }
    if (s.maskPath === null) return true;
    let mask: ImageHeader;
    try {
      mask = await inspect(s.maskPath, check);
    } catch (e) {
      issues.skipSample(s.maskPath, `mask of ${s.path}: ${e instanceof ImageDecodeError ? stripFile(e) : String(e)}`);
      return false;
    }
    if (mask.width !== image.width || mask.height !== image.height) {
      issues.skipSample(s.maskPath, `mask is ${mask.width}x${mask.height} but its image ${s.path} is ${image.width}x${image.height}`);
      return false;
    }
    return true;
  });
  return samples.filter((_, i) => ok[i]);
}

function stripFile(e: ImageDecodeError): string {
  return e.message.startsWith(`${e.file}: `) ? e.message.slice(e.file.length + 2) : e.message;
}

export function capabilitiesOf(samples: readonly Sample[]): DatasetCapabilities {
  const test = samples.filter((s) => s.split === 'test');
  const defective = test.filter((s) => s.label === 1);
  const withMask = defective.filter((s) => s.maskPath !== null).length;
  const hasNormal = test.some((s) => s.label === 0);
  const pixelMasks = defective.length === 0 || withMask === 0 ? 'none' : withMask === defective.length ? 'all' : 'partial';
  return {
    imageMetrics: hasNormal && defective.length > 0,
    pixelMetrics: defective.length > 0 && withMask === defective.length,
    pixelMasks,
  };
}

export function describeDataset(
  format: DatasetFormat,
  roots: readonly string[],
  classes: readonly string[],
  samples: readonly Sample[],
  caps: DatasetCapabilities,
): string {
  const train = samples.filter((s) => s.split === 'train');
  const test = samples.filter((s) => s.split === 'test');
  const defective = test.filter((s) => s.label === 1);
  const withMask = defective.filter((s) => s.maskPath !== null).length;
  const types = new Set(defective.map((s) => `${s.className}/${s.defectType}`)).size;
  const trainDefective = train.filter((s) => s.label === 1).length;
  const parts = [
    `${format} dataset from ${roots.join(', ')}: ${classes.length} class${classes.length === 1 ? '' : 'es'} (${classes.join(', ')}).`,
    `Train: ${train.length} images${trainDefective > 0 ? ` (${trainDefective} defective)` : ''}.`,
    `Test: ${test.length - defective.length} normal + ${defective.length} defective (${types} defect type${types === 1 ? '' : 's'}), ${withMask} with pixel masks.`,
  ];
  if (caps.pixelMetrics) parts.push('Image-level and pixel-level metrics are possible.');
  else if (defective.length === 0) parts.push('No defective test images: no anomaly metric can be computed.');
  else if (caps.pixelMasks === 'none') parts.push('No pixel masks: only image-level metrics are possible.');
  else
    parts.push(
      `${defective.length - withMask} defective test images have no mask: pixel-level metrics only cover the ${withMask} that do; image-level metrics cover all.`,
    );
  if (!caps.imageMetrics && defective.length > 0) parts.push('No normal test images: image-level AUROC cannot be computed.');
  return parts.join(' ');
}

export interface BuildOptions {
  readonly format: DatasetFormat;
  readonly roots: readonly string[];
  readonly samples: readonly Sample[];
  readonly check: CheckLevel;
  readonly issues: IssueCollector;
  readonly context: string;
  /** Folder of each class, to name it when the class ends up empty. */
  readonly classDirs?: ReadonlyMap<string, string>;
}

/** Checks files, enforces "every class has training images", throws or records, and describes the result. */
export async function buildDataset(options: BuildOptions): Promise<Dataset> {
  const { issues } = options;
  let samples = await checkSampleFiles(options.samples, options.check, issues);
  const classes = [...new Set(options.samples.map((s) => s.className))];
  const kept: string[] = [];
  for (const c of classes) {
    const own = samples.filter((s) => s.className === c);
    if (!own.some((s) => s.split === 'train')) {
      issues.skipClass(options.classDirs?.get(c) ?? c, `class ${c} has no usable training images`);
      samples = samples.filter((s) => s.className !== c);
    } else {
      kept.push(c);
    }
  }
  issues.finish(options.context);
  const caps = capabilitiesOf(samples);
  return {
    format: options.format,
    roots: [...options.roots],
    classes: kept,
    samples,
    capabilities: caps,
    description: describeDataset(options.format, options.roots, kept, samples, caps),
    report: { issues: [...issues.issues], notes: [...issues.notes] },
  };
}
