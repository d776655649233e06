// Closing an HTTP server without resetting a request that is on its way. Node's server.close()
// also destroys every keep-alive connection that is idle at that instant, and one idle in Node's
// eyes may already hold the client's next request, unread: that client gets a reset
// (ECONNRESET), not an answer. Here, once closing, the listener stops taking connections (in a
// PM2 cluster, the master sends them to the other instances), every answer not yet started says
// `Connection: close` (the client's next request goes on a new connection, so elsewhere), and a
// connection is closed only once it has been quiet (no request in progress, nothing read) for
// QUIET_MS, time for a request already sent to arrive and be answered.
import http from 'node:http';
import net from 'node:net';

/** How long a connection must have been quiet before closing it ends it. */
export const QUIET_MS = 200;

interface Tracked {
  active: number;
  quietSince: number;
  bytesRead: number;
}

export interface GracefulClose {
  /** Stops accepting connections; resolves once every connection has ended. */
  close(): Promise<void>;
  /** Ends every connection that has been quiet for `quietMs` (call it again and again). */
  closeQuiet(now?: number): void;
}

export function gracefulClose(server: http.Server, quietMs = QUIET_MS): GracefulClose {
  const sockets = new Map<net.Socket, Tracked>();
  const unanswered = new Set<http.ServerResponse>();
  let closing = false;
  server.on('connection', (socket: net.Socket) => {
    sockets.set(socket, { active: 0, quietSince: Date.now(), bytesRead: 0 });
    socket.once('close', () => sockets.delete(socket));
  });
  // Before the app's listener, so that the app never starts an answer without the header.
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const t = sockets.get(req.socket as net.Socket);
    if (t) t.active += 1;
    if (closing) res.setHeader('Connection', 'close');
    else unanswered.add(res);
    res.once('close', () => {
      unanswered.delete(res);
      if (!t) return;
      t.active -= 1;
      t.quietSince = Date.now();
      t.bytesRead = req.socket.bytesRead;
    });
  });
  return {
    close() {
      closing = true;
      for (const res of unanswered) if (!res.headersSent) res.setHeader('Connection', 'close');
      unanswered.clear();
      // net.Server's close: it stops the listener and leaves the connections be (http.Server's
      // would destroy the idle ones at once, see above).
      return new Promise((resolve) => net.Server.prototype.close.call(server, () => resolve()));
    },
    closeQuiet(now = Date.now()) {
      for (const [socket, t] of sockets) {
        if (t.active > 0) continue;
        if (socket.bytesRead !== t.bytesRead) {
          // A request is arriving: it gets its answer (with Connection: close).
          t.bytesRead = socket.bytesRead;
          t.quietSince = now;
        } else if (now - t.quietSince >= quietMs) socket.destroy();
      }
    },
  };
}
