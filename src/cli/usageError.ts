/** Bad input from the user (unknown kernel, geometry, flag, malformed file): exit 2 with this message, never a stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * Read a user's file with `read`; an error of class `Bad` (the reader's "this file is wrong")
 * becomes a UsageError with the same one-line message, anything else propagates.
 */
export function readAsUsage<T>(read: () => T, Bad: abstract new (...args: never[]) => Error): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof Bad) throw new UsageError(e.message);
    throw e;
  }
}
