import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from '@babel/parser';
import type { ClassMethod, Comment, File, ImportDeclaration, Node, TSTypeAnnotation } from '@babel/types';

/** A kernel method as its source declares it: what a stub overriding it needs. */
export interface MethodSource {
  /** `<T extends …>` when the method is generic, else ''. */
  readonly typeParameters: string;
  /** The parameter list as written, without the parentheses. */
  readonly params: string;
  /** The arguments that pass every parameter on to `super`: names, `...rest` for a rest parameter. */
  readonly args: string;
  /** `: Type` as written, or '' when the return type is inferred. */
  readonly returnType: string;
  readonly returnsVoid: boolean;
  /** The first sentence of its doc comment (which names the kernel function it mirrors), or ''. */
  readonly summary: string;
  /** As declared: a private method is a helper no subclass can override; a protected one stays protected. */
  readonly accessibility: 'public' | 'protected' | 'private';
  /** The types its signature names, each with the absolute path (no suffix) of the module exporting it. */
  readonly typeImports: ReadonlyMap<string, string>;
}

/** Every exported class of the model: name → file. Classes are looked up by the name the prototype chain gives. */
export function modelClassFiles(modelsDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) {
        for (const m of readFileSync(p, 'utf8').matchAll(/^export (?:abstract )?class (\w+)/gm)) if (!out.has(m[1]!)) out.set(m[1]!, p);
      }
    }
  };
  walk(modelsDir);
  return out;
}

const isMethodNamed = (n: Node, name: string): n is ClassMethod => n.type === 'ClassMethod' && n.kind === 'method' && n.key.type === 'Identifier' && n.key.name === name;

/** The names a type annotation refers to (`Machine`, `MmuGather`, `Readonly<…>`'s argument…). */
function typeNames(node: unknown, out: Set<string>): void {
  if (Array.isArray(node)) {
    for (const n of node) typeNames(n, out);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const n = node as { type?: unknown; typeName?: { type: string; name?: string; left?: unknown } };
  if (n.type === 'TSTypeReference' && n.typeName !== undefined) {
    let t: { type: string; name?: string; left?: unknown } = n.typeName;
    while (t.type === 'TSQualifiedName') t = t.left as { type: string; name?: string; left?: unknown };
    if (t.name !== undefined) out.add(t.name);
  }
  for (const [k, v] of Object.entries(node)) if (k !== 'loc' && k !== 'leadingComments' && k !== 'trailingComments' && k !== 'innerComments') typeNames(v, out);
}

/** The first sentence of a JSDoc comment, on one line. */
function firstSentence(c: Comment | undefined): string {
  if (c === undefined || c.type !== 'CommentBlock' || !c.value.startsWith('*')) return '';
  const text = c.value.replace(/^\*/, '').split('\n').map((l) => l.replace(/^\s*\* ?/, '').trim()).join(' ').trim();
  const end = text.search(/[.:](\s|$)/);
  return (end >= 0 ? text.slice(0, end + 1) : text).replace(/:$/, '.');
}

/** The module a type name comes from in `file`: its import, or `file` itself when declared (and exported) there. */
function typeOrigins(ast: File, source: string, file: string, names: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const st of ast.program.body) {
    if (st.type !== 'ImportDeclaration') continue;
    const imp: ImportDeclaration = st;
    if (!imp.source.value.startsWith('.')) continue;
    for (const s of imp.specifiers) if (names.has(s.local.name)) out.set(s.local.name, resolve(dirname(file), imp.source.value).replace(/\.ts$/, ''));
  }
  for (const n of names) {
    if (out.has(n)) continue;
    if (new RegExp(`^export (?:type|interface|class|abstract class|enum) ${n}\\b`, 'm').test(source)) out.set(n, file.replace(/\.ts$/, ''));
    // A type only this file can name would make the stub fail to type-check: a model bug to fix by exporting it.
    else if (new RegExp(`^(?:type|interface|class|abstract class|enum) ${n}\\b`, 'm').test(source)) throw new Error(`${file}: type ${n} is used in a kernel method's signature but not exported`);
  }
  return out;
}

/** `method` as `className` declares it in `file`, or null if that class does not declare it there. */
export function methodSource(file: string, className: string, method: string): MethodSource | null {
  const source = readFileSync(file, 'utf8');
  const ast = parse(source, { sourceType: 'module', sourceFilename: file, plugins: ['typescript', 'decorators'] });
  for (const st of ast.program.body) {
    const decl = st.type === 'ExportNamedDeclaration' ? st.declaration : st;
    if (decl?.type !== 'ClassDeclaration' || decl.id?.name !== className) continue;
    const m = decl.body.body.find((n) => isMethodNamed(n, method));
    if (m === undefined || m.type !== 'ClassMethod') return null;
    const slice = (n: { start?: number | null; end?: number | null }): string => source.slice(n.start ?? 0, n.end ?? 0);
    const params = m.params.map(slice).join(', ');
    const args = m.params
      .map((p) => {
        if (p.type === 'Identifier') return p.name;
        if (p.type === 'RestElement' && p.argument.type === 'Identifier') return `...${p.argument.name}`;
        if (p.type === 'AssignmentPattern' && p.left.type === 'Identifier') return p.left.name;
        throw new Error(`${className}.${method}: a destructured parameter (${slice(p)}) cannot be passed on by name`);
      })
      .join(', ');
    const ret = m.returnType?.type === 'TSTypeAnnotation' ? (m.returnType as TSTypeAnnotation) : null;
    const names = new Set<string>();
    typeNames(m.params, names);
    typeNames(ret, names);
    const typeParams = m.typeParameters?.type === 'TSTypeParameterDeclaration' ? m.typeParameters : null;
    if (typeParams !== null) for (const p of typeParams.params) names.delete(p.name);
    typeNames(typeParams, names);
    if (typeParams !== null) for (const p of typeParams.params) names.delete(p.name);
    return {
      accessibility: m.accessibility ?? 'public',
      typeParameters: typeParams !== null ? slice(typeParams) : '',
      params,
      args,
      returnType: ret !== null ? slice(ret) : '',
      returnsVoid: ret !== null && ret.typeAnnotation.type === 'TSVoidKeyword',
      summary: firstSentence(m.leadingComments?.at(-1)),
      typeImports: typeOrigins(ast, source, file, names),
    };
  }
  return null;
}
