import { defineUniasBuild } from '@unias/tsup-config';

export default defineUniasBuild({ index: 'src/index.ts', testing: 'src/testing/index.ts' });
