/**
 * The rule index may only narrow the work, never lose a match: for any observation expression
 * and any event, if the expression holds, the index must offer it as a candidate. And the
 * literals it files LIKE and MATCHES under must occur in every string those match.
 */
import fc from 'fast-check';
import { RE2JS } from 're2js';
import { regexArbitrary } from '../pattern/regex-arbitrary.js';
import { describe, expect, it } from 'vitest';
import { likeLiteral, regexLiteral, RuleIndex, stringKey } from '../../src/rules/rule-index.js';
import { CompiledPatternRules, patternRuleKind } from '../../src/engine/pattern-kind.js';
import { StreamingEngine } from '../../src/engine/streaming.js';
import { createRule } from '../../src/rules/model.js';
import { InMemoryStateStore } from '../../src/state/memory-store.js';
import { compilePattern } from '../../src/pattern/compile.js';
import { prepareObservations, type PreparedObservation } from '../../src/pattern/observation.js';

const NAMES = ['bash', 'sh', 'nginx', 'curl', 'évier', 'KELVIN'];
const IPS = ['10.0.0.1', '10.1.2.3', '192.168.1.1', '203.0.113.9', '::1', '2001:db8::1'];
const LINES = [
  'bash -c run 12',
  'curl http://x.example/a.sh | sh',
  'sh -c "echo evil"',
  'python3 -m http.server',
  'cafe\u0301 au lait',
];

const str = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

const comparisonArb: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...NAMES).map((n) => `process:name = ${str(n)}`),
  fc.subarray(NAMES, { minLength: 1 }).map((ns) => `process:name IN (${ns.map(str).join(', ')})`),
  fc.constantFrom(...NAMES).map((n) => `process:name != ${str(n)}`),
  fc
    .constantFrom('%bash%', 'bash -c%', '%sh', 'cu_l%', '%run 1_', '%evil%', '%caf%')
    .map((l) => `process:command_line LIKE ${str(l)}`),
  fc
    .constantFrom('run [0-9]+', 'curl http', '(ba)?sh -c', 'sh$', 'echo\\s+evil', '[.]example', 'http\\.server')
    .map((r) => `process:command_line MATCHES ${str(r)}`),
  fc
    .constantFrom('10.0.0.0/8', '10.1.0.0/16', '192.168.0.0/16', '0.0.0.0/0', '2001:db8::/32')
    .map((c) => `network-traffic:dst_ref.value ISSUBSET ${str(c)}`),
  fc.constantFrom(22, 80, 443, 4444).map((p) => `network-traffic:dst_port = ${p}`),
  fc.constantFrom(22, 80, 443, 4444).map((p) => `network-traffic:dst_port > ${p}`),
  fc.constantFrom(...IPS).map((ip) => `ipv4-addr:value = ${str(ip)}`),
  fc.constant('process:x_flag = true'),
  fc.constant('EXISTS process:x_flag'),
);

const expressionArb: fc.Arbitrary<string> = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small' },
    comparisonArb,
    fc.tuple(tie('e'), fc.constantFrom('AND', 'OR'), tie('e')).map(([a, op, b]) => `(${a} ${op} ${b})`),
  ),
})).e;

const eventArb = fc
  .record({
    name: fc.constantFrom(...NAMES),
    line: fc.constantFrom(...LINES),
    ip: fc.constantFrom(...IPS),
    port: fc.constantFrom(22, 80, 443, 4444, 8080),
    flag: fc.option(fc.boolean(), { nil: undefined }),
  })
  .map(({ name, line, ip, port, flag }) => ({
    type: 'bundle',
    id: 'bundle--1',
    objects: [
      {
        type: 'observed-data',
        id: 'observed-data--1',
        first_observed: '2026-01-01T00:00:00Z',
        last_observed: '2026-01-01T00:00:00Z',
        number_observed: 1,
        object_refs: ['process--1', 'network-traffic--1', 'ipv4-addr--1'],
      },
      { type: 'process', id: 'process--1', name, command_line: line, ...(flag === undefined ? {} : { x_flag: flag }) },
      { type: 'network-traffic', id: 'network-traffic--1', dst_ref: 'ipv4-addr--1', dst_port: port },
      { type: ip.includes(':') ? 'ipv6-addr' : 'ipv4-addr', id: 'ipv4-addr--1', value: ip },
    ],
  }));

