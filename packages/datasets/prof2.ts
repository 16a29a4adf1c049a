import { renderSyntheticSample, SYNTHETIC_CLASSES, syntheticClass } from './src/index.js';
import { createRng } from '@unias/graph';
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
for (let rep = 0; rep < 2; rep++) for (const c of SYNTHETIC_CLASSES) {
  const t0 = cpu();
  for (let i = 0; i < 30; i++) c.render(128, createRng(i));
  const t1 = cpu();
  for (let i = 0; i < 30; i++) renderSyntheticSample({ className: c.name, size: 128, seed: 0, split: 'train', group: 'good', index: i });
  const t2 = cpu();
  for (let i = 0; i < 30; i++) renderSyntheticSample({ className: c.name, size: 128, seed: 0, split: 'test', group: c.defects[i % 4]!, index: i });
  const t3 = cpu();
  if (rep) console.log(c.name, 'render', ((t1 - t0) / 30).toFixed(2), 'good', ((t2 - t1) / 30).toFixed(2), 'defect', ((t3 - t2) / 30).toFixed(2));
}
