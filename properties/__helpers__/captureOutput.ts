import { afterEach, beforeEach, vi } from 'vitest';

/** What the CLI wrote during one test. */
export interface CapturedOutput {
  out: string;
  err: string;
}

/**
 * Capture process.stdout / process.stderr for every test of the enclosing describe (or file):
 * the CLI prints through them, and the tests assert on what a user would see.
 */
export function captureOutput(): CapturedOutput {
  const captured: CapturedOutput = { out: '', err: '' };
  beforeEach(() => {
    captured.out = '';
    captured.err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      captured.out += String(s);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      captured.err += String(s);
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());
  return captured;
}
