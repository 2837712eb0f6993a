import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../cli/usageError';
import { requireSources } from '../cli/sourceMode';
import { importVariant } from '../variants/importVariant';
import { typecheckVariant } from '../variants/typecheckVariant';
import { looksLikePath } from '../variants/loadVariant';
import type { CostWorkload } from './workload';
import { selectWorkloads, UnknownWorkloadError, WORKLOADS } from './workloads/index';


function isWorkload(v: unknown): v is CostWorkload {
  if (typeof v !== 'object' || v === null) return false;
  const w = v as Partial<Record<keyof CostWorkload, unknown>>;
  return typeof w.name === 'string' && typeof w.description === 'string' && typeof w.headline === 'string' && Array.isArray(w.notes) && typeof w.build === 'function' && typeof w.verify === 'function';
}

/**
 * A workload file (your own, e.g. beside your variants): type-checked like a variant, then every
 * exported CostWorkload in it (the default export first). A file that exports none, or a name
 * that clashes with a registered workload, is a usage error.
 */
export async function loadWorkloadFile(spec: string, typecheck: boolean): Promise<CostWorkload[]> {
  const file = resolve(spec);
  requireSources('a workload file');
  if (!existsSync(file)) throw new UsageError(`workload file '${spec}' does not exist; give a registered workload (${WORKLOADS.map((w) => w.name).join(', ')}) or a path to a .ts file`);
  if (typecheck && /\.[cm]?ts$/.test(file)) typecheckVariant(file, 'workload');
  const mod = await importVariant(file, 'workload');
  const found = [mod['default'], ...Object.entries(mod).filter(([k]) => k !== 'default').map(([, v]) => v)].filter(isWorkload);
  const mine = [...new Set(found)];
  if (mine.length === 0) throw new UsageError(`workload file '${spec}' exports no cost workload: expected e.g. \`export default { name, seed: null, description, headline, notes, build(g), verify(run) } satisfies CostWorkload\``);
  const clash = mine.filter((w) => WORKLOADS.some((r) => r.name === w.name));
  if (clash.length > 0) throw new UsageError(`workload file '${spec}': ${clash.map((w) => `'${w.name}'`).join(', ')} is the name of a registered workload; name yours differently`);
  return mine;
}

/** `--workload`: registered names and workload files, in the order given; all registered ones when empty. */
export async function resolveWorkloads(specs: readonly string[], typecheck: boolean): Promise<CostWorkload[]> {
  const out: CostWorkload[] = [];
  const named = specs.filter((s) => !looksLikePath(s));
  try {
    selectWorkloads(named);
  } catch (e) {
    if (e instanceof UnknownWorkloadError) throw new UsageError(`${e.message}; or give a path to a workload file`);
    throw e;
  }
  if (specs.length === 0) return [...WORKLOADS];
  for (const s of specs) out.push(...(looksLikePath(s) ? await loadWorkloadFile(s, typecheck) : selectWorkloads([s])));
  return out;
}
