import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main';
import { captureOutput } from './__helpers__/captureOutput';

const io = captureOutput();
const dir = mkdtempSync(join(tmpdir(), 'mmcheck-run-'));
const example = join(import.meta.dirname, '..', 'docs', 'examples', 'zap-after-load.json');

const write = (content: unknown, name = `f-${Math.random().toString(36).slice(2)}.json`): string => {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
};

const scenario = (ops: unknown, extra: Record<string, unknown> = {}) => ({ format: 'mmcheck-scenario/1', ...extra, ops });
const loadThenZap = [
  { kind: 'map', mm: 0, vpn: 0, order: 0, pmd: false, first: 0, count: 1 },
  { kind: 'access', cpu: 0, mm: 0, vpn: 0, write: false },
  { kind: 'zap', mm: 0, vpn: 0, nr: 1 },
];

describe('mmcheck run', () => {
  it('runs the documented example differentially, prints the numbered trace and HOLDS, exits 0', async () => {
    expect(await main(['run', example])).toBe(0);
    expect(io.out).toContain('kernel batched against the reference, geometry small, 3 ops');
    expect(io.out).toMatch(/ {5}1 {2}load cpu0 mm#0 vpn 0 +→ value 0\n/);
    expect(io.out).toMatch(/ {5}3 {2}drain +→ done\n/);
    expect(io.out).toContain('HOLDS');
  });

  it('fails with the violation on a broken kernel: the failing step marked, FAILED, exit 1', async () => {
    expect(await main(['run', example, '--kernel', 'free-before-flush'])).toBe(1);
    expect(io.out).toMatch(/✗ {3}2 {2}zap mm#0 vpn 0\+1 +→ free_with_stale_tlb at step 2/);
    expect(io.out).toContain('FAILED: free_with_stale_tlb at step 2');
    expect(io.out).toContain('(in kernel free-before-flush)');
    expect(io.out).not.toContain('HOLDS');
  });

  it('takes the kernel and geometry from a scenario file, and --kernel / --geometry over them', async () => {
    const file = write(scenario(loadThenZap, { kernel: 'free-before-flush', geometry: 'realistic' }));
    expect(await main(['run', file])).toBe(1);
    expect(io.out).toContain('kernel free-before-flush against the reference, geometry realistic');
    io.out = '';
    expect(await main(['run', file, '--kernel', 'reference', '--geometry', 'small'])).toBe(0);
    expect(io.out).toContain('kernel reference alone (per-kernel oracles), geometry small');
    expect(io.out).toContain('HOLDS');
  });

  it('runs a bare JSON array of ops', async () => {
    expect(await main(['run', write(loadThenZap), '--kernel', 'free-before-flush'])).toBe(1);
    expect(io.out).toContain('FAILED: free_with_stale_tlb');
  });

  it('runs a saved counterexample against its recorded kernel', async () => {
    expect(await main(['run', join(import.meta.dirname, 'fixtures', 'mutants', 'gup-fast-no-recheck.json')])).toBe(1);
    expect(io.out).toContain('kernel gup-fast-no-recheck against the reference');
    expect(io.out).toContain('FAILED: ');
  });

  it('reads a scenario that starts with a UTF-8 byte-order mark', async () => {
    expect(await main(['run', write(`\uFEFF${readFileSync(example, 'utf8')}`)])).toBe(0);
    expect(io.out).toContain('HOLDS');
  });

  it('explains itself in --help', async () => {
    expect(await main(['run', '--help'])).toBe(0);
    expect(io.out).toContain('mmcheck-scenario/1');
    expect(io.out).toContain('--geometry');
  });

  it.each([
    ['a missing file', () => join(dir, 'none.json'), "cannot read scenario '"],
    ['not JSON', () => write('[{"kind": "tick"'), 'is not valid JSON'],
    ['no format', () => write({ ops: [] }), 'is not something mmcheck can run (no format): give a JSON array of ops, or an object with "format": "mmcheck-scenario/1" or "mmcheck-counterexample/1"'],
    ['a number', () => write('3'), 'is not something mmcheck can run (no format)'],
    ['another format', () => write({ format: 'mmcheck-scenario/2', ops: [] }), 'is not something mmcheck can run (format "mmcheck-scenario/2")'],
    ['an unknown op kind', () => write(scenario([{ kind: 'tick' }, { kind: 'teleport' }])), 'is not an mmcheck scenario: ops[1]: unknown op kind "teleport"; valid kinds: map, populate, access'],
    ['a bad op in a bare array', () => write([{ kind: 'zap', mm: 0, vpn: 0 }]), "is not a valid op list: ops[0] (zap): field 'nr' must be an integer, but it is missing"],
    ['an unknown geometry', () => write(scenario([], { geometry: 'huge' })), `'geometry' must be "small" or "realistic", got "huge"`],
    ['an extra field', () => write(scenario([], { seed: 3 })), 'unexpected field(s) seed; valid fields: $schema, format, kernel, geometry, ops'],
    ['a __proto__ field', () => write('{"format":"mmcheck-scenario/1","ops":[{"kind":"tick","__proto__":{"x":1}}]}'), "ops[0] (tick): field '__proto__' is refused"],
    ['a bad counterexample', () => write({ format: 'mmcheck-counterexample/1', ops: [] }), "is not an mmcheck counterexample: 'kernel' must be a string"],
  ])('exits 2 on %s, with one line saying what is wrong', async (_name, file, message) => {
    expect(await main(['run', file()])).toBe(2);
    expect(io.err).toContain(message);
    expect(io.err.trimEnd().split('\n')).toHaveLength(1);
    expect(io.out).toBe('');
  });

  it.each([
    [['--kernel', 'nope'], "unknown kernel 'nope'; registered kernels: reference"],
    [['--geometry', 'huge'], "unknown geometry 'huge'; valid geometries: small, realistic"],
  ])('exits 2 on %j naming the valid choices', async (args, message) => {
    expect(await main(['run', example, ...args])).toBe(2);
    expect(io.err).toContain(message);
  });
});
