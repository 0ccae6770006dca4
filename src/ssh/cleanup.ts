import { rm } from 'node:fs/promises';
import { registerCleanupHandler } from '../util/cleanup.js';

registerCleanupHandler('path', async ({ path }) => {
  await rm(path, { recursive: true, force: true });
});
