// dockerode pulls in ssh2, whose bundled WebAssembly loader reads `__dirname`, which ES modules
// do not have. Defining it globally before anything else loads keeps the ncc bundle working.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const g = globalThis as Record<string, unknown>;
if (g.__dirname === undefined) {
  const file = fileURLToPath(import.meta.url);
  g.__filename = file;
  g.__dirname = path.dirname(file);
}
