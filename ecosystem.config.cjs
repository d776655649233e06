// PM2 (the guide's "PM2 or Kubernetes"): the API replicas (`cfn serve`) in cluster mode sharing
// PORT, reloaded one at a time (`pm2 reload claude-flow-novice`; test/deploy/pm2-reload.test.ts
// runs it under load and sees no request fail), and the workers (`cfn worker`).
// Both need DATABASE_URL and REDIS_URL in the environment of `pm2 start ecosystem.config.cjs`
// (with the other settings of README "Configuration"); build first: npm ci. PORT (default 3000)
// is the API's port, CFN_WORKER_PORT (default 3101) the first worker's.
// The service does not call process.send('ready'): PM2 takes a cluster instance as up when it
// listens (listen_timeout is the fallback), so there is no wait_ready. PM2 stops a process with
// SIGINT (its daemon's PM2_KILL_SIGNAL), which the service handles as it does SIGTERM.
// Logs: the service writes to file descriptor 1, which PM2's cluster mode does not capture (the
// lines end up in PM2's own pm2.log), so the API instances also write LOG_DIR/app.log (default
// ./logs); the workers (fork mode) are in `pm2 logs claude-flow-novice-worker`.
const path = require('node:path');

const API = { SHUTDOWN_TIMEOUT_MS: 10000, SHUTDOWN_DRAIN_MS: 0 };
const WORKER = { SHUTDOWN_TIMEOUT_MS: 60000, SHUTDOWN_DRAIN_MS: 0 };

/** How long PM2 waits after SIGTERM before SIGKILL: drain, requests, agent tasks, margin. */
const killTimeout = (s) => s.SHUTDOWN_DRAIN_MS + 2 * s.SHUTDOWN_TIMEOUT_MS + 5000;
const asEnv = (s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, String(v)]));

module.exports = {
  apps: [
    {
      name: 'claude-flow-novice',
      script: 'dist/main/bin.js',
      args: 'serve',
      cwd: __dirname,
      exec_mode: 'cluster',
      instances: 2,
      kill_timeout: killTimeout(API),
      listen_timeout: 30000,
      max_restarts: 10,
      min_uptime: 10000,
      time: true,
      env: {
        NODE_ENV: 'production',
        PORT: process.env.PORT ?? '3000',
        LOG_DIR: process.env.LOG_DIR ?? path.join(__dirname, 'logs'),
        ...asEnv(API),
      },
    },
    {
      name: 'claude-flow-novice-worker',
      script: 'dist/main/bin.js',
      args: 'worker',
      cwd: __dirname,
      exec_mode: 'fork',
      instances: 2,
      // Each worker serves /health and /metrics on its own port: 3101, 3102, ...
      increment_var: 'PORT',
      kill_timeout: killTimeout(WORKER),
      max_restarts: 10,
      min_uptime: 10000,
      time: true,
      env: {
        NODE_ENV: 'production',
        PORT: process.env.CFN_WORKER_PORT ?? '3101',
        ...asEnv(WORKER),
      },
    },
  ],
};
