// After tsc: copy the SQL migrations and the built-in agent library next to the compiled code,
// record the build's commit, and make the cfn executable runnable.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

fs.rmSync('dist/adapters/db/migrations', { recursive: true, force: true });
fs.cpSync('src/adapters/db/migrations', 'dist/adapters/db/migrations', { recursive: true });
fs.rmSync('dist/agents/library', { recursive: true, force: true });
fs.cpSync('src/agents/library', 'dist/agents/library', { recursive: true });

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .toString()
    .trim();
} catch {
  // not a git checkout (e.g. a container build without .git): keep "unknown"
}
fs.writeFileSync(
  'dist/build-info.json',
  JSON.stringify({ commit, builtAt: new Date().toISOString() }) + '\n',
);
fs.chmodSync('dist/main/bin.js', 0o755);
