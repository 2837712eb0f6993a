import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { kernelEntry } from '../models/registry';
import { cpuId, pfn } from '../models/machine/ids';
import { explainSteps, formatExplanationStep } from '../src/report/explain';
import { renderExplanationHtml } from '../src/report/html';
import { observationKey, violationText } from '../src/report/kernelKeys';
import { readCounterexample } from '../src/counterexample/file';
import type { Op } from '../src/ops/op';

// `mmcheck explain` reads like the kernel: what both kernels did alike prints once, the first
// difference between them is marked, violations and divergences use the state view's keys, and
// the HTML view puts the violation next to the rows that name it.

const FIXTURES = join(import.meta.dirname, 'fixtures', 'mutants');
const explain = (mutant: string): string[] => {
  const c = readCounterexample(join(FIXTURES, `${mutant}.json`));
  return [...explainSteps(kernelEntry(mutant).make, () => new ReferenceKernel(), geometry(c.geometry), c.ops)].flatMap(formatExplanationStep);
};

describe('explain, as text', () => {
  it('prints a step both kernels did alike once, marks what only one kernel did, and the violation in view keys with the row that names it', () => {
    const lines = explain('free-before-flush');
    expect(lines.slice(0, 2)).toEqual(['  step 0: load cpu0 mm#0 vpn 21', '    [same in both: reference, free-before-flush] → value 0']);
    expect(lines.filter((l) => l.includes('[reference]'))).toHaveLength(1);
    // The reference's flush removed the TLB entry; the mutant's did not: marked ≠.
    expect(lines).toContain('      ≠ - cpu0.tlb.mm0.vpn21: pfn 1 gen 1');
    expect(lines).toContain('    [free-before-flush] → VIOLATION free_with_stale_tlb at step 1: cpu0, mm0.vpn21, pfn 1');
    expect(lines).toContain('        ↳ after the step: cpu0.tlb.mm0.vpn21: pfn 1 gen 1');
    expect(lines.join('\n')).not.toMatch(/\{"code"/);
  });

  it('names a divergence by the page-table key, with bare values', () => {
    const lines = explain('batch-ignores-pfn-gap');
    expect(lines.at(-1)).toBe('    FIRST DIVERGENCE  mm1.pmd0.pte1: reference s1.1/0 vs batch-ignores-pfn-gap s0.1/1');
  });

  it('maps observation paths and violation fields to the state view keys', () => {
    expect(observationKey('state.mms.1.pmds.0.5')).toBe('mm1.pmd0.pte5');
    expect(observationKey('state.mms.2.pmds.3')).toBe('mm2.pmd3');
    expect(observationKey('state.folios.s0.1.refcount')).toBe('folio s0.1 refcount');
    expect(observationKey('state.handles.4.0')).toBe('handle4[0]');
    expect(observationKey('state.files.1.cache.7')).toBe('file1 page cache index 7');
    expect(observationKey('state.freeFrames')).toBe('free frames');
    expect(violationText({ code: 'table_freed_under_walker', step: 3, table: pfn(9), cpu: cpuId(1), walker: 'gupFast' })).toBe('table_freed_under_walker at step 3: cpu1, table pfn 9, walker gupFast');
  });
});

const CHROMIUM = process.env['MMCHECK_CHROMIUM'] ?? '/usr/bin/chromium';

/** The DOM after the page's script ran, in a real headless Chromium at a laptop's width. */
function renderedDom(html: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mmcheck-html-'));
  const file = join(dir, 'explain.html');
  writeFileSync(file, html);
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--window-size=1280,800', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${join(dir, 'profile')}`, '--dump-dom', `file://${file}`];
  return execFileSync(CHROMIUM, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
}

describe('explain --html', () => {
  const c = readCounterexample(join(FIXTURES, 'free-before-flush.json'));
  const html = renderExplanationHtml('free-before-flush', [...explainSteps(kernelEntry('free-before-flush').make, () => new ReferenceKernel(), geometry('small'), c.ops)]);

  it('renders the violation with the stale TLB entry still there and the freed folio the step removed, and highlights the entry', () => {
    expect(html).toContain('✗ free_with_stale_tlb at step 1: cpu0, mm0.vpn21, pfn 1<div class="culprits"><b>still there after the step</b><ul><li>cpu0.tlb.mm0.vpn21: pfn 1 gen 1</li></ul>');
    expect(html).toMatch(/<b>removed by the step<\/b><ul>(<li>[^<]*<\/li>)*<li>folio s0\.1: order 0 ref 1 /);
    expect(html).toMatch(/<tr class="[^"]*culprit[^"]*"><th>tlb\.mm0\.vpn21<\/th>|<tr class="[^"]*culprit[^"]*"><th>cpu0\.tlb\.mm0\.vpn21<\/th>/);
  });

  it.skipIf(!existsSync(CHROMIUM))('wraps folio rows: a realistic 512-page folio fits a 1280-pixel window in a real browser', () => {
    const ops: Op[] = [
      { kind: 'map', mm: 0, vpn: 0, order: 9, pmd: false, first: 0, count: 512 },
      { kind: 'fork', mm: 0 },
    ];
    const long = renderExplanationHtml('a PTE-mapped THP', [...explainSteps(() => new ReferenceKernel(), () => new ReferenceKernel(), geometry('realistic'), ops)]);
    expect(long).toMatch(/<table class="folios">/);
    const dom = renderedDom(long);
    expect(dom).toContain('data-ready="1"');
    expect(dom).toContain('data-wide-folio-tables="0"');
  }, 90_000);
});

// The fixture file is what the tests above read; make sure it is the one the kill matrix wrote.
it('reads the committed fixture', () => {
  expect(JSON.parse(readFileSync(join(FIXTURES, 'free-before-flush.json'), 'utf8'))).toMatchObject({ kernel: 'free-before-flush' });
});
