import type { Report } from '../schema/report';

/** A TAP description cannot hold '#' (it starts a directive) or a line break. */
const description = (s: string): string => s.replace(/#/g, 'no.').replace(/\s+/g, ' ');

/**
 * TAP 13 as the kernel's kselftest prints it (tools/testing/selftests/kselftest.h): the version,
 * the plan, each case's report as '# ' diagnostic lines before its 'ok N' / 'not ok N' line, and
 * the closing '# Totals:' line, so kselftest-minded CI and tap parsers read mmcheck's results.
 */
export function formatTap(r: Report): string {
  const out = ['TAP version 13', `1..${r.tests.length}`, `# mmcheck ${r.command}`];
  r.tests.forEach((t, i) => {
    for (const d of t.details) out.push(d === '' ? '#' : `# ${d}`);
    const why = t.status === 'fail' && t.message !== null ? ` - ${description(t.message)}` : '';
    out.push(`${t.status === 'pass' ? 'ok' : 'not ok'} ${i + 1} ${description(t.name)}${why}`);
  });
  const pass = r.tests.filter((t) => t.status === 'pass').length;
  out.push(`# Totals: pass:${pass} fail:${r.tests.length - pass} xfail:0 xpass:0 skip:0 error:0`);
  return `${out.join('\n')}\n`;
}
