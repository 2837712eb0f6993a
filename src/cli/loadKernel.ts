import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { KERNELS, kernelEntry, UnknownKernelError } from '../../models/registry';
import type { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import type { VariantLoadOptions } from '../variants/loadVariant';
import { loadVariant, looksLikePath, named } from '../variants/loadVariant';
import { variantMethods } from '../variants/kernelMethods';
import { UsageError } from './usageError';
import { requireSources } from './sourceMode';
import { FocusError, parseFocus } from '../arbitraries/focus';

/** A kernel the CLI can run: its name and a factory (a fresh instance per sequence). */
export interface LoadedKernel {
  readonly name: string;
  /** How to load it again: the registered name, or the variant file's absolute path. */
  readonly spec: string;
  readonly make: () => ReferenceKernel;
  /**
   * The variant file and class, or null for a registered kernel. A variant's name never equals a
   * registered one, but compare kernels by this record, not by name.
   */
  readonly variant: { readonly file: string; readonly className: string } | null;
  /** The methods a variant's own classes define (overrides and helpers), whose calls a check counts; empty for a registered kernel. */
  readonly watchMethods: readonly string[];
  /**
   * The ops the variant's patch is about, from its class's `static focus` (op kinds or areas,
   * src/arbitraries/focus.ts): a check spends more of its runs on them. Empty when not declared.
   */
  readonly focus: readonly string[];
}

/**
 * Resolve `--kernel`: a registered name, or a path to a variant file exporting a class that
 * extends BatchedKernel or ReferenceKernel (the default export, or the only exported kernel class).
 * A variant is type-checked first unless `options.typecheck` is false.
 */
export async function loadKernel(spec: string, options: VariantLoadOptions = { typecheck: true }): Promise<LoadedKernel> {
  if (!looksLikePath(spec)) {
    try {
      const e = kernelEntry(spec);
      return { name: e.name, spec: e.name, make: e.make, variant: null, watchMethods: [], focus: [] };
    } catch (err) {
      if (err instanceof UnknownKernelError) throw new UsageError(err.message);
      throw err;
    }
  }
  const file = resolve(spec);
  requireSources('a variant file');
  if (!existsSync(file)) throw new UsageError(`variant file '${spec}' does not exist; give a registered kernel (${KERNELS.map((k) => k.name).join(', ')}) or a path to a .ts file`);
  const v = await loadVariant(file, options);
  const Ctor = v.Ctor;
  const methods = variantMethods(Ctor);
  return { name: v.name, spec: file, make: () => named(new Ctor(), v.name), variant: { file, className: v.className }, watchMethods: [...methods.overrides, ...methods.helpers].sort(), focus: declaredFocus(Ctor, spec) };
}

/** A variant class's `static focus`: checked to be op kinds or areas, else a usage error naming the file. */
function declaredFocus(Ctor: object, spec: string): readonly string[] {
  const focus: unknown = (Ctor as { focus?: unknown }).focus;
  if (focus === undefined) return [];
  if (!Array.isArray(focus) || !focus.every((f): f is string => typeof f === 'string')) throw new UsageError(`variant '${spec}': static focus must be an array of op kinds or areas, e.g. static focus = ['fork', 'gup']`);
  try {
    parseFocus(focus);
  } catch (e) {
    if (e instanceof FocusError) throw new UsageError(`variant '${spec}': static focus: ${e.message}`);
    throw e;
  }
  return focus;
}
