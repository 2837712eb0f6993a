/**
 * An exception that is not bad input — a bug in mmcheck or in a variant, or a failing system
 * call — ends with this code, so a script never takes a crash for a verdict (1: a failure was
 * found) or for a typo (2).
 */
export const INTERNAL_ERROR_EXIT = 3;

/** One line on stderr; the stack only with --debug (it helps whoever debugs mmcheck or a variant, and buries the message for everyone else). */
export function reportInternalError(e: unknown, debug: boolean): number {
  const message = e instanceof Error ? e.message : String(e);
  process.stderr.write(`mmcheck: internal error: ${message.split('\n')[0]}\n`);
  if (debug && e instanceof Error && e.stack !== undefined) process.stderr.write(`${e.stack}\n`);
  return INTERNAL_ERROR_EXIT;
}
