import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { KERNELS, kernelEntry, UnknownKernelError } from '../../models/registry';
import { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { UsageError } from './usageError';

/** A kernel the CLI can run: its name and a factory (a fresh instance per sequence). */
export interface LoadedKernel {
  readonly name: string;
  /** How to load it again: the registered name, or the variant file's absolute path. */
  readonly spec: string;
  readonly make: () => ReferenceKernel;
  /** The methods a variant file defines (overrides and helpers), whose calls a check counts; empty for a registered kernel. */
  readonly watchMethods: readonly string[];
}

const looksLikePath = (s: string): boolean => s.endsWith('.ts') || s.endsWith('.js') || s.includes('/');

/**
 * Resolve `--kernel`: a registered name, or a path to a variant file exporting a class that
 * extends BatchedKernel or ReferenceKernel (the default export, or the only exported kernel class).
 */
export async function loadKernel(spec: string): Promise<LoadedKernel> {
  if (!looksLikePath(spec)) {
    try {
      const e = kernelEntry(spec);
      return { name: e.name, spec: e.name, make: e.make, watchMethods: [] };
    } catch (err) {
      if (err instanceof UnknownKernelError) throw new UsageError(err.message);
      throw err;
    }
  }
  const file = resolve(spec);
  if (!existsSync(file)) throw new UsageError(`variant file '${spec}' does not exist; give a registered kernel (${KERNELS.map((k) => k.name).join(', ')}) or a path to a .ts file`);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(`cannot load variant '${spec}': ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
  }
  const classes = Object.entries(mod).filter(([, v]) => isKernelClass(v));
  const chosen = isKernelClass(mod['default']) ? mod['default'] : classes.length === 1 ? classes[0]![1] : null;
  if (chosen === null || !isKernelClass(chosen)) {
    throw new UsageError(
      classes.length > 1
        ? `variant '${spec}' exports several kernel classes (${classes.map(([n]) => n).join(', ')}); export one as default`
        : `variant '${spec}' exports no kernel class: expected e.g. \`export default class MyPatch extends BatchedKernel { override zapPresentPtes(...) {...} }\``,
    );
  }
  const Ctor = chosen;
  const probe = new Ctor();
  const name = probe.name === 'reference' || probe.name === 'batched' ? `${probe.name}+${Ctor.name}` : probe.name;
  return { name, spec: file, make: () => new Ctor(), watchMethods: ownMethods(Ctor) };
}

function isKernelClass(v: unknown): v is new () => ReferenceKernel {
  return typeof v === 'function' && v.prototype instanceof ReferenceKernel;
}

/** The methods the variant's own classes define, up to the first registered kernel class it extends. */
function ownMethods(Ctor: new () => ReferenceKernel): string[] {
  const registered = new Set(KERNELS.map((k) => Object.getPrototypeOf(k.make()) as object));
  const names = new Set<string>();
  for (let p = Ctor.prototype as object | null; p !== null && !registered.has(p); p = Object.getPrototypeOf(p) as object | null) {
    for (const n of Object.getOwnPropertyNames(p)) if (n !== 'constructor' && typeof Object.getOwnPropertyDescriptor(p, n)?.value === 'function') names.add(n);
  }
  return [...names].sort();
}
