#!/usr/bin/env node
// The mmcheck command. It runs the built CLI (dist/cli/cli.mjs, `npm run build`, run by `npm ci`)
// while that build is newer than every source file; otherwise, or when the command loads a user's
// TypeScript file (a variant, a cost workload: src/cli/sourceMode.ts), it registers tsx and runs
// the sources, which also load variant .ts files directly.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = join(root, 'dist', 'cli', 'cli.mjs');

/** The newest modification time of the files under `dir` (0 when it does not exist). */
function newest(dir) {
  let t = 0;
  for (const e of existsSync(dir) ? readdirSync(dir, { withFileTypes: true, recursive: true }) : []) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath, e.name)).mtimeMs);
  }
  return t;
}

/** Use the build: it exists, MMCHECK_SOURCES is not set, and no source changed since it was made. */
function buildIsFresh() {
  if (process.env.MMCHECK_SOURCES === '1' || !existsSync(built)) return false;
  const t = statSync(built).mtimeMs;
  return ['src', 'models'].every((d) => newest(join(root, d)) <= t);
}

async function fromSources(argv) {
  const { register: registerHooks } = await import('node:module');
  const { register } = await import('tsx/esm/api');
  register();
  // After tsx, so its hooks load this .ts file: variant .ts files load as ES modules wherever they are.
  registerHooks(new URL('../src/variants/esmHooks.ts', import.meta.url));
  const { main } = await import('../src/cli/main.ts');
  const { ignoreClosedOutput } = await import('../src/cli/closedOutput.ts');
  ignoreClosedOutput();
  return main(argv);
}

async function fromBuild(argv) {
  const cli = await import(built);
  cli.markRunningFromBuild();
  cli.ignoreClosedOutput();
  try {
    return await cli.main(argv);
  } catch (e) {
    // The build met a user's TypeScript file before doing anything: run the command from the sources.
    if (e instanceof Error && e.name === 'NeedsSourcesError') return fromSources(argv);
    throw e;
  }
}

const argv = process.argv.slice(2);
const code = buildIsFresh() ? await fromBuild(argv) : await fromSources(argv);
// An interrupted check (130) has printed its summary; die by SIGINT as a shell expects.
if (code === 130) process.kill(process.pid, 'SIGINT');
process.exitCode = code;
