/** Progress of an export, for a CLI bar: step `step` of `steps`, with what is being done. */
export interface ExportProgress {
  readonly step: number;
  readonly steps: number;
  readonly message: string;
}

export type ProgressCallback = (progress: ExportProgress) => void;

export function stepper(steps: number, onProgress?: ProgressCallback): (message: string) => void {
  let step = 0;
  return (message) => {
    step += 1;
    onProgress?.({ step: Math.min(step, steps), steps, message });
  };
}
