/** File helpers shared by packages that persist things: atomic writes and safetensors files. */
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type DecodeOptions, type EncodeOptions, type SafetensorsFile, type TensorToWrite } from './safetensors.js';

/** `.<target>.<pid>.<12 hex>.tmp`: the temporary files of writeFileAtomic, and who wrote them. */
const TEMP_FILE = /^\.(.+)\.(\d+)\.[0-9a-f]{12}\.tmp$/;

/** Makes a rename in `dir` durable: without it a power loss can undo the rename. */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
  } catch {
    return; // a platform that cannot open folders (Windows) has nothing to sync
  }
  try {
    await handle.sync();
  } catch (e) {
    // some file systems refuse fsync on a folder; the rename itself has happened
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EPERM' && code !== 'EISDIR' && code !== 'EBADF') throw e;
  } finally {
    await handle.close();
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/**
 * A killed process whose parent died too waits for init to reap it, holding its pid but writing
 * nothing: a dead writer. Linux's /proc says so (state Z); elsewhere a pid that answers is alive.
 */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ...": comm may hold spaces and parentheses, the state follows the last ")"
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

/**
 * Removes the temporary files that writers killed mid-write (SIGKILL, power loss) left in `dir`:
 * those named as writeFileAtomic names them (`.<target>.<pid>.<12 hex>.tmp`, files or folders
 * written the same way) whose writing process is gone. Returns the paths removed.
 */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_FILE.exec(name);
    if (!m) continue;
    const pid = Number(m[2]);
    // our own writes in flight, or another live writer's
    if (pid === process.pid || processAlive(pid)) continue;
    await rm(join(dir, name), { recursive: true, force: true });
    removed.push(join(dir, name));
  }
  return removed;
}

/**
 * Writes a file so that readers see the old content or the new, never a torn one: write to a
 * temporary file in the same folder, fsync, rename over the target, fsync the folder.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  // pid + a random suffix: two writers of the same path (even in one process, in one millisecond)
  // never share a temporary file.
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(tmp, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (e) {
    await handle.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await syncDirectory(dirname(path));
}

export async function readSafetensorsFile(path: string, options: DecodeOptions = {}): Promise<SafetensorsFile> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new Error(`cannot read weights file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path, options);
}

export async function writeSafetensorsFile(
  path: string,
  tensors: Readonly<Record<string, TensorToWrite>>,
  metadata: Readonly<Record<string, string>> = {},
  options: EncodeOptions = {},
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata, options));
}
