import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { tscScript } from '../variants/typecheckVariant';

/**
 * `npm run build` (and `npm pack`, through prepack): the library as plain ES modules in dist/,
 * for projects that import mmcheck without a TypeScript loader. One bundle per entry of
 * package.json's `exports`, sharing chunks, so `mmcheck` and `mmcheck/vitest` see the same kernel
 * classes (runCheck decides "checked alone" by class identity); dependencies stay imports. Then
 * the declarations, from the sources, with tsc.
 */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = `${ROOT}dist`;

rmSync(OUT, { recursive: true, force: true });
await build({
  absWorkingDir: ROOT,
  entryPoints: { index: 'src/lib/index.ts', vitest: 'src/lib/vitest.ts' },
  outdir: OUT,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
});
execFileSync(process.execPath, [tscScript(), '-p', `${ROOT}tsconfig.lib.json`], { stdio: 'inherit' });
console.log(`built ${OUT}: index.js, vitest.js and their declarations`);
