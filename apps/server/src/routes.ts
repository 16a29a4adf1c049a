/** Maps a method and path to a route; paths follow the Open Inference Protocol v2 REST layout. */

export type Route =
  | { readonly kind: 'page' }
  | { readonly kind: 'metrics' }
  | { readonly kind: 'predict' }
  | { readonly kind: 'server-metadata' }
  | { readonly kind: 'live' }
  | { readonly kind: 'ready' }
  | { readonly kind: 'model-metadata'; readonly model: string; readonly version: string | null }
  | { readonly kind: 'model-ready'; readonly model: string; readonly version: string | null }
  | { readonly kind: 'model-config'; readonly model: string; readonly version: string | null }
  | { readonly kind: 'infer'; readonly model: string; readonly version: string | null }
  | { readonly kind: 'not-found' };

/** The label a route gets in metrics and logs (no model names: bounded cardinality). */
export function routeLabel(route: Route): string {
  switch (route.kind) {
    case 'page':
      return '/';
    case 'metrics':
      return '/metrics';
    case 'predict':
      return '/predict';
    case 'server-metadata':
      return '/v2';
    case 'live':
      return '/v2/health/live';
    case 'ready':
      return '/v2/health/ready';
    case 'model-metadata':
      return '/v2/models/{name}';
    case 'model-ready':
      return '/v2/models/{name}/ready';
    case 'model-config':
      return '/v2/models/{name}/config';
    case 'infer':
      return '/v2/models/{name}/infer';
    case 'not-found':
      return 'unmatched';
  }
}

/** The methods a route answers. */
export function allowedMethods(route: Route): readonly string[] {
  switch (route.kind) {
    case 'predict':
    case 'infer':
      return ['POST'];
    case 'not-found':
      return [];
    default:
      return ['GET', 'HEAD'];
  }
}

function decode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

export function matchRoute(pathname: string): Route {
  const path = pathname.length > 1 && pathname.endsWith('/') ? pathname.slice(0, -1) : pathname;
  switch (path) {
    case '/':
    case '/index.html':
      return { kind: 'page' };
    case '/metrics':
      return { kind: 'metrics' };
    case '/predict':
      return { kind: 'predict' };
    case '/v2':
      return { kind: 'server-metadata' };
    case '/v2/health/live':
      return { kind: 'live' };
    case '/v2/health/ready':
      return { kind: 'ready' };
  }
  const parts = path.split('/').slice(1);
  if (parts[0] !== 'v2' || parts[1] !== 'models' || parts.length < 3) return { kind: 'not-found' };
  const model = decode(parts[2]!);
  if (model === null || model === '') return { kind: 'not-found' };
  let rest = parts.slice(3);
  let version: string | null = null;
  if (rest[0] === 'versions') {
    if (rest.length < 2) return { kind: 'not-found' };
    version = decode(rest[1]!);
    if (version === null) return { kind: 'not-found' };
    rest = rest.slice(2);
  }
  if (rest.length === 0) return { kind: 'model-metadata', model, version };
  if (rest.length === 1 && rest[0] === 'ready') return { kind: 'model-ready', model, version };
  if (rest.length === 1 && rest[0] === 'infer') return { kind: 'infer', model, version };
  if (rest.length === 1 && rest[0] === 'config') return { kind: 'model-config', model, version };
  return { kind: 'not-found' };
}
