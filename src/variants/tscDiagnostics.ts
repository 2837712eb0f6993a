import { isAbsolute, resolve } from 'node:path';

/** One located error from `tsc --pretty false`. */
export interface TscDiagnostic {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** e.g. `TS2322`. */
  readonly code: string;
  readonly message: string;
}

// `file(line,col): error TSnnnn: message`; continuation lines (elaborations) are indented and skipped.
const DIAGNOSTIC = /^(.+)\((\d+),(\d+)\): error (TS\d+): (.*)$/;

/** The located errors in tsc's output, paths made absolute against the directory tsc ran in. */
export function parseTscDiagnostics(output: string, cwd: string): TscDiagnostic[] {
  const out: TscDiagnostic[] = [];
  for (const line of output.split(/\r?\n/)) {
    const m = DIAGNOSTIC.exec(line);
    if (m === null) continue;
    out.push({ file: isAbsolute(m[1]!) ? m[1]! : resolve(cwd, m[1]!), line: Number(m[2]), column: Number(m[3]), code: m[4]!, message: m[5]! });
  }
  return out;
}

/** `file:line:col: message (TSnnnn)`, the form editors and terminals link. */
export const formatDiagnostic = (d: TscDiagnostic): string => `${d.file}:${d.line}:${d.column}: ${d.message} (${d.code})`;
