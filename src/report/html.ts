import type { StepExplanation } from './explain';
import { isBadStep } from './explain';
import type { LitmusTable } from './litmus';
import type { Violation } from '../../models/machine/violation';
import { violationRows, violationText } from './kernelKeys';

/**
 * `mmcheck explain --html`: a self-contained page showing a counterexample step by step — for
 * each kernel its page tables, folios, TLBs per CPU and walkers after the step, with what the
 * step changed highlighted, and the first divergence or violation marked. No external assets.
 */
export function renderExplanationHtml(title: string, steps: readonly StepExplanation[], litmus: LitmusTable | null = null): string {
  const nav = steps
    .map((s) => `<li><a href="#step-${s.step}" class="${isBadStep(s) ? 'bad' : ''}">${s.step}. ${esc(s.op)}</a></li>`)
    .join('\n');
  const body = steps.map(renderStep).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>${CSS}</style></head>
<body>
<nav><h1>mmcheck explain</h1><p class="sub">${esc(title)}</p><p class="hint">j / k: next / previous step</p><ol>${nav}</ol></nav>
<main>${litmus === null ? '' : `<section class="litmus"><h2>interleaving</h2>${renderLitmusHtml(litmus)}</section>`}${body}</main>
<script>${SCRIPT}</script>
</body></html>
`;
}

/**
 * The litmus table of an interleaved counterexample (litmus.ts) as HTML: one column per CPU, a
 * row per step, the cells inside a task's window shaded, the failing row highlighted and the
 * violation under the table.
 */
export function renderLitmusHtml(t: LitmusTable): string {
  const head = `<tr><th>step</th>${t.columns.map((c) => `<th>${esc(c)}</th>`).join('')}</tr>`;
  const rows = t.rows
    .map((r) => {
      const cells = r.cells.map((c) => `<td${c.inFlight ? ' class="inflight"' : ''}>${c.lines.map(esc).join('<br>')}</td>`).join('');
      return `<tr${r.failed ? ' class="failed"' : ''}><th>${r.failed ? '✗ ' : ''}${r.step}</th>${cells}</tr>`;
    })
    .join('');
  const v = t.violation === null ? '' : `<div class="violation">✗ ${esc(t.violation)}</div>`;
  return `<table class="litmus"><thead>${head}</thead><tbody>${rows}</tbody></table>${v}`;
}

function renderStep(s: StepExplanation): string {
  const kernels = s.kernels
    .map((k) => {
      const changed = new Set(k.changes.map((c) => c.slice(2).split(': ')[0]));
      const removed = k.changes.filter((c) => c.startsWith('- '));
      const culprits = k.violation === null ? [] : violationRows(k.violation, k.after);
      const culpritKeys = new Set(culprits.map(([key]) => key));
      const groups = groupView(k.after);
      const tables = [...groups.entries()]
        .map(
          ([group, rows]) =>
            `<table class="${group === 'folios' ? 'folios' : ''}"><caption>${esc(group)}</caption>${rows
              .map(([key, value]) => `<tr class="${[changed.has(key) ? 'changed' : '', culpritKeys.has(key) ? 'culprit' : ''].join(' ').trim()}"><th>${esc(key.startsWith(`${group}.`) ? key.slice(group.length + 1) : key)}</th><td>${esc(value)}</td></tr>`)
              .join('')}</table>`,
        )
        .join('');
      const gone = removed.length === 0 ? '' : `<div class="removed"><b>removed by this step</b><ul>${removed.map((r) => `<li>${esc(r.slice(2))}</li>`).join('')}</ul></div>`;
      const v = k.violation === null ? '' : renderViolation(k.violation, culprits, removed.map((r) => r.slice(2)));
      const tasks = k.tasks.length === 0 ? '' : `<ul class="tasks">${k.tasks.map((t) => `<li>${esc(t)}</li>`).join('')}</ul>`;
      return `<section class="kernel"><h3>${esc(k.kernel)} → ${esc(k.result)}</h3>${v}${tasks}${gone}<div class="tables">${tables}</div></section>`;
    })
    .join('');
  const div = s.divergence === null ? '' : `<div class="violation">first divergence: ${esc(s.divergence)}</div>`;
  const stops =
    s.comparisonStops === true
      ? '<div class="note">this op races with a preempted kernel task: the kernels are not compared until they agree again</div>'
      : s.comparisonResumes === true
        ? '<div class="note">no task in flight and the kernels agree again: compared from here on</div>'
        : '';
  return `<article id="step-${s.step}" class="step ${isBadStep(s) ? 'bad' : ''}"><h2>step ${s.step}: ${esc(s.op)}</h2>${div}${stops}<div class="kernels">${kernels}</div></article>`;
}

/**
 * A violation as the reader needs it: in the state view's keys, next to the rows that still name
 * its frame after the step (the stale TLB entry that maps a freed page) and what the step removed
 * (the folio that was freed).
 */
function renderViolation(v: Violation, culprits: ReadonlyArray<[string, string]>, removed: readonly string[]): string {
  const still = culprits.length === 0 ? '' : `<div class="culprits"><b>still there after the step</b><ul>${culprits.map(([key, value]) => `<li>${esc(`${key}: ${value}`)}</li>`).join('')}</ul></div>`;
  const gone = removed.length === 0 ? '' : `<div class="culprits"><b>removed by the step</b><ul>${removed.map((r) => `<li>${esc(r)}</li>`).join('')}</ul></div>`;
  return `<div class="violation">✗ ${esc(violationText(v))}${still}${gone}</div>`;
}

/** Group "a.b.c → v" lines by what they describe: one mm's page tables, folios, one CPU, handles, the rest. */
function groupView(view: ReadonlyMap<string, string>): Map<string, Array<[string, string]>> {
  const groups = new Map<string, Array<[string, string]>>();
  for (const [key, value] of view) {
    const first = key.split('.')[0]!;
    const group = key.startsWith('folio ') ? 'folios' : key.startsWith('handle') ? 'GUP handles' : first;
    const rows = groups.get(group) ?? [];
    rows.push([key, value]);
    groups.set(group, rows);
  }
  return groups;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

const CSS = `
body{margin:0;font:13px/1.4 ui-monospace,Menlo,Consolas,monospace;display:flex;color:#222}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:340px;background:#f4f4f6;padding:8px 12px;box-sizing:border-box;flex:none}
nav h1{font-size:15px;margin:4px 0}.sub,.hint{color:#666;margin:2px 0}nav ol{padding-left:0;list-style:none}
nav a{color:#225;text-decoration:none;display:block;padding:1px 4px}nav a.bad{color:#b00;font-weight:bold}nav a.current{background:#dde}
main{padding:8px 16px;flex:1;min-width:0}.step{border-top:2px solid #ccd;padding:6px 0 16px}.step.bad h2{color:#b00}
h2{font-size:14px;margin:6px 0}h3{font-size:13px;margin:4px 0;color:#335}
.kernels{display:flex;gap:16px;flex-wrap:wrap}.kernel{flex:1;min-width:380px}
.tables{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start}
table{border-collapse:collapse;background:#fff;border:1px solid #ddd}caption{text-align:left;font-weight:bold;padding:2px 4px;background:#eef}
th,td{padding:1px 6px;text-align:left;font-weight:normal;border-bottom:1px solid #f0f0f0;white-space:nowrap}th{color:#555}
tr.changed{background:#fff3b0}tr.changed th{color:#000;font-weight:bold}tr.culprit{background:#fcc;outline:2px solid #c33}
table.folios td{white-space:normal;overflow-wrap:anywhere;max-width:36em}
.culprits{font-weight:normal;color:#600;margin-top:4px}.culprits ul{margin:2px 0;padding-left:18px}
.violation{background:#fdd;border:1px solid #c66;padding:4px 8px;margin:4px 0;color:#900;font-weight:bold;white-space:pre-wrap}
table.litmus td,table.litmus th{white-space:normal;vertical-align:top;border:1px solid #ddd;max-width:28em}
table.litmus thead th{font-weight:bold;background:#eef}table.litmus td.inflight{background:#e3ecff;border-left:3px solid #36c}
table.litmus tr.failed{background:#fdd}table.litmus tr.failed th{color:#b00;font-weight:bold}
.note{background:#eef3ff;border:1px solid #99b;padding:2px 8px;margin:4px 0;color:#335}
.tasks{margin:4px 0;padding-left:18px;color:#236}
.removed{background:#eee;padding:2px 8px;margin:4px 0}.removed li{text-decoration:line-through;color:#777}
`;

const SCRIPT = `
(function(){
  var steps=[].slice.call(document.querySelectorAll('article.step'));
  var links=[].slice.call(document.querySelectorAll('nav a'));
  var i=0;
  function go(n){ if(!steps.length) return; i=Math.max(0,Math.min(steps.length-1,n)); steps[i].scrollIntoView();
    links.forEach(function(a,k){a.classList.toggle('current',k===i);}); }
  document.addEventListener('keydown',function(e){ if(e.key==='j') go(i+1); if(e.key==='k') go(i-1); });
  links.forEach(function(a,k){a.addEventListener('click',function(){i=k;});});
  document.body.setAttribute('data-steps', String(steps.length));
  // Folio rows wrap (a 512-page folio's page list is long): count the folio tables wider than the window anyway.
  var wide=[].slice.call(document.querySelectorAll('table.folios')).filter(function(t){return t.getBoundingClientRect().right>window.innerWidth+1;});
  document.body.setAttribute('data-wide-folio-tables', String(wide.length));
  document.body.setAttribute('data-ready','1');
})();
`;
