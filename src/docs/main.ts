import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extensionPoints, renderExtensionPoints } from './extensionPoints';

const root = join(import.meta.dirname, '..', '..');
const out = join(root, 'docs', 'extension-points.md');
writeFileSync(out, renderExtensionPoints(extensionPoints(root)));
process.stdout.write(`wrote ${out}\n`);
