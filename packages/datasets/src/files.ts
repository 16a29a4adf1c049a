/**
 * Folder listing helpers shared by the loaders. Images are recognised by extension,
 * case-insensitively; symbolic links are followed (a broken link to an image is listed as one, so
 * that reading it fails naming it).
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** Extensions treated as images. `.bmp` is listed so that it fails loudly at decode (sharp cannot read it) rather than vanish. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.tif', '.tiff', '.webp', '.bmp'];

export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

/** File name without its extension: `000.png` -> `000`. */
export function stemOf(name: string): string {
  const ext = extname(name);
  return ext ? name.slice(0, -ext.length) : name;
}

export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Whether a folder entry is a folder, following symbolic links: a class folder may be a link to
 * another disk (datasets are often assembled that way), and a listing must not drop it silently.
 */
export async function isFolderEntry(dir: string, entry: Dirent): Promise<boolean> {
  if (entry.isDirectory()) return true;
  return entry.isSymbolicLink() && isDirectory(join(dir, entry.name));
}

export interface FolderListing {
  /** Image file names, sorted (byte order, so the same on every machine). */
  readonly images: string[];
  /** Sub-folder names, sorted. */
  readonly dirs: string[];
  /** Non-hidden files that are not images. */
  readonly others: string[];
}

export async function listFolder(dir: string): Promise<FolderListing> {
  const entries = await readdir(dir, { withFileTypes: true });
  const images: string[] = [];
  const dirs: string[] = [];
  const others: string[] = [];
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    if (await isFolderEntry(dir, e)) dirs.push(e.name);
    else if (isImageFile(e.name)) images.push(e.name);
    else others.push(e.name);
  }
  const byBytes = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return { images: images.sort(byBytes), dirs: dirs.sort(byBytes), others: others.sort(byBytes) };
}

export function joinAll(dir: string, names: readonly string[]): string[] {
  return names.map((n) => join(dir, n));
}
