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

// One error class for undecodable images, wherever they are decoded.
export { ImageDecodeError } from '@unias/image';
