#!/usr/bin/env node
// The line-coverage tests' child process: tsx registered the way bin/mmcheck.js does it (vitest
// transforms .ts its own way, so coverage measured inside vitest would map a different output).
// Usage: lineCoverageChild.mjs <main|worker> <check|load-only> <variant.ts> <failures dir>
// In "worker" mode the same steps run inside a worker_threads Worker, which registers tsx itself.
import { register } from 'tsx/esm/api';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

register();
const { probeLineCoverage, takeOutcome } = await import('./lineCoverageProbe.ts');

if (isMainThread) {
  const [where, mode, variant, failures] = process.argv.slice(2);
  if (where === 'worker') {
    // The main thread counts too, to show that it does not see what the worker ran.
    const { startLineCoverage } = await import('../../src/variants/lineCoverage.ts');
    const mine = await startLineCoverage();
    const worker = new Worker(new URL(import.meta.url), { workerData: { mode, variant, failures } });
    const [lines] = await Promise.all([new Promise((ok, fail) => worker.once('message', ok).once('error', fail)), new Promise((ok) => worker.once('exit', ok))]);
    process.stdout.write(`WORKER_LINES ${JSON.stringify(lines)}\n`);
    process.stdout.write(`MAIN_THREAD_TAKE ${JSON.stringify(await takeOutcome(mine, variant))}\n`);
  } else {
    process.stdout.write(`LINES ${JSON.stringify(await probeLineCoverage(mode, variant, failures))}\n`);
  }
} else {
  const { mode, variant, failures } = workerData;
  parentPort.postMessage(await probeLineCoverage(mode, variant, failures));
}
