import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineProject } from 'vitest/config';
import { defineUniasProject } from '@unias/vitest-config';

// Caches the CLI writes for the user (baselines) go to a folder of this test run, not ~/.cache.
export default defineProject(defineUniasProject('cli', { env: { UNIAS_CACHE_DIR: join(tmpdir(), `unias-cli-test-cache-${process.pid}`) } }));
