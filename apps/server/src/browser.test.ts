/**
 * The page at `/` in real headless Chromium (Debian's package, driven by playwright-core): upload an
 * image, the result appears, the slider changes the mask, a screenshot is written.
 * Skips with a reason when no Chromium binary is installed.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nchwOf, patternPixels, pngOf, startTestServer, TEST_SIZE, type RunningServer } from './testing/harness.js';
import { referenceAnomalyMap } from './testing/test-models.js';

// The callbacks below run in the page; the package compiles without the DOM library, so they use
// these minimal structural types.
interface PageImage {
  naturalWidth: number;
}
interface PageInput {
  value: string;
  min: string;
  max: string;
  dispatchEvent(event: unknown): boolean;
}
interface PageCanvas {
  width: number;
  height: number;
  dataset: Record<string, string | undefined>;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}

const CHROMIUM_CANDIDATES = [process.env['UNIAS_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter(
  (p): p is string => typeof p === 'string' && p !== '',
);
const chromiumPath = CHROMIUM_CANDIDATES.find((p) => existsSync(p));
if (chromiumPath === undefined) {
  console.warn(`browser test skipped: no Chromium binary at ${CHROMIUM_CANDIDATES.join(', ')} (apt-get install chromium, or set UNIAS_CHROMIUM)`);
}

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];

describe.skipIf(chromiumPath === undefined)('browser page (headless Chromium)', () => {
  let s: RunningServer;
  const tmp = mkdtempSync(join(tmpdir(), 'unias-server-browser-'));
  const { height: H, width: W } = TEST_SIZE;

  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(async () => {
    await s?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('uploads an image, shows the result, re-thresholds the mask with the slider, takes a screenshot', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: chromiumPath!, args: CHROMIUM_ARGS, timeout: 60_000 });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      const response = await page.goto(s.url);
      expect(response?.status()).toBe(200);
      await page.waitForSelector('body[data-state="ready"]');

      const pixels = patternPixels(W, H);
      const imagePath = join(tmp, 'upload.png');
      await import('node:fs/promises').then((fs) => pngOf(pixels, W, H).then((png) => fs.writeFile(imagePath, png)));
      await page.setInputFiles('#file', imagePath);
      await page.waitForSelector('body[data-state="done"]', { timeout: 30_000 });

      const ref = referenceAnomalyMap(nchwOf(pixels, W, H), 1, H, W);
      const score = Number(await page.textContent('#score'));
      expect(Math.abs(score - ref.score[0]!)).toBeLessThan(1e-3); // shown with 4 significant digits
      expect(await page.textContent('#label')).toBe('anomalous');
      expect(await page.isVisible('#heatmap')).toBe(true);
      expect(await page.$eval('#heatmap', (img) => (img as PageImage).naturalWidth)).toBe(W);

      // At the stored pixel threshold (0.25), the mask covers the pixels whose map is >= 0.25.
      const maskPixels = async () => Number(await page.$eval('#mask', (c) => (c as PageCanvas).dataset['maskPixels']));
      const expectedAt = (t: number) => ref.map.filter((v) => v >= t).length;
      const atStored = await maskPixels();
      // The slider works on the 8-bit map and a 1000-step slider: allow the pixels within one step.
      expect(Math.abs(atStored - expectedAt(0.25))).toBeLessThanOrEqual(W * H * 0.05);

      // Moving the slider to the top leaves only the maximum; to the bottom selects every pixel.
      await page.$eval('#threshold', (el) => {
        const input = el as PageInput;
        input.value = input.max;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      });
      const atTop = await maskPixels();
      expect(atTop).toBe(expectedAt(Math.max(...ref.map) - 1e-9));
      await page.$eval('#threshold', (el) => {
        const input = el as PageInput;
        input.value = input.min;
        input.dispatchEvent(new Event('input', { bubbles: true }));
      });
      expect(await maskPixels()).toBe(W * H);
      expect(await page.textContent('#mask-fraction')).toBe('100.00%');
      // The canvas itself changed: count strongly red pixels drawn for the mask.
      const redPixels = await page.$eval('#mask', (c) => {
        const canvas = c as PageCanvas;
        const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i]! >= 160 && d[i + 1]! < 100) n++;
        return n;
      });
      expect(redPixels).toBe(W * H);

      const shot = join(tmp, 'page.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(statSync(shot).size).toBeGreaterThan(1000);
      expect(readFileSync(shot).subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

      // A bad upload shows the server's error message.
      const badPath = join(tmp, 'bad.png');
      await import('node:fs/promises').then((fs) => fs.writeFile(badPath, 'not a png'));
      await page.setInputFiles('#file', badPath);
      await page.waitForSelector('body[data-state="error"]');
      expect(await page.textContent('#error')).toMatch(/the image is not PNG, JPEG, WebP or TIFF/);
      expect(pageErrors).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
