/**
 * Who may call the server: an optional API key, an optional Host allowlist (against DNS rebinding),
 * and CORS for one allowed origin. The health probes stay open (orchestrators call them without a
 * key and by IP). Nothing here is on by default except what a browser enforces itself: without
 * `corsOrigin`, no CORS headers are sent, so other sites' pages cannot read any answer.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HttpError } from './errors.js';

export interface AccessPolicy {
  readonly apiKey?: string;
  readonly allowedHosts?: readonly string[];
  readonly corsOrigin?: string;
}

export interface AccessControl {
  /** Throws 401 (no or wrong key) or 403 (Host not allowed). */
  check(req: IncomingMessage): void;
  /** CORS headers for a response to this request (empty unless its Origin is the allowed one). */
  corsHeaders(req: IncomingMessage): Record<string, string>;
  /** The answer to a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method), or null when it is not one we allow. */
  preflight(req: IncomingMessage): Record<string, string> | null;
}

/** The request headers a browser may send cross-origin after a preflight. */
const ALLOWED_HEADERS = 'Content-Type, Authorization, X-API-Key, Inference-Header-Content-Length, X-Request-Id';

const digest = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

function presentedKey(req: IncomingMessage): string | null {
  const auth = req.headers['authorization'];
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1]!;
  }
  const header = req.headers['x-api-key'];
  return typeof header === 'string' ? header.trim() : null;
}

export function createAccessControl(policy: AccessPolicy): AccessControl {
  if (policy.apiKey !== undefined && policy.apiKey.trim().length < 8) throw new Error('the API key must be at least 8 characters');
  // Compared as SHA-256 digests with a constant-time compare: equal lengths, no timing leak.
  const keyDigest = policy.apiKey === undefined ? null : digest(policy.apiKey.trim());
  const hosts = policy.allowedHosts?.map((h) => h.trim().toLowerCase()).filter((h) => h !== '');
  const origin = policy.corsOrigin?.replace(/\/+$/, '');
  if (origin !== undefined && !/^https?:\/\/[^/\s]+$/.test(origin)) {
    throw new Error(`the CORS origin must look like https://host[:port], got '${policy.corsOrigin}'`);
  }

  function hostAllowed(req: IncomingMessage): boolean {
    if (hosts === undefined || hosts.length === 0) return true;
    const host = (req.headers.host ?? '').trim().toLowerCase();
    const bare = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
    return hosts.includes(host) || hosts.includes(bare);
  }

  return {
    check(req) {
      if (!hostAllowed(req)) {
        throw new HttpError(403, `Host '${String(req.headers.host ?? '').slice(0, 100)}' is not allowed here (allowed-host)`);
      }
      if (keyDigest !== null) {
        const key = presentedKey(req);
        if (key === null) {
          throw new HttpError(401, 'an API key is required: send Authorization: Bearer KEY or X-API-Key: KEY', { 'WWW-Authenticate': 'Bearer' });
        }
        if (!timingSafeEqual(digest(key), keyDigest)) throw new HttpError(401, 'the API key is not valid', { 'WWW-Authenticate': 'Bearer' });
      }
    },
    corsHeaders(req): Record<string, string> {
      if (origin === undefined) return {};
      if (req.headers.origin !== origin) return { Vary: 'Origin' };
      return {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Expose-Headers': 'Inference-Header-Content-Length, Retry-After, X-Request-Id',
        Vary: 'Origin',
      };
    },
    preflight(req) {
      if (origin === undefined || req.method !== 'OPTIONS' || req.headers.origin !== origin) return null;
      if (req.headers['access-control-request-method'] === undefined) return null;
      return {
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': 'GET, HEAD, POST',
        'Access-Control-Allow-Headers': ALLOWED_HEADERS,
        'Access-Control-Max-Age': '600',
        Vary: 'Origin',
      };
    },
  };
}
