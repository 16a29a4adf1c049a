// One build preset for every package: ESM only, declarations, sources maps, deps left external.
export function defineUniasBuild(entry = { index: 'src/index.ts' }, extra = {}) {
  return {
    entry,
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: true,
    treeshake: true,
    ...extra,
  };
}
