import { basename } from 'node:path';
import { KERNELS } from '../../models/registry';
import { ReferenceKernel } from '../../models/reference/ReferenceKernel';
import { UsageError } from '../cli/usageError';
import { constructVariant } from './constructVariant';
import { importVariant } from './importVariant';
import type { KernelClass } from './kernelMethods';
import { refuseMisspelledOverrides } from './misspelledOverrides';
import { typecheckVariant } from './typecheckVariant';

/** A variant file, checked and loaded: its class and the name it runs under. */
export interface LoadedVariant {
  /** Never a registered kernel's name (see variantName). */
  readonly name: string;
  readonly className: string;
  readonly Ctor: KernelClass;
}

export interface VariantLoadOptions {
  /** Type-check the file with mmcheck's tsc first (`--no-typecheck` turns it off). */
  readonly typecheck: boolean;
}

function isKernelClass(v: unknown): v is KernelClass {
  return typeof v === 'function' && v.prototype instanceof ReferenceKernel;
}

/** The default export if it is a kernel class, else the only exported kernel class. */
function chooseClass(file: string, mod: Record<string, unknown>): KernelClass {
  const def = mod['default'];
  if (isKernelClass(def)) return def;
  const classes = Object.entries(mod).filter(([, v]) => isKernelClass(v));
  const only = classes.length === 1 ? classes[0]![1] : null;
  if (isKernelClass(only)) return only;
  throw new UsageError(
    classes.length > 1
      ? `variant '${file}' exports several kernel classes (${classes.map(([n]) => n).join(', ')}); export one as default`
      : `variant '${file}' exports no kernel class: expected e.g. \`export default class MyPatch extends BatchedKernel { override zapPresentPtes(...) {...} }\``,
  );
}

/** A `--kernel` or `--workload` value that names a file (a variant, a workload) rather than a registered name. */
export const looksLikePath = (s: string): boolean => s.endsWith('.ts') || s.endsWith('.js') || s.includes('/');

/**
 * The instance answers to the name it was loaded under: a variant that inherits or claims a
 * registered name (`batched`) runs as `batched+MyPatch`, so no trace or report can mistake it for
 * the registered kernel.
 */
export function named(k: ReferenceKernel, name: string): ReferenceKernel {
  if (k.name !== name) Object.defineProperty(k, 'name', { value: name });
  return k;
}

/**
 * The name a variant runs under. Registered names are reserved — a variant that keeps the
 * inherited `batched` (or sets a registered name) would pass for that kernel in reports and
 * failure files — so it gets `<name>+<ClassName>` instead.
 */
export function variantName(instanceName: string, className: string): string {
  return KERNELS.some((k) => k.name === instanceName) ? `${instanceName}+${className}` : instanceName;
}

/**
 * Load a variant file (an absolute path that exists): type-check it, import it, pick its kernel
 * class, refuse misspelled overrides, and make one instance to prove the constructor works.
 */
export async function loadVariant(file: string, options: VariantLoadOptions): Promise<LoadedVariant> {
  // A .js variant has no types to check; tsc would only complain that it is JavaScript.
  if (options.typecheck && /\.[cm]?ts$/.test(file)) typecheckVariant(file);
  const Ctor = chooseClass(file, await importVariant(file));
  refuseMisspelledOverrides(file, Ctor);
  // An anonymous `export default class extends …` is named 'default'; the file says more.
  const className = Ctor.name === '' || Ctor.name === 'default' ? basename(file).replace(/\.[cm]?[jt]s$/, '') : Ctor.name;
  const probe = constructVariant(file, Ctor);
  return { name: variantName(probe.name, className), className, Ctor };
}
