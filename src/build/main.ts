import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { BuildOptions } from 'esbuild';
import { build } from 'esbuild';
import { PACKAGE_ROOT } from '../packageRoot';
import { tscScript } from '../variants/typecheckVariant';

/**
 * `npm run build` (run by `npm ci`/`npm install` through prepare, and by `npm pack`):
 *
 * - dist/index.js, dist/vitest.js: the library as plain ES modules, one bundle per entry of
 *   package.json's `exports`, sharing chunks so `mmcheck` and `mmcheck/vitest` see the same kernel
 *   classes (a check decides "checked alone" by class identity); dependencies stay imports; then
 *   the declarations, from the sources, with tsc.
 * - dist/cli/cli.mjs and dist/cli/worker/entry.mjs: the CLI and its check worker, so a command
 *   starts without compiling the sources (bin/mmcheck.js uses them while they are newer than every
 *   source file).
 *
 * Every file is written beside its place and renamed over it, and files of an earlier build that
 * this one did not write are removed afterwards: a CLI starting (or a check's worker loading) while
 * a build runs — the test suite packs the package while other tests run the CLI — reads a whole
 * file of one build or the other, both made from the same sources.
 */
const OUT = join(PACKAGE_ROOT, 'dist');

const common: BuildOptions = {
  absWorkingDir: PACKAGE_ROOT,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning',
  write: false,
};

const library = await build({ ...common, entryPoints: { index: 'src/lib/index.ts', vitest: 'src/lib/vitest.ts' }, outdir: OUT, splitting: true, chunkNames: 'chunks/[name]-[hash]' });
// No splitting: the worker's URL is resolved against cli.mjs's own (src/check/supervise.ts).
const cli = await build({ ...common, entryPoints: { cli: 'src/cli/buildEntry.ts', 'worker/entry': 'src/check/worker/checkWorker.ts' }, outdir: join(OUT, 'cli'), outExtension: { '.js': '.mjs' } });

const written = new Set<string>();
function put(path: string, contents: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
  written.add(path);
}
for (const f of [...(library.outputFiles ?? []), ...(cli.outputFiles ?? [])]) put(f.path, f.contents);

// The declarations: tsc writes them to a scratch directory, then they are moved in the same way.
const scratch = join(OUT, `.types-${process.pid}`);
execFileSync(process.execPath, [tscScript(), '-p', join(PACKAGE_ROOT, 'tsconfig.lib.json'), '--outDir', scratch], { stdio: 'inherit' });
const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
for (const f of walk(scratch)) {
  const to = join(OUT, 'types', relative(scratch, f));
  mkdirSync(dirname(to), { recursive: true });
  renameSync(f, to);
  written.add(to);
}
rmSync(scratch, { recursive: true, force: true });

// Another build's files in flight (.tmp, .types-*) are left alone.
for (const f of walk(OUT)) if (!written.has(f) && !f.endsWith('.tmp') && !f.includes('/.types-')) rmSync(f);
console.log(`built ${relative(process.cwd(), OUT) || OUT}: the library (index.js, vitest.js, types/) and the CLI (cli/cli.mjs, cli/worker/entry.mjs)`);
