// Placeholder loader (replaced by the full validating loader): parses pallet.yml and fills defaults.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { UserError } from '../errors.js';
import type { PalletConfig } from './types.js';

export interface ConfigOverrides {
  image?: string;
}

export function loadConfig(file: string, overrides: ConfigOverrides = {}): PalletConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UserError(`config file ${file} not found`, 'create a pallet.yml or point the `config` input at it');
  }
  const raw = YAML.parse(text) ?? {};
  const dir = path.dirname(file);
  return {
    app: raw.app,
    image: overrides.image ?? raw.image,
    build: {
      context: path.resolve(dir, raw.build?.context ?? '.'),
      dockerfile: raw.build?.dockerfile ?? 'Dockerfile',
      target: raw.build?.target,
      args: raw.build?.args ?? {},
      tags: raw.build?.tags ?? [],
      wheelhouse: raw.build?.wheelhouse,
    },
    test: {
      command: raw.test?.command ?? ['test'],
      services: (raw.test?.services ?? []).map((s: unknown) => (typeof s === 'string' ? { name: s, env: {} } : s)),
      environment: raw.test?.environment ?? {},
      shards: raw.test?.shards ?? 1,
      artifacts: raw.test?.artifacts ?? [],
      timeout: raw.test?.timeout ?? 1800,
    },
    deploy: raw.deploy,
    source: { file, dir },
  };
}
