/** The official golden fixture (tools/test-fixtures/PROVENANCE.md) as the tests here use it. */
import { entryToTensor, readSafetensorsFile, type TensorData } from '@unias/graph';
import { FIXTURES } from '@unias/test-fixtures';

const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

export interface PipelineFixture {
  /** The fixture image as RGB in [0, 1] ([1, 3, 224, 224]; the stored one is ImageNet-normalised). */
  readonly unitImage: TensorData<'float32'>;
  /** The official code's final anomaly map [1, 1, 224, 224]. */
  readonly pred: TensorData<'float32'>;
}

export async function loadPipelineFixture(): Promise<PipelineFixture> {
  const io = await readSafetensorsFile(FIXTURES.io);
  const get = (name: string): TensorData<'float32'> => {
    const t = entryToTensor(io.tensors.get(name)!);
    if (t.dtype !== 'float32') throw new Error(`fixture ${name} is ${t.dtype}`);
    return t as TensorData<'float32'>;
  };
  const img = get('input.image');
  const unit = new Float32Array(img.data.length);
  const plane = img.shape[2]! * img.shape[3]!;
  for (let i = 0; i < unit.length; i++) {
    const c = Math.floor(i / plane) % 3;
    unit[i] = img.data[i]! * STD[c]! + MEAN[c]!;
  }
  return { unitImage: { dtype: 'float32', shape: img.shape, data: unit }, pred: get('output.pred') };
}

/** Images side by side as one batch. */
export function stack(images: readonly Float32Array[], shape: readonly number[]): TensorData<'float32'> {
  const n = images[0]!.length;
  const data = new Float32Array(images.length * n);
  images.forEach((x, i) => data.set(x, i * n));
  return { dtype: 'float32', shape: [images.length, ...shape.slice(1)], data };
}

/** The image mirrored left-right (a different input with the same statistics). */
export function mirrored(x: Float32Array, width: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i - (i % width) + (width - 1 - (i % width))]!;
  return out;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
