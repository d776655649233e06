// Worker threads of the code under test (the PGlite worker) are TypeScript when run from the
// sources. Node 20 gives a worker no loader registered on the main thread, but it does run the
// --import preloads of its process (vitest's execArgv) in every worker: register tsx there.
import { isMainThread } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

if (!isMainThread) register();
