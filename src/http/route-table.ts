// The app's routes, read from the router: which route template a request belongs to when it was
// answered before its route handler ran (the maintenance guard, authentication with the database
// away, the rate limiter), so metrics and logs still carry `/api/swarms/:id`; which methods a
// path has (the Allow header of a 405); and the whole list (the fuzz suite's routes).
import { match, type MatchFunction } from 'path-to-regexp';

/** What router 2.3's public `listRoutes()` returns per registered path (Express 5's router). */
interface ListedRoute {
  path: string | RegExp;
  methods: string[] | undefined;
  router: Listable | undefined;
}

export interface Listable {
  listRoutes(): ListedRoute[];
}

export interface RouteEntry {
  /** The Express template, e.g. `/api/swarms/:id/events`. */
  path: string;
  /** Upper-case, sorted; HEAD wherever GET is. */
  methods: string[];
}

export interface RouteTable {
  /** The template of the first route that handles `method` on `path`, else undefined. */
  resolve(method: string, path: string): string | undefined;
  /** The methods some route serves `path` with, sorted (empty: no route has that path). */
  allowed(path: string): string[];
  /** Every route with all its methods (routes registered per method are merged). */
  list(): RouteEntry[];
}

interface Entry {
  template: string;
  methods: ReadonlySet<string>;
  matches: MatchFunction<object>;
}

function collect(router: Listable, prefix: string, out: Entry[]): void {
  for (const listed of router.listRoutes()) {
    // RegExp paths have no template to report; none are registered.
    if (typeof listed.path !== 'string') continue;
    const base = listed.path === '/' ? prefix : `${prefix}${listed.path}`;
    if (listed.router) {
      collect(listed.router, base, out);
      continue;
    }
    const template = base === '' ? '/' : base;
    // The same matching the router applies by default: case-insensitive, optional trailing slash.
    out.push({
      template,
      methods: new Set(listed.methods ?? []),
      matches: match(template.replace(/\/+$/, '') || '/', {
        decode: false,
        end: true,
        sensitive: false,
        trailing: true,
      }),
    });
  }
}

const PROTOHOST = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i;

/**
 * Reads the routes of `root()` on first use (after every route is registered) and matches a
 * request's path and method against them as the router would.
 */
export function createRouteTable(root: () => Listable): RouteTable {
  let cached: Entry[] | undefined;
  const entries = () =>
    (cached ??= (() => {
      const out: Entry[] = [];
      collect(root(), '', out);
      return out;
    })());
  // An absolute-form request target (`GET http://host/path`) is routed on its path.
  const pathOf = (rawPath: string) => rawPath.replace(PROTOHOST, '') || '/';
  const sorted = (methods: Iterable<string>) => [...new Set(methods)].sort();
  return {
    resolve(method, rawPath) {
      const path = pathOf(rawPath);
      const verb = method.toUpperCase();
      for (const entry of entries()) {
        if (!entry.methods.has(verb) && !entry.methods.has('*')) continue;
        if (entry.matches(path)) return entry.template;
      }
      return undefined;
    },
    allowed(rawPath) {
      const path = pathOf(rawPath);
      return sorted(entries().flatMap((e) => (e.matches(path) ? [...e.methods] : [])));
    },
    list() {
      const byTemplate = new Map<string, string[]>();
      for (const e of entries())
        byTemplate.set(e.template, [...(byTemplate.get(e.template) ?? []), ...e.methods]);
      return [...byTemplate].map(([path, methods]) => ({ path, methods: sorted(methods) }));
    },
  };
}
