import { DatasetError } from './errors.js';
import type { BadInputMode, DatasetIssue } from './types.js';

/** Collects bad-input findings; in `error` mode `finish` throws them all at once, naming each file. */
export class IssueCollector {
  readonly issues: DatasetIssue[] = [];
  readonly notes: string[] = [];

  constructor(readonly mode: BadInputMode) {}

  skipSample(file: string, problem: string): void {
    this.issues.push({ file, problem, action: 'skipped-sample' });
  }

  skipClass(file: string, problem: string): void {
    this.issues.push({ file, problem, action: 'skipped-class' });
  }

  ignoreFile(file: string, problem: string): void {
    this.issues.push({ file, problem, action: 'ignored-file' });
  }

  note(text: string): void {
    this.notes.push(text);
  }

  /** Throws in `error` mode when anything was found. */
  finish(context: string): void {
    if (this.mode === 'error' && this.issues.length > 0) throw new DatasetError(this.issues, context);
  }
}
