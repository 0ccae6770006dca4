// Which service names the cleanroom catalog knows (it provides their image, port, readiness probe
// and app environment). Any other name is a custom service and must bring `image` and `port`.
// The catalog itself is the cleanroom stage's; this only asks it, so the two never disagree.
import { KNOWN_SERVICES } from '../cleanroom/catalog.js';

export const CATALOG_SERVICE_NAMES: readonly string[] = KNOWN_SERVICES;

export function isCatalogService(name: string): boolean {
  return CATALOG_SERVICE_NAMES.includes(name);
}

/** What the cleanroom accepts as a service name (it becomes part of a network alias). */
export const SERVICE_NAME_PATTERN = '^[a-z0-9][a-z0-9-]{0,30}$';
