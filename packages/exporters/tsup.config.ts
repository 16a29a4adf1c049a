import { defineUniasBuild } from '@unias/tsup-config';

// `contract` is its own entry: the server and the detector read the exported-model contract without loading the exporters.
export default defineUniasBuild({ index: 'src/index.ts', contract: 'src/contract.ts' });
