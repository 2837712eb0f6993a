import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The repository root, for variants outside it that import its models by absolute path. */
export const REPO = join(import.meta.dirname, '..', '..');

/**
 * Write a variant into a fresh temp dir (no package.json anywhere above it, as for a reviewer's
 * scratch file) and return its absolute path. `source` may depend on the dir (for relative
 * imports). Variants that must not type-check live here rather than under fixtures/, where
 * `tsc -p .` would check them too.
 */
export function writeTempVariant(fileName: string, source: string | ((dir: string) => string)): string {
  const dir = mkdtempSync(join(tmpdir(), 'mmcheck-variant-'));
  const file = join(dir, fileName);
  writeFileSync(file, typeof source === 'string' ? source : source(dir));
  return file;
}