/** The entries the index offers for an observed-data of one object. */
/** An observed-data of one object, prepared. */
function preparedOf(object: Record<string, unknown>): PreparedObservation {
  const [prepared] = prepareObservations([
    {
      type: 'observed-data',
      first_observed: '2026-01-01T00:00:00Z',
      last_observed: '2026-01-01T00:00:00Z',
      number_observed: 1,
      objects: { 0: object },
    },
  ]);
  return prepared!;
}

function offeredFor(index: RuleIndex, object: Record<string, unknown>): number[] {
  const offered: number[] = [];
  index.candidates(preparedOf(object), (id) => offered.push(id));
  return offered;
}

describe('rule index', () => {
  it('offers every observation expression that holds on the event (never loses a match)', () => {
    fc.assert(
      fc.property(fc.array(expressionArb, { minLength: 1, maxLength: 8 }), eventArb, (expressions, event) => {
        const index = new RuleIndex();
        const observations = expressions.map((e) => compilePattern(`[${e}]`).observations[0]!);
        observations.forEach((o, id) => index.add(id, o.expression.comparison, o.rootTypes));
        const [prepared] = prepareObservations([event]);
        const offered = new Set<number>();
        index.candidates(prepared!, (id) => offered.add(id));
        observations.forEach((o, id) => {
          if (o.test(prepared!)) expect(offered.has(id), `[${expressions[id]}] holds but was not offered`).toBe(true);
        });
      }),
      { seed: 20261124, numRuns: 1500 },
    );
  });

  it('never loses a match of a case-insensitive rule (all paths or some), whatever the case of the event', () => {
    const recase = (text: string, flips: boolean[]): string =>
      [...text].map((c, i) => (flips[i % Math.max(1, flips.length)] ? c.toUpperCase() : c.toLowerCase())).join('');
    const recased = fc.tuple(eventArb, fc.array(fc.boolean(), { minLength: 1, maxLength: 6 })).map(([event, flips]) => {
      const process = event.objects[1] as { name: string; command_line: string };
      process.name = recase(process.name, flips);
      process.command_line = recase(process.command_line, flips.slice().reverse());
      return event;
    });
    const mode = fc.constantFrom<true | string[]>(true, ['process:name'], ['process:command_line']);
    fc.assert(
      fc.property(
        fc.array(expressionArb, { minLength: 1, maxLength: 8 }),
        recased,
        mode,
        (expressions, event, caseInsensitive) => {
          const index = new RuleIndex();
          const patterns = expressions.map((e) => compilePattern(`[${e}]`, { caseInsensitive }));
          patterns.forEach((p, id) => {
            const o = p.observations[0]!;
            index.add(id, o.expression.comparison, o.rootTypes, p.caseInsensitiveLeaves);
          });
          const [prepared] = prepareObservations([event]);
          const offered = new Set<number>();
          index.candidates(prepared!, (id) => offered.add(id));
          patterns.forEach((p, id) => {
            if (p.observations[0]!.test(prepared!))
              expect(offered.has(id), `[${expressions[id]}] holds but was not offered`).toBe(true);
          });
        },
      ),
      { seed: 20261201, numRuns: 1500 },
    );
  });

  it('files case-insensitive equality by the folded value: other values are not offered', () => {
    const index = new RuleIndex();
    const p = compilePattern("[process:name = 'WinWord.exe']", { caseInsensitive: true });
    const q = compilePattern("[process:name = 'excel.exe']", { caseInsensitive: true });
    for (const [id, pattern] of [p, q].entries()) {
      const o = pattern.observations[0]!;
      index.add(id, o.expression.comparison, o.rootTypes, pattern.caseInsensitiveLeaves);
    }
    const offeredFor = (name: string): number[] => {
      const [prepared] = prepareObservations([
        {
          type: 'observed-data',
          id: 'observed-data--1',
          first_observed: '2026-01-01T00:00:00Z',
          last_observed: '2026-01-01T00:00:00Z',
          number_observed: 1,
          objects: { 0: { type: 'process', name } },
        },
      ]);
      const offered: number[] = [];
      index.candidates(prepared!, (id) => offered.push(id));
      return offered;
    };
    expect(offeredFor('WINWORD.EXE')).toEqual([0]);
    expect(offeredFor('Excel.EXE')).toEqual([1]);
    expect(offeredFor('notepad.exe')).toEqual([]);
  });

  it('finds substring literals anywhere in a value, around non-ASCII characters too', () => {
    const text = fc
      .array(fc.constantFrom('a', 'b', 'c', '-', ' ', 'é', 'e\u0301', '\u00ff', '\u{1F600}'), { maxLength: 24 })
      .map((parts) => parts.join(''));
    const literal = fc
      .array(fc.constantFrom('a', 'b', 'c', '-', ' '), { minLength: 3, maxLength: 5 })
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.array(literal, { minLength: 1, maxLength: 6 }), text, (literals, line) => {
        const index = new RuleIndex();
        const observations = literals.map(
          (l) => compilePattern(`[process:command_line LIKE ${str(`%${l}%`)}]`).observations[0]!,
        );
        observations.forEach((o, id) => index.add(id, o.expression.comparison, o.rootTypes));
        const [prepared] = prepareObservations([
          {
            type: 'observed-data',
            first_observed: '2026-01-01T00:00:00Z',
            last_observed: '2026-01-01T00:00:00Z',
            number_observed: 1,
            objects: { 0: { type: 'process', command_line: line } },
          },
        ]);
        const offered = new Set<number>();
        index.candidates(prepared!, (id) => offered.add(id));
        observations.forEach((o, id) => {
          expect(offered.has(id), `LIKE '%${literals[id]}%' on ${JSON.stringify(line)}`).toBe(o.test(prepared!));
        });
      }),
      { seed: 20261124, numRuns: 1000 },
    );
  });

  describe('remembered values', () => {
    const patterns = [
      "[process:command_line LIKE '%ab%']",
      "[process:command_line LIKE '%b-c%' OR process:name = 'bash']",
      "[process:command_line MATCHES 'a[bc]+-']",
      "[process:command_line LIKE '%\u00e9%']",
      "[process:command_line = 'ab c']",
      "[process:command_line LIKE '%cab%' AND process:name LIKE 'sh%']",
    ];
    const build = (count = patterns.length): RuleIndex => {
      const index = new RuleIndex();
      patterns.slice(0, count).forEach((p, id) => {
        const o = compilePattern(p, { caseInsensitive: id % 2 === 0 }).observations[0]!;
        index.add(
          id,
          o.expression.comparison,
          o.rootTypes,
          compilePattern(p, { caseInsensitive: id % 2 === 0 }).caseInsensitiveLeaves,
        );
      });
      return index;
    };
    const event = (line: string, name: string) => ({ type: 'process', command_line: line, name });

    it('offers a value that comes again the entries, in the order, it offered on first sight', () => {
      const line = fc
        .array(fc.constantFrom('a', 'B', 'c', '-', ' ', '\u00e9', 'ab', 'CAB'), { maxLength: 8 })
        .map((parts) => parts.join(''));
      const events = fc.array(
        fc.tuple(fc.constantFrom('ab c', 'cab-', 'x'), line, fc.constantFrom('bash', 'sh', 'shell')),
        {
          minLength: 1,
          maxLength: 30,
        },
      );
      fc.assert(
        fc.property(events, (list) => {
          const shared = build();
          for (const [fixed, drawn, name] of list)
            for (const value of [fixed, drawn])
              expect(offeredFor(shared, event(value, name)), JSON.stringify(value)).toEqual(
                offeredFor(build(), event(value, name)),
              );
        }),
        { seed: 20261203, numRuns: 300 },
      );
    });

    it('keeps offering the right entries past its capacity, and when values seldom repeat', () => {
      const shared = build();
      const lines = Array.from({ length: 3000 }, (_, i) => `ab${i}-c\u00e9${i % 7 === 0 ? 'cab' : ''}`);
      for (const round of [0, 1])
        for (const line of round === 0 ? lines : lines.slice(0, 1200))
          expect(offeredFor(shared, event(line, 'sh'))).toEqual(offeredFor(build(), event(line, 'sh')));
    });

    it('forgets what values selected when an entry is added', () => {
      const index = build(1);
      expect(offeredFor(index, event('xcab-', 'sh'))).toEqual([0]);
      // One condition, no choice: filed at once, not when the index is sealed again.
      const added = compilePattern("[process:command_line LIKE '%cab%']").observations[0]!;
      index.add(5, added.expression.comparison, added.rootTypes);
      expect(offeredFor(index, event('xcab-', 'sh'))).toEqual([0, 5]);
    });
  });

  it('keys string values by hash: a collision offers an extra candidate, never a wrong match', () => {
    // Find two values whose keys collide (the birthday bound of 30 bits: some 40,000 tries).
    const seen = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const value = `host-${i}`;
      const other = seen.get(stringKey(value));
      if (other !== undefined) pair = [other, value];
      else seen.set(stringKey(value), value);
    }
    const [first, second] = pair;
    const engine = new StreamingEngine({
      rules: [first, second].map((v, i) =>
        createRule({ id: `r${i}`, name: v, pattern: `[process:x_host_id = '${v}']` }),
      ),
      store: new InMemoryStateStore(),
    });
    const [prepared] = prepareObservations([
      {
        type: 'observed-data',
        first_observed: '2026-01-01T00:00:00Z',
        last_observed: '2026-01-01T00:00:00Z',
        number_observed: 1,
        objects: { 0: { type: 'process', x_host_id: second } },
      },
    ]);
    const index = new RuleIndex();
    [first, second].forEach((v, id) => {
      const o = compilePattern(`[process:x_host_id = '${v}']`).observations[0]!;
      index.add(id, o.expression.comparison, o.rootTypes);
    });
    const offered: number[] = [];
    index.candidates(prepared!, (id) => offered.push(id));
    expect(offered.sort()).toEqual([0, 1]);
    return engine.processBatch([{ observation: prepared! }]).then((result) => {
      expect(result.alerts.map((a) => a.ruleId)).toEqual(['r1']);
    });
  });

  it('files equality rules by value: an event is offered only the rules of its values', () => {
    const index = new RuleIndex();
    const names = Array.from({ length: 1000 }, (_, i) => `tool${i}.exe`);
    names.forEach((n, id) => {
      const o = compilePattern(`[process:name = '${n}']`).observations[0]!;
      index.add(id, o.expression.comparison, o.rootTypes);
    });
    expect(offeredFor(index, { type: 'process', name: 'tool7.exe' })).toEqual([7]);
    expect(index.stats.typeOnlyEntries).toBe(0);
  });

  it('extracts only literals that every regex match contains', () => {
    const atoms = ['a', 'b', 'c', 'ab', 'abc', '.', '\\.', '[ab]', '(ab)', '(a|b)', 'x', '\\d', '\\x61', '\\Qa.b\\E'];
    const regexArb = regexArbitrary(atoms, ['', '', '?', '*', '+', '{2}', '{0,2}', '{1,3}'], 6);
    const textArb = fc.stringMatching(/^[abcx.1]{0,12}$/);
    fc.assert(
      fc.property(regexArb, textArb, (regex, text) => {
        const literal = regexLiteral(regex);
        let re: RE2JS;
        try {
          re = RE2JS.compile(regex);
        } catch {
          return;
        }
        if (literal !== undefined && re.matcher(text).find())
          expect(text.includes(literal), `${regex} matched ${text} without ${literal}`).toBe(true);
      }),
      { seed: 5, numRuns: 3000 },
    );
  });

  it('extracts LIKE literals that every match contains', () => {
    expect(likeLiteral('%mimikatz%')).toBe('mimikatz');
    expect(likeLiteral('bash -c%')).toBe('bash -c');
    expect(likeLiteral('a%b')).toBeUndefined();
    // One code unit is worth a lookup only above ASCII (rare in values).
    expect(likeLiteral('%é%é%')).toBe('é');
    expect(likeLiteral('%a%b%')).toBeUndefined();
  });

  it('matches what evaluating every rule matches, for rules sharing a log source condition (Sigma-like)', () => {
    // Each rule: its own detection AND the condition every rule of its log source shares, as a
    // compiled Sigma rule is. The index files it under its detection; the result must be the
    // brute-force one.
    const LOGSOURCE = "(process:x_channel = 'sysmon' AND process:x_code = '1')";
    const detection = fc.oneof(
      expressionArb,
      fc
        .constantFrom('😀', '🦆x', 'ab🙂c', 'run', 'évier', '^^', 'Sh', 'Straße', 'ΣΑΣ', ' –c ', 'А', '✅', 'ﬁle', 'É')
        .map((l) => `process:command_line LIKE ${str(`%${l}%`)}`),
      fc
        .constantFrom('(?i)CURL http', '(?i)RUN [0-9]', '(a|b)?sh -c', 'x(?i)evil', 'ba(s|z)h -c', 'a|curl')
        .map((r) => `process:command_line MATCHES ${str(r)}`),
    );
    const lineArb = fc.constantFrom(
      ...LINES,
      'CURL HTTP://x',
      'Run 7 😀',
      '🦆x',
      'ab🙂c -c',
      'RUN 12 ÉVIER',
      'c^^md /c sh',
      'STRASSE sh',
      'strasse',
      'σας –C ✅',
      'Αа FILE',
      'file É',
      'e\u0301vier',
    );
    const sigmaEvent = fc.tuple(eventArb, lineArb, fc.boolean(), fc.boolean()).map(([event, line, sysmon, code]) => {
      const process = event.objects[1] as Record<string, unknown>;
      process.command_line = line;
      process.x_channel = sysmon ? 'sysmon' : 'security';
      process.x_code = code ? '1' : '4688';
      return event;
    });
    fc.assert(
      fc.property(
        fc.array(fc.tuple(detection, fc.boolean()), { minLength: 1, maxLength: 12 }),
        fc.array(sigmaEvent, { minLength: 1, maxLength: 4 }),
        (specs, events) => {
          const rules = specs.map(([d, folded], i) =>
            createRule({ id: `r${i}`, pattern: `[(${d}) AND ${LOGSOURCE}]`, caseInsensitive: folded }),
          );
          const kind = patternRuleKind.compile(rules, {
            latenessMicros: 0,
            maxPartialsPerGroup: 10,
            unboundedTtlSeconds: 60,
            maxAlertsPerEvent: 10,
            clockSkewMicros: Infinity,
          });
          for (const prepared of prepareObservations(events)) {
            const indexed: string[] = [];
            kind.match(
              prepared,
              (rule) => indexed.push(rule.rule.id),
              (id, error) => {
                throw new Error(`${id}: ${String(error)}`);
              },
            );
            const brute = rules.filter((r) => r.pattern.observations.some((o) => o.test(prepared))).map((r) => r.id);
            expect(indexed.sort()).toEqual(brute.sort());
          }
        },
      ),
      { seed: 20261202, numRuns: 600 },
    );
  });

  it('reports the hits of an event in rule order, whatever order the index offers them in', () => {
    // The first rule offers a choice, so it is filed when the index is sealed, under a path
    // read after the second rule's: the index offers the second rule first.
    const rules = [
      createRule({ id: 'first', pattern: "[process:name = 'a' AND process:pid = 1]" }),
      createRule({ id: 'second', pattern: "[process:command_line = 'x']" }),
    ];
    const kind = new CompiledPatternRules(rules, {
      latenessMicros: 0,
      maxPartialsPerGroup: 10,
      unboundedTtlSeconds: 60,
      maxAlertsPerEvent: 10,
      clockSkewMicros: Infinity,
    });
    const object = { type: 'process', name: 'a', pid: 1, command_line: 'x' };
    expect(offeredFor(kind.index, object)).toEqual([1, 0]);
    const hits: string[] = [];
    kind.match(
      preparedOf(object),
      (rule) => hits.push(rule.rule.id),
      (id, error) => {
        throw new Error(`${id}: ${String(error)}`);
      },
    );
    expect(hits).toEqual(['first', 'second']);
  });

  it('reports every rule an event satisfies once, in rule order, however many there are (seeded)', () => {
    const options = {
      latenessMicros: 0,
      maxPartialsPerGroup: 10,
      unboundedTtlSeconds: 60,
      maxAlertsPerEvent: 10,
      clockSkewMicros: Infinity,
    };
    let manyHits = 0;
    // A rule: a name, a pid, or both (a choice the index makes when sealed); up to 120 rules, so
    // that both the few-hits and the many-hits (over 32) sorts run.
    const ruleArb = fc.record({
      name: fc.option(fc.integer({ min: 0, max: 3 }), { freq: 2 }),
      pid: fc.integer({ min: 0, max: 1 }),
    });
    fc.assert(
      fc.property(
        fc.array(ruleArb, { minLength: 1, maxLength: 120, size: 'max' }),
        fc.array(fc.record({ name: fc.integer({ min: 0, max: 3 }), pid: fc.integer({ min: 0, max: 1 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        (specs, events) => {
          const rules = specs.map((spec, i) =>
            createRule({
              id: `r${i}`,
              pattern:
                spec.name === null
                  ? `[process:pid = ${spec.pid}]`
                  : `[process:name = 'n${spec.name}' AND process:pid = ${spec.pid}]`,
            }),
          );
          const kind = new CompiledPatternRules(rules, options);
          // Several events through one kind: nothing one event found may show in the next.
          for (const event of events) {
            const hits: string[] = [];
            kind.match(
              preparedOf({ type: 'process', name: `n${event.name}`, pid: event.pid }),
              (rule) => hits.push(rule.rule.id),
              (id, error) => {
                throw new Error(`${id}: ${String(error)}`);
              },
            );
            const expected = specs.flatMap((spec, i) =>
              spec.pid === event.pid && (spec.name === null || spec.name === event.name) ? [`r${i}`] : [],
            );
            expect(hits).toEqual(expected);
            if (hits.length > 32) manyHits++;
          }
        },
      ),
      { seed: 20261203, numRuns: 200 },
    );
    expect(manyHits).toBeGreaterThan(0);
  });

  it('files a rule under its own literal, not under the condition a thousand rules share', () => {
    const shared = "process:x_channel = 'sysmon'";
    const rules = Array.from({ length: 1000 }, (_, i) =>
      createRule({ id: `r${i}`, pattern: `[process:command_line LIKE '%tool${i}.exe%' AND ${shared}]` }),
    );
    const index = new RuleIndex();
    rules.forEach((r, id) => {
      const o = r.pattern.observations[0]!;
      index.add(id, o.expression.comparison, o.rootTypes);
    });
    expect(
      offeredFor(index, { type: 'process', x_channel: 'sysmon', command_line: 'C:\\tools\\tool7.exe -x' }),
    ).toEqual([7]);
  });

  it('indexes emoji literals and regexes with a group alternation or a case-insensitive flag', () => {
    expect(likeLiteral('%🦆🦅%')).toBe('🦆🦅');
    // Any text: the index reads the pattern and the values folded and normalised as the comparison does.
    expect(likeLiteral('%évier%')).toBe('évier');
    expect(likeLiteral('% –i "lsass%')).toBe(' –i "lsass');
    expect(likeLiteral('%😀%')).toBe('😀');
    expect(regexLiteral('cmd.{0,5}(?:/c|/r).+powershell')).toBe('powershell');
    expect(regexLiteral('a|powershell')).toBeUndefined();
    // A quantifier after an emoji applies to both its code units.
    expect(regexLiteral('😀😀?')).toBe('😀');
    expect(regexLiteral('(?i)powershell')).toBeUndefined(); // only up to case: filed folded by the index
  });
});
