/**
 * Issue #11, item 19 (evaluation): LIKE and MATCHES see at most MAX_SEARCHED_LENGTH characters
 * of a value, so that their cost per value is bounded whatever the event holds. Checked by
 * construction: a match only beyond the bound is not found, and the cut is reported (by
 * `stixflow match` too: test/cli/searched-length-cli.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { compilePattern } from '../../src/pattern/compile.js';
import { MAX_SEARCHED_LENGTH } from '../../src/pattern/evaluate.js';

const N = MAX_SEARCHED_LENGTH;

function observed(object: Record<string, unknown>): Record<string, unknown> {
  return {
    type: 'observed-data',
    id: 'observed-data--00000000-0000-4000-8000-000000000001',
    first_observed: '2024-01-01T00:00:00Z',
    last_observed: '2024-01-01T00:00:00Z',
    number_observed: 1,
    objects: { 0: { type: 'process', ...object } },
  };
}

const match = (pattern: string, object: Record<string, unknown>): { matched: boolean; valuesCut?: number } => {
  const { matched, valuesCut } = compilePattern(pattern).match([observed(object)]);
  return valuesCut === undefined ? { matched } : { matched, valuesCut };
};

describe('LIKE and MATCHES search the first MAX_SEARCHED_LENGTH characters of a value', () => {
  it('is 32,768 characters', () => expect(N).toBe(32_768));

  it('a match within the bound is found; one only beyond it is not, and the cut is reported', () => {
    expect(match("[process:command_line MATCHES 'evil']", { command_line: `evil${'x'.repeat(N)}` })).toEqual({
      matched: true,
      valuesCut: 1,
    });
    expect(match("[process:command_line MATCHES 'evil']", { command_line: `${'x'.repeat(N)}evil` })).toEqual({
      matched: false,
      valuesCut: 1,
    });
    expect(match("[process:command_line LIKE '%evil%']", { command_line: `${'x'.repeat(N)}evil` })).toEqual({
      matched: false,
      valuesCut: 1,
    });
    expect(
      match("[process:command_line LIKE '%evil%']", { command_line: `${'x'.repeat(N - 4)}evil${'x'.repeat(10)}` }),
    ).toEqual({ matched: true, valuesCut: 1 });
    // Exactly at the bound: nothing is cut.
    expect(match("[process:command_line MATCHES 'evil$']", { command_line: `${'x'.repeat(N - 4)}evil` })).toEqual({
      matched: true,
    });
  });

  it('a cut value is compared as if it ended at the cut (end anchors, LIKE suffixes), and NOT applies to that', () => {
    const long = `${'x'.repeat(N + 10)}y`;
    expect(match("[process:command_line MATCHES 'x$']", { command_line: long })).toEqual({
      matched: true,
      valuesCut: 1,
    });
    expect(match("[process:command_line LIKE '%y']", { command_line: long })).toEqual({ matched: false, valuesCut: 1 });
    expect(match("[process:command_line NOT MATCHES 'y']", { command_line: long })).toEqual({
      matched: true,
      valuesCut: 1,
    });
    // Other operators see the whole value.
    expect(match(`[process:command_line = '${long}']`, { command_line: long })).toEqual({ matched: true });
  });

  it('never cuts inside a surrogate pair', () => {
    const value = `${'a'.repeat(N - 1)}😀b`;
    expect(match("[process:command_line MATCHES '^a*$']", { command_line: value })).toEqual({
      matched: true,
      valuesCut: 1,
    });
  });

  it('binary data is cut to the same number of bytes', () => {
    const bytes = Buffer.concat([Buffer.alloc(N, 0x41), Buffer.from('MZ')]);
    expect(match("[process:x_payload_bin MATCHES 'MZ']", { x_payload_bin: bytes.toString('base64') })).toEqual({
      matched: false,
      valuesCut: 1,
    });
    const early = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(N, 0x41)]);
    expect(match("[process:x_payload_bin MATCHES '^MZ']", { x_payload_bin: early.toString('base64') })).toEqual({
      matched: true,
      valuesCut: 1,
    });
  });

  it('each comparison on a cut value counts once', () => {
    expect(
      match("[process:command_line MATCHES 'a' OR process:command_line LIKE 'b%' OR process:name LIKE 'c%']", {
        command_line: 'z'.repeat(N + 1),
        name: 'short',
      }),
    ).toEqual({ matched: false, valuesCut: 2 });
  });
});
