import { defineUniasBuild } from '@unias/tsup-config';

// `detection` is its own entry: the result rules need only @unias/image, so the server imports them
// without loading the model code.
export default defineUniasBuild({ index: 'src/index.ts', detection: 'src/detection.ts' });
