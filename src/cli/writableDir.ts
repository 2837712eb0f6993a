import { existsSync, mkdirSync, rmdirSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from './usageError';

/**
 * Refuse an output folder (`--failures`, `--write-fixtures`) before the command runs: a check
 * that finds a failure and only then learns it cannot save it has lost what it ran for. The
 * folder is created and a probe file written and removed; folders created for the probe are
 * removed again (the first real write recreates them), so a run that saves nothing leaves nothing.
 */
export function checkWritableDir(flag: string, dir: string): void {
  const refuse = (why: string): never => {
    throw new UsageError(`${flag} '${dir}' ${why}; give a folder mmcheck can create and write to`);
  };
  // '' is never meant: joined with a file name it would save into '/'.
  if (dir === '') refuse('is empty');
  const abs = resolve(dir);
  if (existsSync(abs) && !statSync(abs).isDirectory()) refuse('is a file, not a folder');
  const created: string[] = [];
  try {
    makeDirs(abs, created);
    const probe = join(abs, `.mmcheck-write-probe-${process.pid}`);
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (e) {
    refuse(reason(e));
  } finally {
    for (const d of created.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // Not empty: someone else has written there meanwhile, so it is no longer ours to remove.
      }
    }
  }
}

/**
 * mkdir -p, one level at a time, recording what it created. Not mkdirSync's `recursive`: for a
 * path under /proc that call never returns (it takes ENOENT for a missing parent and retries).
 */
function makeDirs(dir: string, created: string[]): void {
  const missing: string[] = [];
  for (let d = dir; !existsSync(d) && dirname(d) !== d; d = dirname(d)) missing.push(d);
  for (const d of missing.reverse()) {
    mkdirSync(d);
    created.push(d);
  }
}

function reason(e: unknown): string {
  const code = e instanceof Error && 'code' in e && typeof e.code === 'string' ? e.code : String(e);
  switch (code) {
    case 'ENOTDIR':
      return 'is inside a file, not a folder (ENOTDIR)';
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return `is not writable (${code})`;
    default:
      return `cannot be created or written (${code})`;
  }
}
