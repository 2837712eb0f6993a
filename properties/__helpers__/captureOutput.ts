import { stripVTControlCharacters } from 'node:util';
import { afterEach, beforeEach, vi } from 'vitest';

/** What the CLI wrote during one test. */
export interface CapturedOutput {
  out: string;
  err: string;
}

/**
 * Capture process.stdout / process.stderr for every test of the enclosing describe (or file):
 * the CLI prints through them, and the tests assert on what a user would see — the text, with
 * colour codes taken out (picocolors colours output whenever CI is set, as it is in .ci/run).
 */
export function captureOutput(): CapturedOutput {
  const captured: CapturedOutput = { out: '', err: '' };
  beforeEach(() => {
    captured.out = '';
    captured.err = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
      captured.out += stripVTControlCharacters(String(s));
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      captured.err += stripVTControlCharacters(String(s));
      return true;
    });
  });
  afterEach(() => vi.restoreAllMocks());
  return captured;
}
