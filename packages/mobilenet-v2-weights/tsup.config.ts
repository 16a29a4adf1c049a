import { defineUniasBuild } from '@unias/tsup-config';

export default defineUniasBuild();
