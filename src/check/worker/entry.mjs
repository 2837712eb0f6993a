// A check's worker thread: registers tsx (workers do not inherit the main thread's loader hooks),
// then runs the TypeScript worker body.
import { register } from 'tsx/esm/api';
register();
await import('./checkWorker.ts');
