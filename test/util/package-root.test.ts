import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readResource } from '../../src/normalise/resources.js';
import { packageRoot } from '../../src/util/package-root.js';

describe('packageRoot', () => {
  it('is the directory of stixflow’s package.json, the one the shells and infra use', () => {
    const root = packageRoot();
    expect(root).toBe(fileURLToPath(new URL('../..', import.meta.url)).replace(/\/$/, ''));
    expect((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string }).name).toBe('stixflow');
  });

  it('finds the shipped files', () => {
    expect(JSON.parse(readResource('schemas/mapping.schema.json'))).toHaveProperty('$schema');
    expect(() => readResource('schemas/no-such.schema.json')).toThrow(/cannot read schemas\/no-such.schema.json/);
  });
});
