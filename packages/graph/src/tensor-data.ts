/** Element types the graph knows. Indices and flags are int32 / bool; everything learned is float32. */
export type DType = 'float32' | 'int32' | 'bool';

export type Shape = readonly number[];

export interface TypedArrayFor {
  float32: Float32Array;
  int32: Int32Array;
  bool: Uint8Array;
}

export type AnyTypedArray = Float32Array | Int32Array | Uint8Array;

/** A dense host tensor: what crosses every backend boundary. Row-major (C order). */
export interface TensorData<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: Shape;
  readonly data: TypedArrayFor[D];
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function allocate<D extends DType>(dtype: D, n: number): TypedArrayFor[D] {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n) as TypedArrayFor[D];
    case 'int32':
      return new Int32Array(n) as TypedArrayFor[D];
    case 'bool':
      return new Uint8Array(n) as TypedArrayFor[D];
  }
  throw new Error(`unknown dtype ${String(dtype)}`);
}

export function tensor<D extends DType = 'float32'>(shape: Shape, data?: ArrayLike<number> | TypedArrayFor[D], dtype: D = 'float32' as D): TensorData<D> {
  const n = sizeOf(shape);
  const out = allocate(dtype, n);
  if (data !== undefined) {
    if (data.length !== n) {
      throw new Error(`tensor: ${data.length} values do not fill shape [${shape.join(',')}] (${n} values)`);
    }
    out.set(data as ArrayLike<number>);
  }
  return { dtype, shape: [...shape], data: out };
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}
