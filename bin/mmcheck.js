#!/usr/bin/env node
// The mmcheck command: registers tsx so the TypeScript sources (and users' variant .ts files) load directly.
import { register as registerHooks } from 'node:module';
import { register } from 'tsx/esm/api';
register();
// After tsx, so its hooks load this .ts file: variant .ts files load as ES modules wherever they are.
registerHooks(new URL('../src/variants/esmHooks.ts', import.meta.url));
const { main } = await import('../src/cli/main.ts');
const { ignoreClosedOutput } = await import('../src/cli/closedOutput.ts');
ignoreClosedOutput();
const code = await main(process.argv.slice(2));
// An interrupted check (130) has printed its summary; die by SIGINT as a shell expects.
if (code === 130) process.kill(process.pid, 'SIGINT');
process.exitCode = code;
