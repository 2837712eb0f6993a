import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * mmcheck's package root (its package.json, models/, src/, node_modules/), found by walking up from
 * this module: the same answer whether the code runs from the sources (src/packageRoot.ts) or from
 * the built CLI (dist/cli/cli.mjs), where a fixed `../../` would point elsewhere.
 */
function findRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: unknown }).name === 'mmcheck') return `${dir}/`;
    if (dirname(dir) === dir) throw new Error(`mmcheck's package.json is not above ${fileURLToPath(import.meta.url)}`);
  }
}

export const PACKAGE_ROOT: string = findRoot();
