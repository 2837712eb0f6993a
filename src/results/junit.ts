import type { Report } from '../schema/report';

/** XML 1.0 cannot carry most control characters even escaped; they are dropped. */
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g;

/** Text or attribute value with the five XML specials escaped. */
export function xmlEscape(s: string): string {
  return s.replace(NOT_XML, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);

/**
 * JUnit XML as CI systems read it (Jenkins, GitLab, GitHub test reporters): one <testsuite> named
 * after the command, one <testcase> per case; a failed case carries a <failure> whose message is
 * the one-line reason and whose text is the human report of it (the counterexample trace).
 */
export function formatJunit(r: Report): string {
  const failures = r.tests.filter((t) => t.status === 'fail').length;
  const suite = `mmcheck ${r.command}`;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="mmcheck" tests="${r.tests.length}" failures="${failures}" errors="0" time="${seconds(r.elapsedMs)}">`,
    `  <testsuite name="${xmlEscape(suite)}" tests="${r.tests.length}" failures="${failures}" errors="0" skipped="0" time="${seconds(r.elapsedMs)}">`,
  ];
  for (const t of r.tests) {
    const head = `    <testcase classname="mmcheck.${r.command}" name="${xmlEscape(t.name)}" time="${seconds(t.elapsedMs)}"`;
    if (t.status === 'pass') {
      out.push(`${head}/>`);
      continue;
    }
    out.push(`${head}>`, `      <failure message="${xmlEscape(t.message ?? 'failed')}" type="${xmlEscape(r.command)}">${xmlEscape(t.details.join('\n'))}</failure>`, '    </testcase>');
  }
  out.push('  </testsuite>', '</testsuites>');
  return `${out.join('\n')}\n`;
}
