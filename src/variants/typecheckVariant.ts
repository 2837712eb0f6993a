import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../packageRoot';
import { UsageError } from '../cli/usageError';
import { formatDiagnostic, parseTscDiagnostics } from './tscDiagnostics';

/** The mmcheck package root: its tsconfig and its typescript, wherever the user runs the CLI from. */
const ROOT = PACKAGE_ROOT;

/** How many errors the message lists; the rest are counted. */
const SHOWN = 5;

/** The tsc script of the typescript package mmcheck depends on (TypeScript 7 has no compiler API to call). */
export function tscScript(): string {
  const req = createRequire(join(ROOT, 'package.json'));
  const pkgFile = req.resolve('typescript/package.json');
  const pkg: unknown = JSON.parse(readFileSync(pkgFile, 'utf8'));
  const bin = typeof pkg === 'object' && pkg !== null && 'bin' in pkg ? pkg.bin : undefined;
  const tsc = typeof bin === 'string' ? bin : typeof bin === 'object' && bin !== null && 'tsc' in bin ? bin.tsc : undefined;
  if (typeof tsc !== 'string') throw new UsageError(`cannot type-check variants: ${pkgFile} names no tsc binary; pass --no-typecheck`);
  return join(dirname(pkgFile), tsc);
}

/**
 * A tsconfig for the variant alone: the project's options (strict and the rest), with
 * - typeRoots pinned to mmcheck's @types, since the config lives in a temp dir where `types: ["node"]` would not resolve;
 * - `.ts` import suffixes allowed, since tsx loads them (`import … from '/repo/models/batched/BatchedKernel.ts'`);
 * - unused locals and parameters allowed: dead code in a patch under review does not make the model wrong.
 */
function variantTsconfig(file: string): string {
  const config = {
    extends: join(ROOT, 'tsconfig.json'),
    compilerOptions: {
      typeRoots: [join(ROOT, 'node_modules', '@types')],
      allowImportingTsExtensions: true,
      noUnusedLocals: false,
      noUnusedParameters: false,
      noEmit: true,
    },
    // Absolute: tsc reads `files` relative to the temp dir.
    files: [resolve(file)],
    include: [],
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * Type-check a variant file against mmcheck's types with mmcheck's tsc before it runs: a wrong
 * signature or a misspelled `override` would otherwise run, or silently not run, unnoticed.
 * `what` names the file in messages (a variant, a cost workload). Throws a UsageError listing the first errors as `file:line:col: message`.
 */
export function typecheckVariant(file: string, what = 'variant'): void {
  const dir = mkdtempSync(join(tmpdir(), 'mmcheck-typecheck-'));
  try {
    const config = join(dir, 'tsconfig.json');
    writeFileSync(config, variantTsconfig(file));
    const r = spawnSync(process.execPath, [tscScript(), '-p', config, '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
    if (r.status === 0) return;
    const output = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    const errors = parseTscDiagnostics(output, dir);
    if (errors.length === 0) {
      const why = r.error?.message ?? output.split('\n').find((l) => l.trim() !== '') ?? `tsc exited with ${String(r.status ?? r.signal)}`;
      throw new UsageError(`cannot type-check ${what} ${file}: ${why.trim()}; pass --no-typecheck to run it unchecked`);
    }
    const n = errors.length;
    const more = n > SHOWN ? [`… and ${n - SHOWN} more`] : [];
    throw new UsageError(
      [`${what} ${file} does not type-check (${n} error${n === 1 ? '' : 's'}; --no-typecheck runs it anyway):`, ...errors.slice(0, SHOWN).map(formatDiagnostic), ...more].join('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
