import type { DatasetIssue } from './types.js';

/** A bad dataset input; `issues` names every file at fault (the message lists the first few). */
export class DatasetError extends Error {
  readonly issues: readonly DatasetIssue[];

  constructor(issues: readonly DatasetIssue[], context?: string) {
    const head = issues.slice(0, 8).map((i) => `  ${i.file}: ${i.problem}`);
    const more = issues.length > 8 ? [`  ... and ${issues.length - 8} more`] : [];
    const lead = context ? `${context}: ` : '';
    super(`${lead}${issues.length} problem${issues.length === 1 ? '' : 's'} in the dataset:\n${[...head, ...more].join('\n')}`);
    this.name = 'DatasetError';
    this.issues = issues;
  }
}

/** A file that could not be decoded (unreadable, truncated, unknown format, wrong size). */
export class ImageDecodeError extends Error {
  readonly file: string;

  constructor(file: string, reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'ImageDecodeError';
    this.file = file;
  }
}
