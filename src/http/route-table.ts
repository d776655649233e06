// Which route template a request belongs to when it was answered before its route handler ran
// (the maintenance guard, authentication with the database away, the rate limiter): metrics and
// logs then still carry `/api/swarms/:id`, and only a request no route matches is `unmatched`.
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

export interface RouteTable {
  /** The template of the first route that handles `method` on `path`, else undefined. */
  resolve(method: string, path: string): string | undefined;
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
  let entries: Entry[] | undefined;
  return {
    resolve(method, rawPath) {
      entries ??= (() => {
        const out: Entry[] = [];
        collect(root(), '', out);
        return out;
      })();
      // An absolute-form request target (`GET http://host/path`) is routed on its path.
      const path = rawPath.replace(PROTOHOST, '') || '/';
      const verb = method.toUpperCase();
      for (const entry of entries) {
        if (!entry.methods.has(verb) && !entry.methods.has('*')) continue;
        if (entry.matches(path)) return entry.template;
      }
      return undefined;
    },
  };
}
