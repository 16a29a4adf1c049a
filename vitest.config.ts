import { defineConfig } from 'vitest/config';

// One run over every workspace project (each package's own vitest.config.ts). When
// UNIAS_TEST_REPORT names a file, a JSON report is written there too (.ci/run reads it).
const report = process.env['UNIAS_TEST_REPORT'];

export default defineConfig({
  test: {
    projects: ['packages/*', 'apps/*'],
    // Two cores: one heavy numeric file per core.
    maxWorkers: 2,
    passWithNoTests: true,
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
  },
});
