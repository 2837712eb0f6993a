import { describe, expect, it } from 'vitest';
import { captureOutput } from './__helpers__/captureOutput';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main';
import { readCounterexample } from '../src/counterexample/file';

const io = captureOutput();

describe('mmcheck CLI', () => {
  it.each([
    [['frob'], "unknown command 'frob'"],
    [['check', '--bogus'], "unknown option '--bogus'"],
    [['check', '--kernel', 'nope'], "unknown kernel 'nope'; registered kernels: reference"],
    [['check', '--geometry', 'huge'], "unknown geometry 'huge'; valid geometries: small, realistic"],
    [['check', '--runs', 'lots'], '--runs takes a positive whole number'],
    [['check', '--kernel', 'no/such/variant.ts'], "variant file 'no/such/variant.ts' does not exist"],
    [['replay', 'no-such-file.json'], 'cannot read counterexample'],
    [['check', '--kernel', 'properties/fixtures/variants/noKernelClass.ts'], 'exports no kernel class: expected e.g. `export default class MyPatch extends BatchedKernel'],
    [['cost', '--workload', 'teleport'], 'teleport'],
    [['mutants', '--only', 'no-such-mutant'], 'registered: free-before-flush'],
  ])('%j exits 2 with a message naming the valid choices', async (argv, message) => {
    expect(await main(argv)).toBe(2);
    expect(io.err).toContain(message);
    expect(io.err).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('check on the reference holds, prints a summary with coverage, exits 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-cli-'));
    expect(await main(['check', '--kernel', 'reference', '--runs', '100', '--seed', '4', '--quiet', '--failures', dir])).toBe(0);
    expect(io.out).toContain('sequences  100');
    expect(io.out).toContain('HOLDS');
    expect(io.out).toContain('large folio PTE-mapped by two mms');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('check on a broken variant saves a replayable failure and exits 1; replay reports the same violation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mmcheck-cli-'));
    const variant = join(import.meta.dirname, 'fixtures', 'variants', 'zapWithoutFlush.ts');
    expect(await main(['check', '--kernel', variant, '--runs', '300', '--seed', '3', '--quiet', '--failures', dir])).toBe(1);
    expect(io.out).toContain('FAILED: free_with_stale_tlb');
    const [name] = readdirSync(dir);
    expect(name).toBeDefined();
    const file = join(dir, name!);
    expect(existsSync(file)).toBe(true);
    const cx = readCounterexample(file);
    expect(cx.status).toBe('shrunk');
    expect(cx.ops.length).toBeLessThanOrEqual(4);
    io.out = '';
    expect(await main(['replay', file])).toBe(1);
    expect(io.out).toContain('same violation: free_with_stale_tlb');
    io.out = '';
    expect(await main(['replay', file, '--kernel', 'reference'])).toBe(0);
    expect(io.out).toContain('passes now');
  });
});
