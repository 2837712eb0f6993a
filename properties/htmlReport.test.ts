import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { geometry } from '../models/machine/geometry';
import { ReferenceKernel } from '../models/reference/ReferenceKernel';
import { GupFastNoRecheck } from '../models/mutants/gupFastNoRecheck';
import { explainSteps } from '../src/report/explain';
import { renderExplanationHtml } from '../src/report/html';
import type { Op } from '../src/ops/op';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { runOne } from '../src/check/runCheck';
import { litmusTable } from '../src/report/litmus';

const CHROMIUM = process.env['MMCHECK_CHROMIUM'] ?? '/usr/bin/chromium';
const haveBrowser = existsSync(CHROMIUM);

// A GUP-fast walk whose PTE is moved away by mremap before it finishes: the mutant keeps its
// reference to the moved page; the reference's recheck fails, so it drops that reference and
// falls back to slow GUP (gup_fast_fallback()), which faults a new page in at the old address —
// a divergence at the final drain.
const ops: Op[] = [
  { kind: 'map', mm: 0, vpn: 30, order: 1, pmd: false, first: 1, count: 1 },
  { kind: 'walkBegin', cpu: 0, mm: 0, vpn: 31, walker: 'gupFast', pin: false, write: false },
  { kind: 'mremap', mm: 0, from: 30, to: 0, nr: 2 },
];

/** The DOM after the page's script ran, as a real headless Chromium renders it. */
function renderedDom(html: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mmcheck-html-'));
  const file = join(dir, 'explain.html');
  writeFileSync(file, html);
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${join(dir, 'profile')}`, '--dump-dom', `file://${file}`];
  return execFileSync(CHROMIUM, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
}

describe('explain --html', () => {
  const steps = [...explainSteps(() => new GupFastNoRecheck(), () => new ReferenceKernel(), geometry('small'), ops)];

  it('the explanation ends at the first divergence', () => {
    expect(steps).toHaveLength(4);
    expect(steps[3]!.divergence).toBe('mm0.pmd1.pte15: reference s3.1/0 vs gup-fast-no-recheck none');
  });

  // CI installs Chromium (.ci/run); a developer machine without it skips only this test.
  it.skipIf(!haveBrowser && process.env['CI'] === undefined)('renders in a real headless browser: every step, changes highlighted, the divergence marked', () => {
    const dom = renderedDom(renderExplanationHtml('gup-fast-no-recheck', steps));
    expect(dom).toContain('data-ready="1"'); // the page's script ran
    expect(dom).toContain(`data-steps="${steps.length}"`);
    expect(dom.match(/<article id="step-/g)).toHaveLength(steps.length);
    expect(dom).toMatch(/<tr class="changed"><th>pmd1\.pte15<\/th><td>s0\.1\/1 w<\/td><\/tr>/);
    expect(dom).toContain('first divergence: mm0.pmd1.pte15');
    expect(dom).toContain('<caption>cpu0</caption>');
  });

  // An interleaved counterexample (docs/concurrency.md): a zap preempted on CPU0, a store on CPU1
  // inside its window, a resume, then the drain; the page opens with the litmus table.
  const interleaved: Op[] = [
    { kind: 'map', mm: 0, vpn: 21, order: 0, pmd: false, first: 0, count: 1 },
    { kind: 'preempt', cpu: 0, at: 1 },
    { kind: 'zap', mm: 0, vpn: 21, nr: 1 },
    { kind: 'access', cpu: 1, mm: 0, vpn: 21, write: true },
    { kind: 'resume', cpu: 0, points: 1 },
  ];

  it.skipIf(!haveBrowser && process.env['CI'] === undefined)('renders the litmus table of an interleaved counterexample: a column per CPU, the window shaded', () => {
    const k = (): ReferenceKernel => new BatchedKernel();
    const outcome = runOne({ kernel: k, reference: () => new ReferenceKernel(), geometry: geometry('small') }, interleaved);
    const isteps = [...explainSteps(k, () => new ReferenceKernel(), geometry('small'), interleaved)];
    const dom = renderedDom(renderExplanationHtml('interleaved', isteps, litmusTable(interleaved, outcome)));
    expect(dom).toContain('data-ready="1"');
    expect(dom).toContain('<thead><tr><th>step</th><th>CPU0</th><th>CPU1</th><th>no CPU</th></tr></thead>');
    expect(dom).toContain("zap mm#0 vpn 21+1<br>▶ stopped at 'zap: table done, PTL dropped' (1)");
    // CPU0's cells are shaded from the store inside the window through the drain that completes it.
    expect(dom.match(/<td class="inflight">/g)).toHaveLength(3);
    expect(dom).toContain('<ul class="tasks"><li>CPU0 zap mm#0 vpn 21+1: ▶ stopped at');
  });
});
