import { runCheck } from './src/check/runCheck';
import { geometry } from './models/machine/geometry';
import { BatchedKernel } from './models/batched/BatchedKernel';
import { ReferenceKernel } from './models/reference/ReferenceKernel';
const g = geometry(process.argv[2] ?? 'small');
const r = runCheck({ kernel: () => new BatchedKernel(), reference: () => new ReferenceKernel(), geometry: g, runs: Number(process.argv[3] ?? 800), seed: 1, maxOps: 60 });
console.log(r.steps, r.elapsedMs);
