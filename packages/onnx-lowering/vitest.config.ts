import { defineProject } from 'vitest/config';
import { defineUniasProject } from '@unias/vitest-config';

export default defineProject(defineUniasProject('onnx-lowering'));
