import { defineUniasBuild } from '@unias/tsup-config';

// `contract` is its own entry: exporters read the contract's metadata without loading sharp.
// `testing`: PNG/JPEG writers with exact samples, for this and other packages' tests.
export default defineUniasBuild({ index: 'src/index.ts', contract: 'src/contract.ts', testing: 'src/testing/images.ts' });
