import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureOutput } from './__helpers__/captureOutput';
import { main } from '../src/cli/main';

// The conform and export-c commands: bad input is one line and exit 2; an export writes the
// program and the model's observables. (Ctrl-C of conform, which changes the THP settings, is
// tested in conformKernel.test.ts, so no two files change them at once.)
const io = captureOutput();
const dir = mkdtempSync(join(tmpdir(), 'mmcheck-conform-cli-'));

const write = (name: string, data: unknown): string => {
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify(data));
  return f;
};

describe('mmcheck export-c', () => {
  it('writes the program as C and the model\'s observables beside it', async () => {
    const f = write('fork-cow.json', [
      { kind: 'map', mm: 0, vpn: 0, order: 4, pmd: false, first: 0, count: 16 },
      { kind: 'fork', mm: 0 },
      { kind: 'access', cpu: 1, mm: 1, vpn: 3, write: true },
      { kind: 'tick' },
    ]);
    const out = join(dir, 'fork-cow.c');
    expect(await main(['export-c', f, '--out', out])).toBe(0);
    const c = readFileSync(out, 'utf8');
    expect(c).toContain('op_map(0, 0, 0, 4, 0, 0, 16);');
    expect(c).toContain('op_fork(1, 0, 1);');
    expect(c).toContain('op_store(2, 1, 1, 3, 3);');
    expect(c).toContain('/* step 3: tick — left out: a kernel-internal event');
    expect(c).toMatch(/int main\(void\)\n\{\n {2}mm_start\(\);/);
    const expected = readFileSync(join(dir, 'fork-cow.expected'), 'utf8');
    expect(expected).toContain('step 2\n');
    expect(expected).toContain('  mm1 vpn 3: f16 small, mapcount 1 exclusive, value 3');
    expect(io.out).toContain('4 steps (1 left out: no user-level counterpart)');
  });

  it('refuses a small-geometry counterexample in one line (exit 2): a real kernel has 512 PTEs per table', async () => {
    const f = write('small.json', { format: 'mmcheck-scenario/1', geometry: 'small', ops: [{ kind: 'tick' }] });
    expect(await main(['export-c', f])).toBe(2);
    expect(io.err.trim().split('\n')).toHaveLength(1);
    expect(io.err).toMatch(/small geometry; a real kernel has the realistic one/);
  });

  it('refuses a --release that is not a version (exit 2)', async () => {
    const f = write('one.json', [{ kind: 'tick' }]);
    expect(await main(['export-c', f, '--release', 'latest'])).toBe(2);
    expect(io.err).toMatch(/--release takes a kernel version like 6.18, got 'latest'/);
  });
});

describe('mmcheck conform', () => {
  it('refuses bad numbers in one line (exit 2)', async () => {
    expect(await main(['conform', '--runs', 'many'])).toBe(2);
    expect(io.err).toMatch(/--runs takes a positive whole number, got 'many'/);
    expect(await main(['conform', '--max-ops', '0'])).toBe(2);
  });

});
