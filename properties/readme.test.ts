import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { writeNewVariant } from '../src/variants/newVariant';
import { typecheckVariant } from '../src/variants/typecheckVariant';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureOutput } from './__helpers__/captureOutput';
import { main } from '../src/cli/main';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { runCheck } from '../src/check/runCheck';
import ZapWithoutFlush from './fixtures/variants/zapWithoutFlush';

// README.md's "Reading a counterexample", kept true: the command it names prints the lines it quotes.
const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const io = captureOutput();

/** The lines of the first unlabelled fenced block after `heading`. */
function quotedAfter(heading: string): string[] {
  const lines = readme.split('\n');
  let i = lines.indexOf(heading);
  if (i < 0) throw new Error(`README.md has no line ${JSON.stringify(heading)}`);
  while (i < lines.length && lines[i] !== '```') i++;
  const end = lines.indexOf('```', i + 1);
  if (i >= lines.length || end < 0) throw new Error(`README.md quotes no output after ${heading}`);
  return lines.slice(i + 1, end);
}

describe('README.md: Reading a counterexample', () => {
  const quoted = quotedAfter('## Reading a counterexample');

  it('names the command it quotes: zap-without-flush, seed 1', () => {
    expect(readme).toContain('`npx mmcheck check --kernel properties/fixtures/variants/zapWithoutFlush.ts --seed 1`');
    expect(quoted[0]).toBe('FAILED: free_with_stale_tlb at step 1: pfn=1 cpu=0 mm=0 vpn=21 (in kernel zap-without-flush)');
    expect(quoted[1]).toBe('counterexample: 2 ops, shrunk from 60 in 14 steps');
  });

  it('seed 1 gives free_with_stale_tlb on the 2-op load-then-zap the README reads', () => {
    const r = runCheck({ kernel: () => new ZapWithoutFlush(), reference: () => new ReferenceKernel(), geometry: geometry('small'), runs: 2000, seed: 1, maxOps: 60 });
    expect(r.failure?.outcome.violation).toEqual({ code: 'free_with_stale_tlb', step: 1, pfn: 1, cpu: 0, mm: 0, vpn: 21 });
    expect(r.failure?.originalLength).toBe(60);
    expect(r.failure?.numShrinks).toBe(14);
    expect(r.failure?.ops).toEqual([
      { kind: 'access', cpu: 0, mm: 0, vpn: 21, write: false },
      { kind: 'zap', mm: 0, vpn: 21, nr: 1 },
    ]);
  });

  it('`mmcheck check` prints every line the README quotes, and exits 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-readme-'));
    const variant = join(root, 'properties', 'fixtures', 'variants', 'zapWithoutFlush.ts');
    expect(await main(['check', '--kernel', variant, '--seed', '1', '--failures', dir])).toBe(1);
    const printed = new Set(io.out.split(dir).join('.mmcheck/failures').split('\n'));
    expect(quoted.length).toBeGreaterThan(5);
    for (const line of quoted) expect(printed, `quoted line not printed: ${line}`).toContain(line);
  });
});

describe('README.md: Checking a patch: variants', () => {
  /** The ```ts block that follows the new-variant command. */
  const snippet = (): string => {
    const m = /```ts\n(\/\/ variants\/my-patch\.ts, as new-variant writes it[^\n]*\n)([\s\S]*?)```/.exec(readme);
    if (m === null) throw new Error('README.md no longer shows variants/my-patch.ts');
    return m[2]!;
  };

  it('shows what `new-variant my-patch --override tlbRemoveFolioPagesRaw` writes, less its header comment', () => {
    const dir = join(root, 'variants', `.readme-${process.pid}`);
    const file = writeNewVariant({ name: 'my-patch', overrides: ['tlbRemoveFolioPagesRaw'], base: 'batched', dir });
    try {
      // Written one level deeper than variants/, so its imports climb one more level.
      const written = readFileSync(file, 'utf8').replace(/'\.\.\/\.\.\/models\//g, "'../models/").replace(/\n\/\*\*\n( \*[^\n]*\n)+ \*\/\n/, '\n');
      expect(written).toBe(snippet());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('its `name` idiom type-checks in a variant that extends another variant', () => {
    mkdirSync(join(root, 'variants'), { recursive: true });
    const dir = mkdtempSync(join(root, 'variants', '.readme-'));
    try {
      writeFileSync(join(dir, 'my-patch.ts'), snippet().replace(/'\.\.\/models\//g, "'../../models/"));
      const v2 = join(dir, 'my-patch-v2.ts');
      writeFileSync(v2, "import MyPatch from './my-patch';\n\nexport default class MyPatchV2 extends MyPatch {\n  override readonly name: string = 'my-patch-v2';\n}\n");
      expect(() => typecheckVariant(v2)).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
