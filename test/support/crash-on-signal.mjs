// Preloaded into a spawned `cfn` (NODE_OPTIONS=--import) by the crash tests: on SIGUSR2 the
// process throws an uncaught exception, or leaves a promise rejection unhandled when
// CFN_TEST_CRASH=rejection, as a bug in the service would.
process.on('SIGUSR2', () => {
  if (process.env.CFN_TEST_CRASH === 'rejection')
    void Promise.reject(new Error('injected rejection'));
  else throw new Error('injected crash');
});
