/** The user's cache folder: $UNIAS_CACHE_DIR, else $XDG_CACHE_HOME/unias, else ~/.cache/unias. */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env['UNIAS_CACHE_DIR']) return resolve(env['UNIAS_CACHE_DIR']);
  if (env['XDG_CACHE_HOME']) return join(resolve(env['XDG_CACHE_HOME']), 'unias');
  return join(homedir(), '.cache', 'unias');
}
