// `lab status`: what is up, from the state file checked against the engine and the process table.
import { existsSync } from 'node:fs';
import { docker, engineAnswers } from './engine.js';
import { imageRecipe, IMAGE_NAMES } from './images.js';
import { labPath, LAB_FILE, loadState, STATE_FILE } from './state.js';
import { pidAlive } from './util.js';

async function containerStatus(id: string | undefined): Promise<string> {
  if (!id) return 'absent';
  try {
    const info = await docker.getContainer(id).inspect();
    return `${info.State.Status} (${id.slice(0, 12)})`;
  } catch {
    return `gone (${id.slice(0, 12)})`;
  }
}

export async function labStatus(out: (line: string) => void = (l) => process.stdout.write(l + '\n')): Promise<boolean> {
  if (!(await engineAnswers())) {
    out('engine: not answering');
    return false;
  }
  out('engine: answering');
  for (const [role, tag] of Object.entries(IMAGE_NAMES)) {
    const recipe = await imageRecipe(tag);
    out(`image ${role.padEnd(15)} ${tag.padEnd(38)} ${recipe ? `recipe ${recipe}` : 'missing'}`);
  }
  if (!existsSync(STATE_FILE)) {
    out('lab: never brought up here (no state)');
    return false;
  }
  const s = loadState();
  out(`lab ${s.labId} in ${labPath()}`);
  const reg = await containerStatus(s.registry.containerId);
  out(`registry 127.0.0.1:${s.registry.port} ${reg}`);
  let allUp = reg.startsWith('running');
  for (const h of s.hosts) {
    const st = await containerStatus(h.containerId);
    allUp &&= st.startsWith('running');
    out(`host ${h.index}  ssh 127.0.0.1:${h.sshPort}  web 127.0.0.1:${h.webPort}  ${st}`);
  }
  if (s.acme?.containerId) out(`ACME CA ${await containerStatus(s.acme.containerId)}`);
  const lbUp = pidAlive(s.lb.pid);
  allUp &&= lbUp;
  out(`nginx 127.0.0.1:${s.lb.port} ${lbUp ? `running (pid ${s.lb.pid})` : 'not running'}`);
  out(`descriptor ${existsSync(LAB_FILE) ? LAB_FILE : 'absent'}`);
  return allUp && s.hosts.length > 0;
}
