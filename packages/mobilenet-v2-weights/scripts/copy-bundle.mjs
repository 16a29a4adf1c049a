// After tsup: copies the MobileNetV2 bundle files from nsfwjs (a devDependency) into mobilenet_v2/,
// which is published (package.json "files") and gitignored, and checks them against the sizes and
// SHA-256 the package states. The published package then needs neither nsfwjs nor tfjs.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MOBILENET_V2_BUNDLE_FILES, PACKAGE_ROOT, locateMobileNetV2Weights, nsfwjsBundleDir, verifyMobileNetV2Weights } from '../dist/index.js';

const from = nsfwjsBundleDir();
const to = join(PACKAGE_ROOT, 'mobilenet_v2');
rmSync(to, { recursive: true, force: true });
mkdirSync(to, { recursive: true });
for (const { name } of MOBILENET_V2_BUNDLE_FILES) copyFileSync(join(from, name), join(to, name));
const location = locateMobileNetV2Weights();
if (location.from !== 'package') throw new Error(`copy-bundle: expected the package's own copy in ${to}, found ${location.dir}`);
const problems = verifyMobileNetV2Weights(location);
if (problems.length > 0) {
  rmSync(to, { recursive: true, force: true });
  throw new Error(`copy-bundle: the nsfwjs files in ${from} are not the expected ones:\n  ${problems.join('\n  ')}`);
}
console.log(`copied ${MOBILENET_V2_BUNDLE_FILES.map((f) => f.name).join(', ')} from ${from} to ${to} (SHA-256 checked)`);
