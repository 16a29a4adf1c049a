import { convKernels } from './conv.js';
import { elementwiseKernels } from './elementwise.js';
import { layoutKernels } from './layout.js';
import { matmulKernels } from './matmul.js';
import { normKernels } from './norm.js';
import { poolKernels } from './pool.js';
import type { KernelTable } from './types.js';

export type { Kernel, KernelContext, KernelTable } from './types.js';
export { interpolationMatrix } from './pool.js';

/** Every op of `OpAttrMap` on tfjs. */
export const TF_KERNELS: KernelTable = {
  ...elementwiseKernels,
  ...layoutKernels,
  ...matmulKernels,
  ...convKernels,
  ...poolKernels,
  ...normKernels,
};
