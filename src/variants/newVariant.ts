import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { PACKAGE_ROOT } from '../packageRoot';
import { KERNELS, kernelEntry, UnknownKernelError } from '../../models/registry';
import { UsageError } from '../cli/usageError';
import type { KernelClass } from './kernelMethods';
import { kernelMethodNames } from './kernelMethods';
import { closestKernelMethods } from './misspelledOverrides';
import type { MethodSource } from './methodSource';
import { methodSource, modelClassFiles } from './methodSource';

/** mmcheck's root, whose models/ the stub imports from. */
const ROOT = PACKAGE_ROOT;

export interface NewVariantOptions {
  /** The variant's name, kebab-case (`my-patch`): the file name and the name it runs under. */
  readonly name: string;
  /** Kernel methods the patch changes: each gets an override that calls the kernel's own. */
  readonly overrides: readonly string[];
  /** The registered kernel it patches (`batched` unless told). */
  readonly base: string;
  /** Where the file goes (`variants/`). */
  readonly dir: string;
}

const NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** `my-patch` → `MyPatch`. */
export const className = (name: string): string => name.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');

/**
 * `mmcheck new-variant`: write `<dir>/<name>.ts`, a variant of a registered kernel whose overrides
 * call the kernel's own methods (so it holds until edited), with each method's signature, types
 * and imports as the model declares them and its doc comment naming the kernel function. It
 * type-checks as written; it never overwrites a file. Returns the path written.
 */
export function writeNewVariant(o: NewVariantOptions): string {
  if (!NAME.test(o.name)) throw new UsageError(`the variant name '${o.name}' must be kebab-case: lowercase letters and digits in words joined by '-', e.g. my-patch`);
  const base = baseKernel(o.base);
  const methods = kernelMethodNames(base.Ctor);
  const unknown = o.overrides.filter((m) => !methods.has(m));
  if (unknown.length > 0) {
    throw new UsageError(unknown.map((m) => `${m}() is no method of ${o.base} (closest: ${closestKernelMethods(m, methods).join(', ')})`).join('; ') + '; docs/extension-points.md lists them');
  }
  const file = resolve(o.dir, `${o.name}.ts`);
  if (existsSync(file)) throw new UsageError(`${relative(process.cwd(), file)} exists; new-variant never overwrites a file (pick another name, or edit that one)`);
  const classes = modelClassFiles(join(ROOT, 'models'));
  const sources = [...new Set(o.overrides)].map((m) => ({ name: m, src: declaration(base.Ctor, m, classes) }));
  const privates = sources.filter((m) => m.src.accessibility === 'private').map((m) => `${m.name}()`);
  if (privates.length > 0) throw new UsageError(`${privates.join(', ')} ${privates.length > 1 ? 'are' : 'is'} private in the model (a helper a subclass cannot override); override the kernel method that calls it`);
  const text = variantText(o.name, base, sources, dirname(file), classes, join(o.dir, `${o.name}.ts`));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

interface Base {
  readonly name: string;
  readonly Ctor: KernelClass;
}

/** `--base`: a registered kernel (not a mutant), as its class. */
function baseKernel(name: string): Base {
  const bases = KERNELS.filter((k) => k.role !== 'mutant');
  let entry;
  try {
    entry = kernelEntry(name);
  } catch (e) {
    if (e instanceof UnknownKernelError) throw new UsageError(`--base takes a registered kernel (${bases.map((k) => k.name).join(', ')}), got '${name}'`);
    throw e;
  }
  if (entry.role === 'mutant') throw new UsageError(`--base takes a registered kernel (${bases.map((k) => k.name).join(', ')}); '${name}' is a mutant, a deliberate bug`);
  return { name: entry.name, Ctor: entry.make().constructor as KernelClass };
}

/** The method as the nearest class on `Ctor`'s chain that defines it declares it. */
function declaration(Ctor: KernelClass, method: string, classes: ReadonlyMap<string, string>): MethodSource {
  for (let p: object | null = Ctor.prototype as object; p !== null && p !== Object.prototype; p = Object.getPrototypeOf(p) as object | null) {
    if (!Object.prototype.hasOwnProperty.call(p, method)) continue;
    const owner = (p as { constructor: { name: string } }).constructor.name;
    const file = classes.get(owner);
    const src = file !== undefined ? methodSource(file, owner, method) : null;
    if (src === null) throw new Error(`cannot find ${owner}.${method} in ${file ?? 'models/'}`);
    return src;
  }
  throw new Error(`${Ctor.name} has no method ${method}`);
}

/** An import path from `fromDir` to a module (absolute, no suffix), as `./…` or `../…`. */
function importPath(fromDir: string, module: string): string {
  const rel = relative(fromDir, module).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

function variantText(name: string, base: Base, methods: ReadonlyArray<{ name: string; src: MethodSource }>, dir: string, classes: ReadonlyMap<string, string>, shownPath: string): string {
  const baseFile = classes.get(base.Ctor.name);
  if (baseFile === undefined) throw new Error(`cannot find class ${base.Ctor.name} in models/`);
  const types = new Map<string, string>();
  for (const m of methods) for (const [t, mod] of m.src.typeImports) types.set(t, mod);
  const byModule = new Map<string, string[]>();
  for (const [t, mod] of [...types].sort(([a], [b]) => a.localeCompare(b))) byModule.set(mod, [...(byModule.get(mod) ?? []), t]);
  const lines = [`import { ${base.Ctor.name} } from '${importPath(dir, baseFile.replace(/\.ts$/, ''))}';`];
  for (const [mod, names] of [...byModule].sort(([a], [b]) => a.localeCompare(b))) lines.push(`import type { ${names.join(', ')} } from '${importPath(dir, mod)}';`);
  lines.push(
    '',
    '/**',
    ` * ${name}: what the patch changes, and where it was posted (the thread, the commit).`,
    ` * A variant of ${base.name}; check it with \`npx mmcheck check --kernel ${shownPath}\`.`,
    ' */',
    `export default class ${className(name)} extends ${base.Ctor.name} {`,
    `  override readonly name: string = '${name}';`,
  );
  for (const { name: method, src } of methods) {
    const call = `super.${method}(${src.args})`;
    lines.push(
      '',
      '  /**',
      ...(src.summary !== '' ? [`   * ${src.summary}`] : []),
      "   * The patch's version: edit below (until then it calls the kernel's own).",
      '   */',
      `  ${src.accessibility === 'protected' ? 'protected ' : ''}override ${method}${src.typeParameters}(${src.params})${src.returnType} {`,
      src.returnsVoid ? `    ${call};` : `    return ${call};`,
      '  }',
    );
  }
  lines.push('}', '');
  return lines.join('\n');
}
