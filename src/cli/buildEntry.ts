/**
 * The entry of the built CLI (dist/cli/cli.mjs, `npm run build`): what bin/mmcheck.js needs, from
 * one bundle, with no TypeScript compiled at start.
 */
export { main } from './main';
export { ignoreClosedOutput } from './closedOutput';
export { markRunningFromBuild } from './sourceMode';
