import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/bundling.js';
import { packageRoot } from '../../src/util/package-root.js';

describe('infra bundling', () => {
  it('bundles from the package root the shells use', () => {
    expect(REPO_ROOT).toBe(packageRoot());
  });
});
