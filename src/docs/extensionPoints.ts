import { readdirSync, readFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { PREEMPT_POINTS } from '../../models/machine/tasks';

/** One overridable kernel method, as its doc comment describes it. */
export interface ExtensionPoint {
  readonly method: string;
  /** The kernel function(s) it mirrors, or null for a model-level method. */
  readonly mirrors: string | null;
  /** The first sentence of its doc comment. */
  readonly summary: string;
  /** Where the reference defines it (null when only the batched kernel has it). */
  readonly reference: string | null;
  /** Where the batched kernel defines or overrides it. */
  readonly batched: string | null;
}

// A doc comment (whose body holds no `*/`) followed by a method declaration (a generator
// method, a path with preemption points, keeps its `*`), with only line comments between them
// (`// Stryker disable next-line ...`: docs/mutation.md).
const METHOD = /\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*\n(?:[ \t]*\/\/[^\n]*\n)*\s*(?:override\s+)?(?:abstract\s+)?(\*?[a-z]\w*)\(/g;

function methodsIn(dir: string, root: string): Map<string, { doc: string; file: string }> {
  const out = new Map<string, { doc: string; file: string }>();
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.ts')) continue;
    const file = join(dir, name);
    const text = readFileSync(file, 'utf8');
    if (!/\bclass\s+\w+/.test(text)) continue;
    for (const m of text.matchAll(METHOD)) {
      const doc = m[1]!.replace(/^\s*\* ?/gm, '').replace(/\s+/g, ' ').trim();
      if (!out.has(m[2]!)) out.set(m[2]!, { doc, file: relative(root, file) });
    }
  }
  return out;
}

function mirrorsOf(doc: string): string | null {
  const m = /^Mirrors (.+?\))[.:](\s|$)/.exec(doc) ?? /^Mirrors (.+?)[.:](\s|$)/.exec(doc);
  return m === null ? null : m[1]!;
}

function summaryOf(doc: string): string {
  const rest = doc.replace(/^Mirrors .+?\)[.:]\s*/, '');
  const first = /^(.+?[.!?])(\s|$)/.exec(rest);
  return (first?.[1] ?? rest).slice(0, 200);
}

/** Every documented method of the reference and batched kernels. */
export function extensionPoints(root: string): ExtensionPoint[] {
  const ref = methodsIn(join(root, 'models', 'reference'), root);
  const bat = methodsIn(join(root, 'models', 'batched'), root);
  const names = [...new Set([...ref.keys(), ...bat.keys()])].sort();
  return names.map((method) => {
    const r = ref.get(method);
    const b = bat.get(method);
    const doc = (b ?? r)!.doc;
    const refDoc = r?.doc ?? doc;
    return {
      method,
      mirrors: mirrorsOf(refDoc) ?? mirrorsOf(doc),
      summary: summaryOf(refDoc),
      reference: r === undefined ? null : basename(r.file),
      batched: b === undefined ? null : basename(b.file),
    };
  });
}

/** docs/extension-points.md */
export function renderExtensionPoints(points: readonly ExtensionPoint[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const rows = points.map(
    (p) => `| \`${p.method}\` | ${p.mirrors === null ? '— (model)' : esc(p.mirrors)} | ${p.reference ?? '—'} | ${p.batched ?? '—'} | ${esc(p.summary)} |`,
  );
  return `# Extension points

Generated from the doc comments by \`npm run docs\`; a test keeps it in sync with the code.
Seed, issue and rule numbers in the summaries: [history.md](history.md).

A variant is a class that extends \`ReferenceKernel\` (models/reference/ReferenceKernel.ts) or
\`BatchedKernel\` (models/batched/BatchedKernel.ts) and overrides the methods a patch changes.
Every method below is one kernel function (or, marked "model", one step of the model that has no
single kernel function); every internal call goes through \`this\`, so an override takes effect
everywhere the kernel would call it. "reference" is the file of models/reference/ that defines
the per-page version; "batched" the file of models/batched/ that overrides it (or defines it, for
functions only the batched paths have). State is passed in as \`m: Machine\`
(models/machine/state.ts); a method never keeps state of its own.

| method | mirrors | reference | batched | what it does |
|---|---|---|---|---|
${rows.join('\n')}

## Preemption points

A method marked \`*\` is the generator twin of a path with preemption points (
docs/concurrency.md): it yields a \`PreemptPoint\` (models/machine/tasks.ts) where the kernel lets
other CPUs in, and its plain method (\`zapPageRange()\`, \`doMprotectPkey()\`, \`dupMmap()\`, …) runs it to the end,
so a variant keeps overriding plain methods as before. Migration's twins
(\`migratePagesSteps()\`, \`migratePagesBatchSteps()\`, \`migrateFlushAndMoveSteps()\`) repeat the
steps of \`migratePages()\`/\`migratePagesBatch()\`/\`migrateFolio()\`, whose bodies stay as they were
(a variant overriding \`migrateFolioMove()\` keeps working). The points:

${PREEMPT_POINTS.map((p) => `- \`${p}\``).join('\n')}

To move a point or add one, override the twin and \`yield\` where the patched kernel drops its lock
(a new point needs a new member of \`PreemptPoint\`, in both kernels, so one schedule means the
same in each). A variant that overrides a plain method below the class that defines its twin is
never run as a task (its code would be bypassed): its \`preempt\` is a no-op.
`;
}
