import { renderSyntheticSample, SYNTHETIC_CLASSES } from './src/index.js';
for (let rep = 0; rep < 2; rep++) for (const c of SYNTHETIC_CLASSES) {
  const t0 = performance.now();
  for (let i = 0; i < 30; i++) renderSyntheticSample({ className: c.name, size: 128, seed: 0, split: 'train', group: 'good', index: i });
  const t1 = performance.now();
  for (let i = 0; i < 30; i++) renderSyntheticSample({ className: c.name, size: 128, seed: 0, split: 'test', group: c.defects[i % 4]!, index: i });
  const t2 = performance.now();
  if (rep) console.log(c.name, ((t1 - t0) / 30).toFixed(2), 'ms good', ((t2 - t1) / 30).toFixed(2), 'ms defect');
}
