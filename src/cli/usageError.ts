/** Bad input from the user (unknown kernel, geometry, flag, malformed file): exit 2 with this message, never a stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
