// Workspace packages resolve to their TypeScript sources through the "@unias/source" export
// condition, so tests never wait for a build.
export const sourceConditions = ['@unias/source', 'import', 'module', 'node', 'default'];

export function defineUniasProject(name, extra = {}) {
  return {
    resolve: { conditions: sourceConditions },
    ssr: { resolve: { conditions: sourceConditions, externalConditions: ['@unias/source'] } },
    test: {
      name,
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      environment: 'node',
      pool: 'forks',
      testTimeout: 120_000,
      hookTimeout: 120_000,
      ...extra,
    },
  };
}
