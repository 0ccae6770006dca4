// `lab down`: removes exactly what `up` made, by container id / pid / network id. Images stay
// (they are the cache) unless asked; keys, registry storage and the chosen ports stay too.
import { docker } from './engine.js';
import { ACME_IMAGE, IMAGE_NAMES } from './images.js';
import { stopLb } from './lb.js';
import { BARE_LAYER, BARE_ROOTFS, ROOTFS } from './recipes.js';
import { loadState, removeDescriptor, saveState, STATE_FILE, withLabLock } from './state.js';
import { existsSync } from 'node:fs';
import { log } from './util.js';

async function removeContainer(id: string | undefined, what: string): Promise<void> {
  if (!id) return;
  try {
    await docker.getContainer(id).remove({ force: true, v: true });
    log(`removed ${what} (${id.slice(0, 12)})`);
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 404) throw e;
  }
}

export async function labDown(opts: { images?: boolean } = {}): Promise<void> {
  await withLabLock(async () => {
    if (!existsSync(STATE_FILE)) {
      log('no lab state: nothing to take down');
    } else {
      const state = loadState();
      removeDescriptor();
      await stopLb(state);
      saveState(state);
      for (const h of state.hosts) {
        await removeContainer(h.containerId, `host ${h.index}`);
        h.containerId = undefined;
        saveState(state);
      }
      state.hosts = [];
      for (const id of state.bare ?? []) await removeContainer(id, 'bare host');
      state.bare = [];
      saveState(state);
      await removeContainer(state.acme?.containerId, 'ACME CA');
      state.acme = undefined;
      await removeContainer(state.registry.containerId, 'registry');
      state.registry.containerId = undefined;
      if (state.networkId) {
        try {
          await docker.getNetwork(state.networkId).remove();
          log(`removed network (${state.networkId.slice(0, 12)})`);
        } catch (e) {
          if ((e as { statusCode?: number }).statusCode !== 404) throw e;
        }
        state.networkId = undefined;
      }
      saveState(state);
    }
    if (opts.images) {
      const tags = new Set([...Object.values(IMAGE_NAMES), ACME_IMAGE, ...ROOTFS.flatMap((r) => [r.tag, ...(r.aliases ?? [])]), BARE_LAYER.tag, BARE_ROOTFS.tag]);
      for (const tag of tags) {
        try {
          await docker.getImage(tag).remove();
          log(`removed image ${tag}`);
        } catch (e) {
          if ((e as { statusCode?: number }).statusCode !== 404) throw e;
        }
      }
    }
  });
}
