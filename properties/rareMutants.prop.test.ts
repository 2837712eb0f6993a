import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { geometry } from '../models/machine/geometry';
import { RARE_MUTANTS } from '../models/mutants/rare/index';
import { kernelEntry } from '../models/registry';
import { hasCowReuse615, specFor } from '../models/specFor';
import { BatchedKernel } from '../models/batched/BatchedKernel';
import { Batched615 } from '../models/v615/Batched615';
import type { Op } from '../src/ops/op';
import { runOne } from '../src/check/runCheck';

/**
 * The rare-combination mutants (issue 12, docs/reach.md): each needs a short, specific
 * combination of ops and state that uniform sequences almost never build. The kill matrix per
 * generation mode (`mmcheck mutants --modes uniform,swarm,guided`, figures in docs/reach.md) is
 * a script, not a test: a rare bug takes thousands of sequences by construction. Here each
 * mutant's hand-written counterexample (properties/fixtures/rare/) must fail on it with an
 * expected oracle and hold on the correct kernel of its policy — so the state it needs is real
 * and the bug is the mutant's.
 */
const SMALL = geometry('small');
const FIXTURES = join(import.meta.dirname, 'fixtures', 'rare');
const SOURCES = join(import.meta.dirname, '..', 'models', 'mutants', 'rare');
const stem = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

describe.each(RARE_MUTANTS.map((mu) => [mu.name, mu] as const))('rare mutant %s', (name, mu) => {
  const ops = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Op[];

  it('is registered as a mutant, with a "Breaks: … Needs: … Violates: … Caught by: …" header', () => {
    expect(kernelEntry(name).role).toBe('mutant');
    const text = readFileSync(join(SOURCES, `${stem(name)}.ts`), 'utf8');
    for (const part of ['Breaks:', 'Needs:', 'Violates:', 'Caught by:']) expect(text).toContain(part);
  });

  it('fails its counterexample with an expected oracle', () => {
    const out = runOne({ kernel: mu.make, geometry: SMALL }, ops);
    expect(out.ok).toBe(false);
    if (!out.ok) expect(mu.caughtBy).toContain(out.violation.code);
  });

  it('the correct kernel of its policy holds on it (against its reference)', () => {
    const correct = hasCowReuse615(mu.make()) ? () => new Batched615() : () => new BatchedKernel();
    const out = runOne({ kernel: correct, reference: specFor(correct()), geometry: SMALL }, ops);
    expect(out.ok, out.ok ? '' : JSON.stringify(out.violation)).toBe(true);
  });
});
