import { defineUniasBuild } from '@unias/tsup-config';

// `contract` is its own entry: exporters read the contract's metadata without loading sharp.
export default defineUniasBuild({ index: 'src/index.ts', contract: 'src/contract.ts' });
