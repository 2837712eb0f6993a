import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { extensionPoints, renderExtensionPoints } from '../src/docs/extensionPoints';

const root = join(import.meta.dirname, '..');

describe('docs/extension-points.md', () => {
  it('is what `npm run docs` generates from the current doc comments', () => {
    expect(readFileSync(join(root, 'docs', 'extension-points.md'), 'utf8')).toBe(renderExtensionPoints(extensionPoints(root)));
  });

  it('lists the kernel functions variants override most, with what they mirror', () => {
    const byName = new Map(extensionPoints(root).map((p) => [p.method, p]));
    for (const [method, fn] of [
      ['zapPresentPtes', 'zap_present_ptes()'],
      ['folioPteBatch', 'folio_pte_batch()'],
      ['tlbFlushMmuTlbonly', 'tlb_flush_mmu_tlbonly()'],
      ['copyPresentPtes', 'copy_present_ptes()'],
      ['tryGrabFolio', 'try_grab_folio()'],
      ['wpCanReuseAnonFolio', 'wp_can_reuse_anon_folio()'],
      ['freePteTable', 'pte_free_defer()'],
    ] as const) {
      expect(byName.get(method)?.mirrors ?? '').toContain(fn);
    }
  });
});
