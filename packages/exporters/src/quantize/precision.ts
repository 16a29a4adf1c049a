/** Numeric precisions of an exported pipeline (`unias export --precision`). */
import { ExportError } from '../errors.js';

/**
 * float32: the default. int8: static QDQ quantisation (integer Conv/MatMul kernels). fp16: float16
 * weights behind Casts, float32 arithmetic (half the file; docs/benchmarks.md#int8-and-fp16-export).
 */
export const PRECISIONS = ['float32', 'int8', 'fp16'] as const;
export type Precision = (typeof PRECISIONS)[number];

export function isPrecision(s: string): s is Precision {
  return (PRECISIONS as readonly string[]).includes(s);
}

/** What the metadata records about an int8 export's calibration. */
export interface CalibrationInfo {
  readonly images: number;
  readonly method: string;
  /** Where the images came from, e.g. "ksdd: train/good". */
  readonly source?: string;
}

export function checkPrecision(value: unknown, where = 'precision'): Precision {
  if (typeof value !== 'string' || !isPrecision(value)) {
    throw new ExportError(`${where} must be one of ${PRECISIONS.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value;
}
