// Registry credentials for the engine (dockerode authconfig, sent in a header: never argv),
// and the registry host an image lives on (pure).
import { reporter } from '../util/reporter.js';

export interface RegistryAuth {
  username: string;
  password: string;
  serveraddress: string;
}

/** The registry host of an image reference: its first path part when that looks like a host. */
export function registryHostOf(image: string): string {
  const first = image.split('/')[0];
  const isHost = image.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost');
  return isHost ? first : 'docker.io';
}

/** Server address as the engine expects it (Docker Hub has a legacy URL). */
export function serverAddress(host: string): string {
  return host === 'docker.io' || host === 'index.docker.io' ? 'https://index.docker.io/v1/' : host;
}

/** Auth from the inputs, or undefined when no user name was given. The password is masked here too. */
export function registryAuth(o: { image: string; registry?: string; username?: string; password?: string }): RegistryAuth | undefined {
  if (!o.username) return undefined;
  if (o.password) reporter().setSecret(o.password);
  return { username: o.username, password: o.password ?? '', serveraddress: serverAddress(o.registry || registryHostOf(o.image)) };
}

/** Splits `repo[:tag]` (a port in the host part is not a tag). */
export function splitTag(ref: string): { repo: string; tag?: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  return colon > slash ? { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) } : { repo: ref };
}
