import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './__helpers__/runCli';
import { writeNewVariant } from '../src/variants/newVariant';
import { kernelMethodNames } from '../src/variants/kernelMethods';
import { typecheckVariant } from '../src/variants/typecheckVariant';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { runCheck } from '../src/check/runCheck';
import { geometry } from '../models/machine/geometry';
import { UsageError } from '../src/cli/usageError';

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'mmcheck-new-variant-'));

/** Every method new-variant can stub: all of the kernel's but the private helpers it refuses (each checked to be declared private). */
function overridable(base: 'batched' | 'reference', all: readonly string[], dir: string): string[] {
  try {
    writeNewVariant({ name: 'probe', overrides: all, base, dir });
    return [...all];
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const refused = [...e.message.matchAll(/(\w+)\(\)/g)].map((m) => m[1]!);
    expect(e.message).toMatch(/private in the model/);
    expect(refused.length).toBeGreaterThan(0);
    return all.filter((m) => !refused.includes(m));
  }
}

describe('new-variant writes stubs that type-check and change nothing', () => {
  it.each([
    ['batched', BatchedKernel],
    ['reference', ReferenceKernel],
  ] as const)('a %s variant overriding every kernel method it can type-checks and holds against the reference', async (base, Ctor) => {
    const dir = tempDir();
    const methods = overridable(base, [...kernelMethodNames(Ctor)], dir);
    expect(methods.length).toBeGreaterThan(200);
    const file = writeNewVariant({ name: `every-${base}-method`, overrides: methods, base, dir });
    const text = readFileSync(file, 'utf8');
    expect(text.match(/^ {2}(protected )?override (?!readonly )\w+/gm)).toHaveLength(methods.length);
    expect(text).toContain("override readonly name: string = 'every-" + base + "-method';");
    // The stubs carry the first sentence of the model's doc comments, most of which name the kernel function mirrored.
    const mirrors = text.match(/^ {3}\* Mirrors `\w+\(\)`/gm) ?? [];
    expect(mirrors.length).toBeGreaterThan(methods.length / 2);
    expect(() => typecheckVariant(file)).not.toThrow();
    const mod = (await import(file)) as { default: new () => ReferenceKernel };
    const r = runCheck({ kernel: () => new mod.default(), geometry: geometry('small'), runs: 150, seed: 3, maxOps: 40 });
    expect(r.failure).toBeNull();
    expect(r.flaky).toBeNull();
  }, 120_000);
});

describe('mmcheck new-variant', () => {
  it('writes variants/<name>.ts in the current directory, says how to check it, and never overwrites', async () => {
    const cwd = tempDir();
    const r = await runCli(['new-variant', 'my-patch', '--override', 'tlbFlushMmu', 'zapPteRange'], cwd);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toBe("wrote variants/my-patch.ts: 2 overrides of batched that call the kernel's own; edit them into the patch\ncheck it: npx mmcheck check --kernel variants/my-patch.ts\n");
    const file = join(cwd, 'variants', 'my-patch.ts');
    const first = readFileSync(file, 'utf8');
    expect(first).toContain('export default class MyPatch extends BatchedKernel {');
    expect(first).toContain('  override tlbFlushMmu(m: Machine, tlb: MmuGather): void {\n    super.tlbFlushMmu(m, tlb);\n  }');
    const again = await runCli(['new-variant', 'my-patch', '--override', 'tlbFlushMmu'], cwd);
    expect(again.code).toBe(2);
    expect(again.err).toBe("mmcheck: variants/my-patch.ts exists; new-variant never overwrites a file (pick another name, or edit that one)\n");
    expect(readFileSync(file, 'utf8')).toBe(first);
  });

  it.each([
    [['new-variant', 'MyPatch', '--override', 'tlbFlushMmu'], "mmcheck: the variant name 'MyPatch' must be kebab-case: lowercase letters and digits in words joined by '-', e.g. my-patch\n"],
    [['new-variant', 'p', '--override', 'tlbFlushMmmu'], /^mmcheck: tlbFlushMmmu\(\) is no method of batched \(closest: tlbFlushMmu[^)]*\); docs\/extension-points.md lists them\n$/],
    [['new-variant', 'p'], 'mmcheck: give the kernel methods the patch changes: --override <method>… (docs/extension-points.md lists them)\n'],
    [['new-variant', 'p', '--override', 'tlbFlushMmu', '--base', 'nope'], /^mmcheck: --base takes a registered kernel \(reference, batched, [^)]*\), got 'nope'\n$/],
    [['new-variant', 'p', '--override', 'tlbFlushMmu', '--base', 'free-before-flush'], /^mmcheck: --base takes a registered kernel \([^)]*\); 'free-before-flush' is a mutant, a deliberate bug\n$/],
  ])('bad input %j: one line, exit 2, no file', async (args, message) => {
    const cwd = tempDir();
    const r = await runCli(args, cwd);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    if (typeof message === 'string') expect(r.err).toBe(message);
    else expect(r.err).toMatch(message);
    expect(existsSync(join(cwd, 'variants'))).toBe(false);
  });
});
