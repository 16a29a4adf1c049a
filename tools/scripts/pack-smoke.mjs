// Packs every publishable workspace package with `pnpm pack` (workspace: and catalog: ranges become
// versions), installs each tarball alone into an empty folder with npm (its @unias dependencies from
// their tarballs, everything else from the registry), imports it, and prints what it installed.
// Each command a package declares (`bin`) runs from an empty folder elsewhere (`--version`, `--help`; `unias doctor`).
// `node tools/scripts/pack-smoke.mjs [--json FILE] [NAME ...]`; exits 1 when any package fails.
// With NAMEs, only those are installed, and only they and their @unias dependencies need a build.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonFile = jsonAt >= 0 ? resolve(args[jsonAt + 1]) : null;
const only = args.filter((a, i) => a !== "--json" && (jsonAt < 0 || i !== jsonAt + 1));

const packages = ['packages', 'apps']
  .flatMap((top) => readdirSync(join(root, top)).map((d) => join(root, top, d)))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter((p) => !p.manifest.private);

// With names given, only they and the @unias packages they install (dependencies and peers,
// transitively) are packed, so only those need a dist/.
const byName = new Map(packages.map((p) => [p.manifest.name, p]));
const needed = new Set();
const need = (name) => {
  const p = byName.get(name);
  if (!p || needed.has(name)) return;
  needed.add(name);
  const m = p.manifest;
  for (const dep of Object.keys({ ...m.dependencies, ...m.optionalDependencies, ...m.peerDependencies })) need(dep);
};
for (const name of only) {
  if (!byName.has(name)) throw new Error(`${name}: not a publishable workspace package`);
  need(name);
}
const packed = only.length ? packages.filter((p) => needed.has(p.manifest.name)) : packages;

const work = mkdtempSync(join(tmpdir(), 'unias-pack-'));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_audit: 'false', npm_config_fund: 'false' };
const run = (cmd, argv, cwd) => execFileSync(cmd, argv, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

// The model definition and the exporters install without a runtime (tfjs, onnxruntime) and without
// nsfwjs (the MobileNetV2 weights are @unias/mobilenet-v2-weights'): a team that only exports needs none.
const LEAN = new Set(['@unias/model', '@unias/exporters']);
const HEAVY = [/^@tensorflow\//, /^onnxruntime-/, /^nsfwjs$/];

const tarballOf = new Map();
for (const { dir, manifest } of packed) {
  if (!existsSync(join(dir, 'dist'))) throw new Error(`${manifest.name}: no dist/ in ${dir}; run pnpm build first`);
  const out = run('pnpm', ['pack', '--pack-destination', tarballs], dir).trim().split('\n').pop();
  tarballOf.set(manifest.name, resolve(dir, out));
}

const overrides = Object.fromEntries([...tarballOf].map(([name, file]) => [name, `file:${file}`]));
const results = [];
let failures = 0;
for (const { manifest } of packages) {
  if (only.length && !only.includes(manifest.name)) continue;
  const name = manifest.name;
  const consumer = join(work, name.replace('/', '__'));
  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { [name]: overrides[name] }, overrides }, null, 2),
  );
  const t0 = Date.now();
  try {
    run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], consumer);
    const exported = run('node', ['--input-type=module', '-e', `const m = await import(${JSON.stringify(name)}); console.log(Object.keys(m).length);`], consumer).trim();
    if (!(Number(exported) > 0)) throw new Error(`import('${name}') has no exports`);
    // A command (`unias`) runs from any folder, as a global install's link would run it: from an
    // empty folder elsewhere, with a HOME of its own (caches go there, never to the working folder).
    for (const bin of Object.keys(typeof manifest.bin === 'string' ? { [name]: manifest.bin } : (manifest.bin ?? {}))) {
      const elsewhere = mkdtempSync(join(tmpdir(), 'unias-elsewhere-'));
      const home = mkdtempSync(join(tmpdir(), 'unias-home-'));
      const binEnv = { ...env, HOME: home, UNIAS_CACHE_DIR: '', XDG_CACHE_HOME: '' };
      for (const argv of [['--version'], ['--help'], ...(bin === 'unias' ? [['doctor']] : [])]) execFileSync(join(consumer, 'node_modules', '.bin', bin), argv, { cwd: elsewhere, env: binEnv, stdio: 'pipe' });
      if (readdirSync(elsewhere).length > 0) throw new Error(`${bin} wrote into its working folder: ${readdirSync(elsewhere).join(', ')}`);
      rmSync(elsewhere, { recursive: true, force: true });
      rmSync(home, { recursive: true, force: true });
    }
    // Everything npm put under node_modules for it (nested copies included), but the package itself.
    const paths = run('npm', ['ls', '--all', '--parseable', '--omit=dev'], consumer).trim().split('\n');
    const installed = new Set(paths.filter((p) => p.includes('node_modules')).map((p) => p.slice(p.lastIndexOf('node_modules/') + 13)).filter((d) => d !== name));
    const banned = LEAN.has(name) ? [...installed].filter((d) => HEAVY.some((h) => h.test(d))) : [];
    if (banned.length) throw new Error(`${name} must install without a runtime or the bundled weights' sources, but installs ${banned.join(', ')}`);
    results.push({ name, ok: true, exports: Number(exported), seconds: (Date.now() - t0) / 1000, installs: [...installed].sort() });
    console.log(`ok   ${name}: ${exported} exports; installs ${installed.size} packages (${[...installed].filter((d) => !d.startsWith('@unias/')).length} outside @unias)`);
  } catch (e) {
    failures++;
    const detail = (e.stderr || e.message || String(e)).toString().trim().split('\n').slice(-5).join('\n     ');
    results.push({ name, ok: false, error: detail });
    console.log(`FAIL ${name}: ${detail}`);
  }
}
if (jsonFile) writeFileSync(jsonFile, JSON.stringify({ packages: results }, null, 2) + '\n');
rmSync(work, { recursive: true, force: true });
console.log(`${results.length - failures} of ${results.length} packages install alone and import`);
process.exit(failures ? 1 : 0);
