import { defineUniasBuild } from '@unias/tsup-config';

// `testing`: a tiny dataset and model for this and other packages' tests (the CLI's).
export default defineUniasBuild({ index: 'src/index.ts', testing: 'src/testing/tiny-run.ts' });
