/** The walk looks keys up in `lookup`, a prototype-less copy of `children`: the two must answer alike for any key. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FieldTrie, type FieldNode } from '../../src/normalise/compile/field-trie.js';

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '0', '1'];

function allNodes(trie: FieldTrie): FieldNode[] {
  return [trie.root, ...[...trie.paths()].map(([, node]) => node)];
}

describe('the field trie lookup', () => {
  it('answers as the children map does, prototype names included (property)', () => {
    const segment = fc.oneof(
      fc.constantFrom(...PROTOTYPE_NAMES, 'process', 'name', 'a.b'),
      fc.string({ maxLength: 4 }),
    );
    const path = fc.array(segment, { minLength: 1, maxLength: 3 }).map((segments) => segments.join('.'));
    fc.assert(
      fc.property(
        fc.array(path, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.array(segment),
        (paths, ci, probes) => {
          const trie = new FieldTrie({ caseInsensitive: ci, nullValues: undefined });
          for (const p of paths) trie.node(p);
          trie.link();
          const [first] = paths;
          if (first !== undefined) trie.addRoot(trie.node(first));
          trie.seal();
          for (const node of allNodes(trie)) {
            if (node.children === undefined) {
              expect(node.lookup).toBeUndefined();
              continue;
            }
            const lookup = node.lookup as Record<string, FieldNode>;
            expect(Object.keys(lookup).sort()).toEqual([...node.children.keys()].sort());
            for (const key of [...node.children.keys(), ...probes, ...PROTOTYPE_NAMES]) {
              expect(lookup[key]).toBe(node.children.get(key));
            }
          }
        },
      ),
      { seed: 77, numRuns: 1500 },
    );
  });
});
