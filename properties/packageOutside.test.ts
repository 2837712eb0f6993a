import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './__helpers__/tempVariant';
import { tscScript } from '../src/variants/typecheckVariant';

// The library as another project sees it: `npm pack` (which builds dist/ through prepack), the
// tarball installed into a fresh project in a temp dir, and a vitest test file there that imports
// `mmcheck` and `mmcheck/vitest` by name, type-checked with the project's own tsconfig; the
// example of docs/library.md runs there too. vitest itself is linked from this repository (a
// consumer brings its own; mmcheck only peers on it).

const CONSUMER_TEST = `import { expect, test } from 'vitest';
import { BatchedKernel, KERNELS, checkKernel } from 'mmcheck';
import type { Machine, MmuGather } from 'mmcheck';
import { expectCaught, expectHolds } from 'mmcheck/vitest';

/** A patch that keeps tlb_flush_mmu()'s order: it holds. */
class SameOrder extends BatchedKernel {
  override tlbFlushMmu(m: Machine, tlb: MmuGather): void {
    super.tlbFlushMmu(m, tlb);
  }
}

/** A patch that frees the gathered pages before the TLB flush. */
class FreeFirst extends BatchedKernel {
  override tlbFlushMmu(m: Machine, tlb: MmuGather): void {
    this.tlbFlushMmuFree(m, tlb);
    this.tlbFlushMmuTlbonly(m, tlb);
  }
}

class Misspelled extends BatchedKernel {
  tlbFlushMmmu(): void {}
}

test('a variant that keeps the order holds, and its override was called', () => {
  const c = expectHolds(SameOrder, { runs: 60 });
  expect(c.methodCalls['tlbFlushMmu']).toBeGreaterThan(0);
});

test('a broken variant fails with the readable counterexample as the message', () => {
  expect(() => expectHolds(FreeFirst, { runs: 400 })).toThrow(/FAILED: free_with_stale_tlb at step \\d+[\\s\\S]*counterexample: \\d+ ops[\\s\\S]*replay: seed 1/);
  expectCaught(FreeFirst, { runs: 400, codes: ['free_with_stale_tlb', 'tlb_use_after_free'] });
});

test('a misspelled override is refused', () => {
  expect(() => checkKernel(Misspelled, { runs: 1 })).toThrow(/tlbFlushMmmu\\(\\) is no kernel method \\(closest: tlbFlushMmu/);
});

test('registered kernels are there by name', () => {
  expect(KERNELS.map((k) => k.name)).toContain('batched-no-migrc');
});
`;

/** The example of docs/library.md, run as the consumer's second test file: the doc stays true. */
const docExample = (): string => {
  const m = /```ts\n([\s\S]*?)```/.exec(readFileSync(join(REPO, 'docs', 'library.md'), 'utf8'));
  if (m === null) throw new Error('docs/library.md has no ts example');
  return m[1]!;
};

const TSCONFIG = {
  compilerOptions: { target: 'ES2023', module: 'preserve', moduleResolution: 'bundler', strict: true, noEmit: true, skipLibCheck: true, types: [] },
  include: ['*.test.ts'],
};

describe('the packed library, installed into another project', () => {
  it('builds, installs, type-checks and runs a vitest file that imports mmcheck and mmcheck/vitest', () => {
    const work = mkdtempSync(join(tmpdir(), 'mmcheck-pack-'));
    execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
    const tarball = readdirSync(work).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify(TSCONFIG));
    writeFileSync(join(project, 'variant.test.ts'), CONSUMER_TEST);
    writeFileSync(join(project, 'docExample.test.ts'), docExample());
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', join(work, tarball!)], { cwd: project, stdio: ['ignore', 'ignore', 'inherit'] });
    symlinkSync(join(REPO, 'node_modules', 'vitest'), join(project, 'node_modules', 'vitest'));

    const tsc = spawnSync(process.execPath, [tscScript(), '-p', project], { encoding: 'utf8' });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);

    const run = spawnSync(process.execPath, [join(REPO, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', project, '--reporter', 'verbose'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    expect(run.stdout).toMatch(/Test Files\s+2 passed \(2\)/);
    expect(run.stdout).toMatch(/Tests\s+6 passed \(6\)/);
    expect(run.status).toBe(0);
  }, 240_000);
});
