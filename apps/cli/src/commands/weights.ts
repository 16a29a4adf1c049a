import { basename } from 'node:path';
import { entryToFloat32, entryToNumbers, writeSafetensorsFile, type TensorToWrite } from '@unias/graph';
import { readTorchCheckpointFile } from '@unias/torch-checkpoint';
import type { Command } from '../command.js';
import { flag, parse, str } from '../args.js';
import { UsageError, UserError } from '../errors.js';
import { convertedFile, downloadedFile, isFile, weightsDir, downloadVerified, KNOWN_WEIGHTS, findKnownWeights, type KnownWeights } from '@unias/engine';

const USAGE = `usage: unias weights list
       unias weights fetch ID [--url URL] [--sha256 HEX] [--force] [--quiet]

Pretrained backbone weights, downloaded once into the cache ($UNIAS_CACHE_DIR, else
$XDG_CACHE_HOME/unias, else ~/.cache/unias), verified and converted to safetensors:
  list          the known weights (EfficientNet-B0..B4 of EfficientNet-PyTorch, torchvision
                ResNet-18/50 and Wide-ResNet-50-2), their source, licence and whether they are cached
  fetch ID      download (resuming an interrupted download), check the SHA-256, convert; prints the
                converted file's path (docs/weights.md)
options:
  --url URL     download from here instead (a mirror); the expected hash stays the known one
  --sha256 HEX  the expected SHA-256 or its leading digits (required with --url for an unknown ID)
  --force       download and convert again even when cached
  --quiet       no progress`;

const OPTIONS = {
  url: { type: 'string' },
  sha256: { type: 'string' },
  force: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

function megabytes(n: number): string {
  return (n / 1e6).toFixed(1);
}

/** Progress on stderr, at most every 5% (or every 8 MB when the size is unknown). */
function progressPrinter(name: string): (received: number, total: number | undefined) => void {
  let next = 0;
  return (received, total) => {
    const step = total ? total / 20 : 8e6;
    if (received < next && received !== total) return;
    next = received + step;
    process.stderr.write(
      `downloading ${name}: ${megabytes(received)}${total ? ` / ${megabytes(total)} MB (${Math.round((100 * received) / total)}%)` : ' MB'}\n`,
    );
  };
}

/** The checkpoint's state_dict as safetensors (floats in their own dtype, batch counters as I64). */
async function convert(pth: string, out: string, sha256: string): Promise<number> {
  const ckpt = await readTorchCheckpointFile(pth);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, e] of ckpt.tensors) {
    const exact = e.dtype === 'F64' || e.dtype.startsWith('I') || e.dtype === 'U8' || e.dtype === 'BOOL';
    tensors[name] = { shape: e.shape, dtype: e.dtype, data: exact ? entryToNumbers(e) : entryToFloat32(e) };
  }
  await writeSafetensorsFile(out, tensors, { format: 'pt', source: basename(pth), sha256 });
  return ckpt.tensors.size;
}

async function list(): Promise<void> {
  const rows = await Promise.all(KNOWN_WEIGHTS.map(async (w) => [w.id, w.fileName, (await isFile(convertedFile(w.id))) ? 'yes' : 'no', w.licence] as const));
  const head = ['id', 'file', 'cached', 'licence'] as const;
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  process.stdout.write(`${[line(head), ...rows.map(line)].join('\n')}\ncache: ${weightsDir()}\n`);
}

async function fetchWeights(id: string | undefined, args: ReturnType<typeof parse>): Promise<void> {
  if (!id) throw new UsageError('unias weights fetch needs an ID (`unias weights list` shows them)');
  // The ID names the converted file in the cache.
  if (!/^[\w.-]+$/.test(id)) throw new UsageError(`weights ID "${id}" may hold only letters, digits, ".", "_" and "-"`);
  const url = str(args, 'url');
  const sha = str(args, 'sha256')?.toLowerCase();
  if (sha !== undefined && !/^[0-9a-f]{8,64}$/.test(sha)) throw new UsageError(`--sha256 must be 8 to 64 hex digits, got "${sha}"`);
  const known = findKnownWeights(id);
  let source: KnownWeights;
  if (known) {
    source = { ...known, ...(url ? { url } : {}), ...(sha ? { sha256Prefix: sha } : {}) };
  } else {
    if (!url || !sha) {
      throw new UserError(`no known weights "${id}" (known: ${KNOWN_WEIGHTS.map((w) => w.id).join(', ')}); for other weights give --url and --sha256`);
    }
    const fileName = basename(new URL(url).pathname) || `${id}.pth`;
    source = { id, url, fileName, sha256Prefix: sha, licence: 'unknown', source: url };
  }
  const dest = downloadedFile(source);
  const out = convertedFile(id);
  const quiet = flag(args, 'quiet');
  const say = (s: string) => {
    if (!quiet) process.stderr.write(`${s}\n`);
  };
  if (!flag(args, 'force') && (await isFile(out))) {
    say(`${id}: already cached`);
    process.stdout.write(`${out}\n`);
    return;
  }
  let sha256: string;
  if (!flag(args, 'force') && (await isFile(dest))) {
    say(`${id}: ${dest} already downloaded (verified when it was fetched)`);
    sha256 = source.sha256Prefix;
  } else {
    say(`${id}: ${source.url} (${source.licence})`);
    const r = await downloadVerified({
      url: source.url,
      dest,
      sha256Prefix: source.sha256Prefix,
      ...(quiet ? {} : { onProgress: progressPrinter(source.fileName) }),
    });
    if (r.resumedFrom > 0) say(`${id}: resumed after ${r.resumedFrom} bytes`);
    say(`${id}: ${r.bytes} bytes, SHA-256 ${r.sha256}`);
    sha256 = r.sha256;
  }
  let count: number;
  try {
    count = await convert(dest, out, sha256);
  } catch (e) {
    throw new UserError(`${id}: the download is not a readable PyTorch checkpoint: ${(e as Error).message.split('\n')[0]}`);
  }
  say(`${id}: ${count} tensors converted to ${out}`);
  process.stdout.write(`${out}\n`);
}

export const command: Command = {
  name: 'weights',
  usage: USAGE,
  async run(argv) {
    const args = parse(argv, OPTIONS, true);
    const [sub, id, ...rest] = args.positionals;
    if (rest.length > 0) throw new UsageError(`unexpected arguments: ${rest.join(' ')}`);
    if (sub === 'list') {
      if (id !== undefined) throw new UsageError('unias weights list takes no ID');
      return list();
    }
    if (sub === 'fetch') return fetchWeights(id, args);
    throw new UsageError(sub === undefined ? 'unias weights needs list or fetch' : `unknown weights command "${sub}" (list, fetch)`);
  },
};
