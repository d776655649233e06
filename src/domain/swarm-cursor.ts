// The swarm listing's cursor: base64url of `<instant>|<swarm id>`, the instant in UTC to the
// microsecond as PostgreSQL keeps created_at (a millisecond Date would skip the swarms created
// later in the same millisecond than a page's last). One codec for the store that makes it and
// the route that checks it: anything it refuses is a 400, never a database error.

const INSTANT = /^[1-9]\d{3}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SwarmCursor {
  /** `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` */
  readonly at: string;
  readonly id: string;
}

export const encodeSwarmCursor = (c: SwarmCursor): string =>
  Buffer.from(`${c.at}|${c.id}`).toString('base64url');

export function decodeSwarmCursor(text: string): SwarmCursor | undefined {
  if (!/^[A-Za-z0-9_-]{1,500}$/.test(text)) return undefined;
  const [at, id, ...rest] = Buffer.from(text, 'base64url').toString('utf8').split('|');
  if (rest.length || !at || !id || !INSTANT.test(at) || !UUID.test(id)) return undefined;
  // A real instant: Date reads 02-30 or 24:00 as another day, which PostgreSQL refuses.
  const ms = Date.parse(at);
  if (Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 19) !== at.slice(0, 19))
    return undefined;
  return { at, id };
}
