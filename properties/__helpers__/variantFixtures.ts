import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The absolute path of a fixture variant (properties/fixtures/variants/<name>). */
export const variant = (name: string): string => join(import.meta.dirname, '..', 'fixtures', 'variants', name);

/** A fresh temporary folder (for --failures and scenario files). */
export const tmp = (): string => mkdtempSync(join(tmpdir(), 'mmcheck-verdict-'));
