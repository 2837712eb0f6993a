import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SEEDS } from '../src/cost/workload';

// The docs stand on their own: nothing a user reads (README, docs/, doc comments, CLI strings)
// points outside the repository, and the project's shorthand — seed 000, rule R1, §10, issue 11,
// review row 5 — is always one link away from what it means.

const ROOT = join(import.meta.dirname, '..');
const tracked = (...dirs: string[]): string[] => execFileSync('git', ['ls-files', ...dirs], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter((f) => /\.(ts|md|mjs|js)$/.test(f));
const read = (f: string): string => readFileSync(join(ROOT, f), 'utf8');
const USER_FACING = (): string[] => tracked('README.md', 'docs', 'src', 'models', 'bin', 'variants', 'schema');

const offenders = (files: readonly string[], bad: RegExp): string[] => files.filter((f) => bad.test(read(f))).map((f) => `${f}: ${bad.exec(read(f))?.[0] ?? ''}`);

describe('the documentation is self-contained', () => {
  it('points to no file outside the repository (the design, the semantics, the review, the seed threads live in docs/)', () => {
    expect(offenders(USER_FACING(), /\.\.\/shared\b|shared\/reference|fidelity-review\.md|reference\/seeds|\bseeds\/0\d\d_|\bdesign §/)).toEqual([]);
  });

  it('cites the kernel semantics as docs/kernel-semantics.md (relative links inside docs/), and only sections it has', () => {
    const sections = new Set([...read('docs/kernel-semantics.md').matchAll(/^## (\d+)\. /gm)].map((m) => m[1]!));
    expect([...sections].sort((a, b) => Number(a) - Number(b))).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11']);
    const bare = USER_FACING().filter((f) => !f.startsWith('docs/')).filter((f) => /(?<![\w/.-])kernel-semantics/.test(read(f)));
    expect(bare).toEqual([]);
    const cited: string[] = [];
    for (const f of USER_FACING()) {
      for (const m of read(f).matchAll(/kernel-semantics\.md ?§(\d+)/g)) if (!sections.has(m[1]!)) cited.push(`${f}: §${m[1]}`);
    }
    expect(cited).toEqual([]);
  });

  it('defines rules R1–R7 in §10, and every file citing a rule also cites the file that defines it', () => {
    const ks = read('docs/kernel-semantics.md');
    const s10 = ks.slice(ks.indexOf('## 10. '), ks.indexOf('## 11. '));
    for (let r = 1; r <= 7; r++) expect(s10).toMatch(new RegExp(`\\*\\*R${r} `));
    const missing = USER_FACING()
      .filter((f) => f !== 'docs/kernel-semantics.md')
      .filter((f) => /\brules? R[1-7]\b|\bR[1-7]\b \(|\(R[1-7]\)/.test(read(f)))
      .filter((f) => !/kernel-semantics\.md|history\.md/.test(read(f)));
    expect(missing).toEqual([]);
  });

  it('lists every seed by number and title in docs/seeds.md, and every doc naming a seed or an issue links there or to docs/history.md', () => {
    const seeds = read('docs/seeds.md');
    for (const [id, title] of Object.entries(SEEDS)) {
      const row = seeds.split('\n').find((l) => l.startsWith(`| **${id}** |`));
      expect(row, `seed ${id}`).toBeDefined();
      expect(row).toContain(title.replace(/ \(MIGRC\)$/, ''));
    }
    const history = read('docs/history.md');
    for (const n of new Set([...USER_FACING().flatMap((f) => [...read(f).matchAll(/\b[Ii]ssues? (\d+)\b/g)].map((m) => m[1]!))])) expect(history, `issue ${n}`).toMatch(new RegExp(`^\\| ${n} \\|`, 'm'));
    const unexplained = tracked('README.md', 'docs')
      .filter((f) => f.endsWith('.md') && !['docs/seeds.md', 'docs/history.md'].includes(f))
      .filter((f) => /\bseed 00[0-4]\b|\b[Ii]ssues? \d+\b/.test(read(f)))
      .filter((f) => !/seeds\.md|history\.md/.test(read(f)));
    expect(unexplained).toEqual([]);
  });
});
