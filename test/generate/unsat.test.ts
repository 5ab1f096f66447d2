/** Unsatisfiable observation expressions: exact messages and positions. */
import { describe, expect, it } from 'vitest';
import { findUnsatisfiable, generateEvents, GenerationError } from '../../src/generate/index.js';
import { PatternError, StixflowError } from '../../src/errors.js';

function one(pattern: string): { message: string; line?: number; column?: number; offset?: number; length?: number } {
  const ds = findUnsatisfiable(pattern);
  expect(ds).toHaveLength(1);
  const d = ds[0]!;
  expect(d.code).toBe('unsatisfiable');
  expect(d.severity).toBe('error');
  return { message: d.message, line: d.line, column: d.column, offset: d.offset, length: d.length };
}

/** Column (1-based) where `fragment` starts in the pattern. */
const col = (pattern: string, fragment: string): number => pattern.indexOf(fragment) + 1;

describe('findUnsatisfiable', () => {
  it('an empty numeric range', () => {
    const p = '[network-traffic:dst_port >= 1025 AND network-traffic:dst_port <= 1023]';
    expect(one(p)).toEqual({
      message: 'network-traffic:dst_port: no value satisfies 1025 <= x <= 1023',
      line: 1,
      column: col(p, 'network-traffic:dst_port <='),
      offset: col(p, 'network-traffic:dst_port <=') - 1,
      length: 'network-traffic:dst_port <= 1023'.length,
    });
  });

  it('strict bounds and a single excluded point', () => {
    expect(one('[a:n > 5 AND a:n < 5]').message).toBe('a:n: no value satisfies 5 < x < 5');
    expect(one('[a:n >= 5 AND a:n <= 5 AND a:n != 5]').message).toBe('a:n: no value satisfies 5 <= x <= 5 and != 5');
    expect(one('[a:n NOT < 10 AND a:n < 3]').message).toBe('a:n: no value satisfies 10 <= x < 3');
  });

  it('two different equalities', () => {
    const p = "[process:name = 'a' AND process:name = 'b']";
    expect(one(p)).toMatchObject({
      message: "process:name: no value satisfies = 'a' and = 'b'",
      line: 1,
      column: col(p, "process:name = 'b'"),
    });
  });

  it('IN against equalities and exclusions', () => {
    expect(one('[a:n IN (1, 2) AND a:n != 1 AND a:n != 2]').message).toBe(
      'a:n: no value satisfies IN (1, 2) and != 1 and != 2',
    );
    expect(one("[a:s IN ('x', 'y') AND a:s = 'z']").message).toBe("a:s: no value satisfies IN ('x', 'y') and = 'z'");
    expect(one("[a:s = 'abc' AND a:s LIKE 'x%']").message).toBe("a:s: no value satisfies = 'abc' and LIKE 'x%'");
  });

  it('an empty IN list', () => {
    const p = "[process:name = 'cmd.exe' AND process:pid IN ()]";
    expect(one(p)).toMatchObject({
      message: 'process:pid: no value satisfies IN ()',
      column: col(p, 'process:pid IN'),
    });
  });

  it('EXISTS against NOT EXISTS, also through a prefix', () => {
    expect(one('[EXISTS process:name AND NOT EXISTS process:name]').message).toBe(
      'process:name: no value satisfies NOT EXISTS and EXISTS',
    );
    expect(one("[NOT EXISTS process:parent_ref AND process:parent_ref.name = 'x']").message).toBe(
      "process:parent_ref: no value satisfies NOT EXISTS and process:parent_ref.name = 'x'",
    );
    expect(one("[NOT EXISTS a:list[*] AND a:list[3] = 'x']").message).toBe(
      "a:list[*]: no value satisfies NOT EXISTS and a:list[3] = 'x'",
    );
    expect(findUnsatisfiable("[NOT EXISTS a:list[0] AND a:list[*] = 'x']")).toEqual([]);
  });

  it('comparisons on different root types joined by AND', () => {
    const p = "[file:name = 'a' AND ipv4-addr:value = '1.2.3.4']";
    expect(one(p)).toMatchObject({
      message:
        'ipv4-addr:value: comparisons on different root types (file, ipv4-addr) are joined by AND; they can never hold on the same object',
      column: col(p, 'ipv4-addr'),
    });
  });

  it('type conflicts', () => {
    expect(one("[a:x = 'a' AND a:x > 5]").message).toBe(
      "a:x: no value satisfies = 'a' and > 5 (a string and a number)",
    );
    expect(one('[a:x = true AND a:x = 1]').message).toBe(
      'a:x: no value satisfies = true and = 1 (a boolean and a number)',
    );
  });

  it('disjoint CIDR blocks and mixed families', () => {
    expect(one("[ipv4-addr:value ISSUBSET '10.0.0.0/8' AND ipv4-addr:value ISSUBSET '192.168.0.0/16']").message).toBe(
      "ipv4-addr:value: no value satisfies ISSUBSET '10.0.0.0/8' and ISSUBSET '192.168.0.0/16' (disjoint blocks)",
    );
    expect(one("[a:v ISSUBSET '10.0.0.0/8' AND a:v ISSUBSET '2001:db8::/32']").message).toBe(
      "a:v: no value satisfies ISSUBSET '10.0.0.0/8' and ISSUBSET '2001:db8::/32' (IPv4 and IPv6)",
    );
  });

  it('timestamps and string ranges', () => {
    expect(one("[file:created > t'2020-01-01T00:00:00Z' AND file:created < t'2019-01-01T00:00:00Z']").message).toBe(
      "file:created: no value satisfies t'2020-01-01T00:00:00Z' < x < t'2019-01-01T00:00:00Z'",
    );
    expect(one("[a:s > 'b' AND a:s < 'a']").message).toBe("a:s: no value satisfies 'b' < x < 'a'");
  });

  it('structural contradictions', () => {
    expect(one("[a:x = 'v' AND a:x.y = 'w']").message).toBe(
      "a:x: no value satisfies = 'v' and a:x.y = 'w' (a value has no properties or elements)",
    );
    expect(one("[network-traffic:dst_ref = 'x']").message).toBe(
      "network-traffic:dst_ref: a reference resolves to an object, which = 'x' never matches",
    );
    expect(one("[email-message:to_refs.value = 'x']").message).toBe(
      'email-message:to_refs: a _refs list holds references: use [n] or [*] before .value',
    );
    expect(one("[a:list[-1] = 'x']").message).toBe('a:list[-1]: the negative index [-1] never selects an element');
    expect(one("[process:type = 'file']").message).toBe(
      'process:type: no value satisfies = \'file\' (the value is "process")',
    );
  });

  it('every alternative must be empty; each is reported', () => {
    expect(findUnsatisfiable('[a:x = 1 AND a:x = 2 OR a:x = 3]')).toEqual([]);
    const ds = findUnsatisfiable('[a:x = 1 AND a:x = 2 OR a:y > 3 AND a:y < 2]');
    expect(ds.map((d) => d.message)).toEqual([
      'a:x: no value satisfies = 1 and = 2',
      'a:y: no value satisfies 3 < x < 2',
    ]);
  });

  it('reports each unsatisfiable observation expression of a larger pattern', () => {
    const p = "[a:x = 1] FOLLOWEDBY [b:y = 'p' AND b:y = 'q'] OR [c:z IN ()]";
    const ds = findUnsatisfiable(p);
    expect(ds.map((d) => [d.message, d.column])).toEqual([
      ["b:y: no value satisfies = 'p' and = 'q'", col(p, "b:y = 'q'")],
      ['c:z: no value satisfies IN ()', col(p, 'c:z')],
    ]);
  });

  it('satisfiable patterns report nothing', () => {
    for (const p of [
      "[a:x != 'v' AND a:x.y = 'w']",
      '[a:x > 1 AND a:x < 2]',
      "[a:s = h'61' AND a:s = 'a']",
      "[a:l[*] = 'x' AND a:l[*] = 'y']",
      "[a:s NOT LIKE 'a%' AND a:s LIKE '%a']",
    ]) {
      expect(findUnsatisfiable(p), p).toEqual([]);
    }
  });

  it('START ≥ STOP is already a compile error', () => {
    expect(() => findUnsatisfiable("[a:x = 1] START t'2021-01-01T00:00:00Z' STOP t'2020-01-01T00:00:00Z'")).toThrow(
      PatternError,
    );
  });
});

describe('the generator refuses unsatisfiable patterns with the same diagnostics', () => {
  it('throws a StixflowError carrying them', () => {
    const p = '[network-traffic:dst_port >= 1025 AND network-traffic:dst_port <= 1023]';
    let caught: unknown;
    try {
      generateEvents(p);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(StixflowError);
    expect(caught).toBeInstanceOf(GenerationError);
    expect((caught as StixflowError).code).toBe('unsatisfiable');
    expect((caught as StixflowError).diagnostics).toEqual(findUnsatisfiable(p));
  });

  it('an unsatisfiable side of an observation OR does not stop generation', () => {
    const sets = generateEvents("[a:x = 1 AND a:x = 2] OR [b:y = 'ok']");
    expect(sets[0]).toHaveLength(1);
  });

  it('an unsatisfiable side of AND / FOLLOWEDBY does', () => {
    expect(() => generateEvents("[a:x = 1 AND a:x = 2] FOLLOWEDBY [b:y = 'ok']")).toThrow(/can never match/);
  });
});
