import { defineProject } from 'vitest/config';
import { defineUniasProject } from '@unias/vitest-config';

export default defineProject(defineUniasProject('mobilenet-v2-weights'));
