import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createProgress, formatDuration } from './progress.js';
import { quantile } from '@unias/engine';

function fakeStream(tty: boolean): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  // A real stream that records what it is given (and says whether it is a terminal).
  const stream = Object.assign(new Writable({ write: (chunk: Buffer, _enc, done) => ((text += chunk.toString()), done()) }), {
    isTTY: tty,
  }) as NodeJS.WriteStream;
  return { stream, text: () => text };
}

describe('progress bar', () => {
  it('formats durations', () => {
    expect(formatDuration(0)).toBe('00:00');
    expect(formatDuration(61.4)).toBe('01:01');
    expect(formatDuration(3725)).toBe('1:02:05');
    expect(formatDuration(NaN)).toBe('--:--');
  });

  it('draws the bar, the fields and an ETA; on a TTY in place, otherwise as lines', () => {
    const tty = fakeStream(true);
    const bar = createProgress({ total: 4, label: 'train', stream: tty.stream });
    bar.update(2, { loss: 0.12345, 'img/s': 12.5 });
    bar.done('finished');
    expect(tty.text()).toMatch(/^\r\x1b\[2Ktrain \[#{12}-{12}\] 2\/4 {2}loss 0\.123 {2}img\/s 12\.50 {2}00:00 elapsed, ETA 00:00\nfinished\n$/);
    const plain = fakeStream(false);
    const p = createProgress({ total: 10, label: 'eval', stream: plain.stream, plainInterval: 3600 });
    for (let i = 1; i <= 10; i++) p.update(i);
    // the first line, then nothing until the last
    expect(plain.text().trim().split('\n')).toHaveLength(2);
  });

  it('a resumed bar estimates from the work done since it started', () => {
    const s = fakeStream(true);
    const bar = createProgress({ total: 100, label: 'train', stream: s.stream, start: 50 });
    bar.update(50);
    expect(s.text()).toMatch(/ETA --:--/);
  });
});

describe('quantile (numpy linear interpolation)', () => {
  it('matches the closed form', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(
      quantile(
        Array.from({ length: 101 }, (_, i) => i),
        0.99,
      ),
    ).toBeCloseTo(99, 12);
    expect(quantile([1, 2], 0.25)).toBeCloseTo(1.25, 12);
    expect(quantile([7], 0.99)).toBe(7);
  });
});
