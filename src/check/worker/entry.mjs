// A check's worker thread: registers tsx and the ESM hook for variant files, as bin/mmcheck.js
// does (workers do not inherit the main thread's loader hooks), then runs the worker body.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';
register();
registerHooks(new URL('../../variants/esmHooks.ts', import.meta.url));
await import('./checkWorker.ts');
