// Service names the cleanroom catalog provides an image, port, readiness probe and app environment
// for (see DESIGN.md §1). Any other name is a custom service and must bring `image` and `port`.
// The cleanroom stage owns the catalog itself and checks it knows every name listed here.
export const CATALOG_SERVICE_NAMES = [
  'postgres',
  'postgis',
  'redis',
  'memcached',
  'elasticsearch',
  'opensearch',
  'rabbitmq',
  'smtp',
] as const;

export function isCatalogService(name: string): boolean {
  return (CATALOG_SERVICE_NAMES as readonly string[]).includes(name);
}
