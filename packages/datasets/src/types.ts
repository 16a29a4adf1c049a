/** The shapes every loader returns: a flat list of samples plus what the set can and cannot measure. */

export type Split = 'train' | 'test';

/** One image of a dataset. `label` 1 marks a defective image; its mask, when known, is `maskPath`. */
export interface Sample {
  readonly path: string;
  readonly className: string;
  readonly split: Split;
  readonly label: 0 | 1;
  /** `good` for normal images; the defect folder name (MVTec, folders) or `anomaly` (VisA) otherwise. */
  readonly defectType: string;
  /** Pixel mask of a defective image; null for normal images and for defects without a mask. */
  readonly maskPath: string | null;
}

export type DatasetFormat = 'mvtec' | 'visa' | 'folder' | 'synthetic' | 'mixed';

/** A problem with the input found while loading; in `onBadInput: 'skip'` mode it is recorded, not thrown. */
export interface DatasetIssue {
  /** The file or folder at fault. */
  readonly file: string;
  readonly problem: string;
  /** What the loader did about it. */
  readonly action: 'skipped-sample' | 'skipped-class' | 'ignored-file';
}

export interface LoadReport {
  readonly issues: readonly DatasetIssue[];
  /** Harmless things worth knowing (e.g. non-image files that were ignored). */
  readonly notes: readonly string[];
}

/**
 * Which metrics the set supports. A defective test image without a mask makes pixel metrics
 * impossible for it; `pixelMasks` says how many defective test images have one.
 */
export interface DatasetCapabilities {
  readonly imageMetrics: boolean;
  readonly pixelMetrics: boolean;
  readonly pixelMasks: 'all' | 'partial' | 'none';
}

export interface Dataset {
  readonly format: DatasetFormat;
  readonly roots: readonly string[];
  readonly classes: readonly string[];
  readonly samples: readonly Sample[];
  readonly capabilities: DatasetCapabilities;
  /** One human-readable paragraph: counts per split and class, and what can be measured. */
  readonly description: string;
  readonly report: LoadReport;
}

/** What a loader does with bad input: throw one error naming the files (default), or skip and report. */
export type BadInputMode = 'error' | 'skip';

/**
 * How much a loader checks beyond the folder structure:
 * - `structure`: names only (no file is opened);
 * - `header`: every image and mask header is read (readable, known format, mask size = image size);
 * - `full`: every file is decoded completely (also catches truncated data).
 */
export type CheckLevel = 'structure' | 'header' | 'full';

export interface CommonLoadOptions {
  /** Load only these classes (default: all found). */
  readonly classes?: readonly string[];
  readonly onBadInput?: BadInputMode;
  readonly check?: CheckLevel;
}
