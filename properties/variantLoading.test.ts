import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadKernel } from '../src/cli/loadKernel';
import { main } from '../src/cli/main';
import { captureOutput } from './__helpers__/captureOutput';
import { REPO, writeTempVariant } from './__helpers__/tempVariant';

const io = captureOutput();
const fixture = (name: string): string => join(import.meta.dirname, 'fixtures', 'variants', name);
const failures = (): string => mkdtempSync(join(tmpdir(), 'mmcheck-variant-failures-'));
const counterexample = join(import.meta.dirname, 'fixtures', 'mutants', 'free-before-flush.json');

/** One line on stderr, no stack trace: what every refused variant must give. */
function expectOneLine(err: string): void {
  expect(err.trimEnd().split('\n')).toHaveLength(1);
  expect(err).not.toMatch(/\n\s+at /);
}

describe('a misspelled override', () => {
  it('is refused at load, naming the file, the method and the nearest kernel methods', async () => {
    const file = fixture('misspelledOverride.ts');
    expect(await main(['check', '--kernel', file, '--runs', '5', '--quiet', '--failures', failures()])).toBe(2);
    expectOneLine(io.err);
    expect(io.err).toContain(`variant ${file}: tlbRemoveFolioPageRaw() is no kernel method (closest: tlbRemoveFolioPagesRaw, `);
  });

  it('is told apart from helper methods, which load and run', async () => {
    expect(await main(['check', '--kernel', fixture('withHelpers.ts'), '--runs', '20', '--seed', '1', '--quiet', '--failures', failures()])).toBe(0);
    expect(io.out).toContain('HOLDS');
  });
});

describe('a variant that throws', () => {
  it('in its constructor: exit 2, one line with its file and line', async () => {
    const file = fixture('constructorThrows.ts');
    expect(await main(['check', '--kernel', file, '--no-typecheck', '--quiet'])).toBe(2);
    expect(io.err).toBe(`mmcheck: variant ${file}:9: constructor threw: Error: boom\n`);
  });
});

describe('variant names', () => {
  it('a registered kernel loads as itself, with no variant record', async () => {
    const k = await loadKernel('batched');
    expect(k.name).toBe('batched');
    expect(k.variant).toBeNull();
  });

  it('a variant that inherits `batched` runs under a derived name and is recorded as a variant', async () => {
    const file = fixture('inheritsName.ts');
    const k = await loadKernel(file, { typecheck: false });
    expect(k.name).toBe('batched+InheritsName');
    expect(k.variant).toEqual({ file, className: 'InheritsName' });
  });

  it("a variant may not take a registered mutant's name either", async () => {
    const file = fixture('claimsMutantName.ts');
    const k = await loadKernel(file, { typecheck: false });
    expect(k.name).toBe('free-before-flush+ClaimsMutantName');
    expect(k.variant).toEqual({ file, className: 'ClaimsMutantName' });
  });
});

describe('the type-check', () => {
  // Runs fine (the helpers are never called) but does not type-check: two errors, lines 5 and 8.
  const typeError = writeTempVariant(
    'typeError.ts',
    `import { BatchedKernel } from '${REPO}/models/batched/BatchedKernel';
export default class TypeError2 extends BatchedKernel {
  override readonly name: string = 'type-error';
  helper(): number {
    return 'one';
  }
  other(): string {
    return 1;
  }
}
`,
  );
  const commands: readonly (readonly string[])[] = [
    ['check', '--kernel', typeError, '--runs', '5', '--quiet', '--failures', failures()],
    ['replay', counterexample, '--kernel', typeError],
    ['explain', counterexample, '--kernel', typeError],
    ['cost', '--kernel', typeError, '--workload', 'zap-pte-mapped-thp'],
  ];

  it.each(commands)('%s refuses a variant with type errors, listing them as file:line:col', async (...argv) => {
    expect(await main(argv)).toBe(2);
    expect(io.err).not.toMatch(/\n\s+at /);
    const lines = io.err.trimEnd().split('\n');
    expect(lines[0]).toBe(`mmcheck: variant ${typeError} does not type-check (2 errors; --no-typecheck runs it anyway):`);
    expect(lines.slice(1)).toEqual([
      `${typeError}:5:5: Type 'string' is not assignable to type 'number'. (TS2322)`,
      `${typeError}:8:5: Type 'number' is not assignable to type 'string'. (TS2322)`,
    ]);
  });

  it.each(commands)('%s --no-typecheck runs it', async (...argv) => {
    // check: nothing fails, but the helpers are never called, so the verdict is NOT EXERCISED (5).
    expect(await main([...argv, '--no-typecheck'])).toBe(argv[0] === 'check' ? 5 : 0);
    expect(io.err).toBe('');
    expect(io.out).toContain('type-error');
  });

  it('reports a syntax error with its location', async () => {
    const file = writeTempVariant('syntax.ts', `import { BatchedKernel } from '${REPO}/models/batched/BatchedKernel';\nexport default class S extends BatchedKernel {\n  f(): number {\n    return 1 +;\n  }\n}\n`);
    expect(await main(['check', '--kernel', file])).toBe(2);
    expect(io.err).toContain(`${file}:4:15: Expression expected. (TS1109)`);
  });
});
