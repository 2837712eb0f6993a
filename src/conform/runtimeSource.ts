import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../packageRoot';
import type { ProgramStep } from './modelRun';
import { commandLine, cStatement } from './cCall';

/** The C runtime and its stdin interpreter (src/conform/c/). */
export const RUNTIME_C = join(PACKAGE_ROOT, 'src', 'conform', 'c', 'runtime.c');
export const INTERPRETER_C = join(PACKAGE_ROOT, 'src', 'conform', 'c', 'interpreter.c');

/** A C comment holding text that cannot close it. */
const comment = (s: string): string => `/* ${s.replaceAll('*/', '* /')} */`;

/**
 * A self-contained C program: the runtime's text, then a main() that performs the program's
 * steps in order and prints the observables after each. Built with
 * `gcc -O1 -pthread prog.c -o prog`; it needs root (pagemap frame numbers, kpageflags, THP sysfs).
 */
export function exportedProgram(steps: readonly ProgramStep[], header: readonly string[]): string {
  const body: string[] = [];
  for (const s of steps) {
    const note = s.left === null ? '' : ` — left out: ${s.left}`;
    body.push(`  ${comment(`step ${s.step}: ${s.text}${note}`)}`);
    for (const c of s.calls) body.push(`  ${cStatement(s.step, c)}`);
    body.push(`  observe(${s.step});`);
  }
  return [
    ...header.map((h) => `// ${h}`),
    '',
    readFileSync(RUNTIME_C, 'utf8'),
    '',
    'int main(void)',
    '{',
    '  mm_start();',
    ...body,
    '  return mm_finish();',
    '}',
    '',
  ].join('\n');
}

/** The same steps as interpreter commands, one per line. */
export function interpreterInput(steps: readonly ProgramStep[]): string {
  const lines: string[] = [];
  for (const s of steps) {
    lines.push(`# step ${s.step}: ${s.text}${s.left === null ? '' : ` (left out: ${s.left})`}`);
    for (const c of s.calls) lines.push(commandLine(s.step, c));
    lines.push(`observe ${s.step}`);
  }
  return `${lines.join('\n')}\n`;
}
