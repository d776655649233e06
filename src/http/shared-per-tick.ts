// Identical reads that arrive in one turn of the event loop share one computation. It starts
// after the last of them arrived (on setImmediate, once the poll phase has read every request
// that was waiting), so each caller still sees every write committed before it asked; a request
// arriving once it has started gets a computation of its own.
export function sharedPerTick<A, T>(
  keyOf: (arg: A) => string,
  compute: (arg: A) => Promise<T>,
): (arg: A) => Promise<T> {
  const gathering = new Map<string, Promise<T>>();
  return function shared(arg) {
    const key = keyOf(arg);
    let result = gathering.get(key);
    if (!result) {
      result = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        gathering.delete(key);
        return compute(arg);
      });
      gathering.set(key, result);
    }
    return result;
  };
}
