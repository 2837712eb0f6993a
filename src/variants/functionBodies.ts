import { parse } from '@babel/parser';

/** The inside of one function body, as offsets into the source: [start, end). */
export interface Body {
  readonly start: number;
  readonly end: number;
}

const FUNCTIONS = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression', 'ObjectMethod', 'ClassMethod', 'ClassPrivateMethod']);

interface AstNode {
  readonly type: string;
  readonly start: number;
  readonly end: number;
}

const isNode = (v: unknown): v is AstNode =>
  typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string' && typeof (v as { start?: unknown }).start === 'number' && typeof (v as { end?: unknown }).end === 'number';

/**
 * Where the function bodies of a TypeScript (or JavaScript) source are: the code between a body's
 * braces, or the whole expression of an arrow without braces. Parameters, signatures, class fields
 * and top-level statements lie outside — they are not what a reviewer means by "the patch ran".
 * The original source is parsed (not tsx's output) so bodies are exact in the reviewer's
 * coordinates whatever esbuild did to the code; Babel understands TypeScript syntax, and
 * `errorRecovery` keeps errors only a type checker cares about from stopping it.
 */
export function functionBodies(source: string, file: string): Body[] {
  const ast = parse(source, { sourceType: 'module', sourceFilename: file, errorRecovery: true, plugins: ['typescript', 'decorators'] });
  const bodies: Body[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      for (const item of v) visit(item);
      return;
    }
    if (!isNode(v)) return;
    if (FUNCTIONS.has(v.type)) {
      const body = (v as { body?: unknown }).body;
      if (isNode(body)) bodies.push(body.type === 'BlockStatement' ? { start: body.start + 1, end: body.end - 1 } : { start: body.start, end: body.end });
    }
    for (const [key, child] of Object.entries(v)) {
      // comments are attached to several nodes at once and hold no code
      if (key !== 'leadingComments' && key !== 'trailingComments' && key !== 'innerComments' && key !== 'loc') visit(child);
    }
  };
  visit(ast.program);
  return bodies;
}

export const insideAny = (bodies: readonly Body[], offset: number): boolean => bodies.some((b) => offset >= b.start && offset < b.end);
