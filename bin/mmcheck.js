#!/usr/bin/env node
// The mmcheck command: registers tsx so the TypeScript sources (and users' variant .ts files) load directly.
import { register } from 'tsx/esm/api';
register();
const { main } = await import('../src/cli/main.ts');
const { ignoreClosedOutput } = await import('../src/cli/closedOutput.ts');
ignoreClosedOutput();
process.exitCode = await main(process.argv.slice(2));
