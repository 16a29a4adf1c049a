import { defineConfig } from 'tsup';

// One ESM file with every workspace package inside, read from their sources; onnxruntime-node
// stays outside (native), shipped beside it by tools/gpu-check.sh.
export default defineConfig({
  entry: { check: 'src/main.ts' },
  format: ['esm'],
  outExtension: () => ({ js: '.mjs' }),
  platform: 'node',
  target: 'node20',
  outDir: 'dist',
  clean: true,
  splitting: false,
  dts: false,
  sourcemap: false,
  noExternal: [/^(?!onnxruntime-node$).*/],
  external: ['onnxruntime-node'],
  banner: { js: "import { createRequire as __unias_createRequire } from 'node:module'; const require = __unias_createRequire(import.meta.url);" },
  esbuildOptions(options) {
    options.conditions = ['@unias/source', 'import', 'module', 'node', 'default'];
  },
});
