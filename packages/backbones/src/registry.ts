/**
 * Backbones by id. A registry is a plain object, so tests can make their own; the package's
 * default registry holds the built-in backbones and whatever `registerBackbone` adds.
 */
import type { Backbone } from './backbone.js';
import { EFFICIENTNETS } from './efficientnet.js';
import { MOBILENET_V2 } from './mobilenet-v2.js';
import { RESNETS } from './resnet.js';

export interface BackboneRegistry {
  get(id: string): Backbone;
  has(id: string): boolean;
  list(): Backbone[];
  /** Adds a backbone; an id already taken is an error unless `replace` is set. */
  register(backbone: Backbone, options?: { replace?: boolean }): void;
}

export function createBackboneRegistry(initial: readonly Backbone[] = []): BackboneRegistry {
  const byId = new Map<string, Backbone>();
  const registry: BackboneRegistry = {
    get(id) {
      const bb = byId.get(id);
      if (!bb) throw new Error(`unknown backbone "${id}"; available: ${[...byId.keys()].join(', ')}`);
      return bb;
    },
    has: (id) => byId.has(id),
    list: () => [...byId.values()],
    register(backbone, options = {}) {
      if (!backbone.id) throw new Error('registerBackbone: a backbone needs a non-empty id');
      if (byId.has(backbone.id) && !options.replace) {
        throw new Error(`backbone "${backbone.id}" is already registered (pass { replace: true } to replace it)`);
      }
      const names = backbone.taps.map((t) => t.name);
      const dup = names.find((n, i) => names.indexOf(n) !== i);
      if (dup) throw new Error(`backbone "${backbone.id}": tap "${dup}" is listed twice`);
      const missing = backbone.defaultTaps.filter((t) => !names.includes(t));
      if (missing.length > 0) throw new Error(`backbone "${backbone.id}": default taps ${missing.join(', ')} are not among its taps (${names.join(', ')})`);
      byId.set(backbone.id, backbone);
    },
  };
  for (const bb of initial) registry.register(bb);
  return registry;
}

export const BUILTIN_BACKBONES: readonly Backbone[] = [...EFFICIENTNETS, ...RESNETS, MOBILENET_V2];

const defaultRegistry = createBackboneRegistry(BUILTIN_BACKBONES);

/** The backbone with this id; an unknown id is an error listing the available ones. */
export function getBackbone(id: string): Backbone {
  return defaultRegistry.get(id);
}

export function listBackbones(): Backbone[] {
  return defaultRegistry.list();
}

/** Adds a user backbone to the default registry. */
export function registerBackbone(backbone: Backbone, options?: { replace?: boolean }): void {
  defaultRegistry.register(backbone, options);
}
