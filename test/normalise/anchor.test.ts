import { describe, expect, it } from 'vitest';
import { compilePattern } from '../../src/pattern/compile.js';
import { createNormaliser, loadMapping, toBundle } from '../../src/normalise/index.js';
import type { ObservedEvent } from '../../src/stix/types.js';
import { byId, expectWellFormed, ofType, single } from './helpers.js';

const normaliser = createNormaliser({ tenant: 'acme' });

/** Does the pattern match the normalised event, through the real matcher? */
function fires(pattern: string, event: ObservedEvent): boolean {
  return compilePattern(pattern).match(toBundle(event)).matched;
}

// An Elastic Defend process start, written from the ECS field reference (process.*, user.*, host.*, event.*).
const defendProcess = {
  '@timestamp': '2024-05-01T10:00:00.000Z',
  ecs: { version: '8.11.0' },
  event: {
    id: 'd-1',
    kind: 'event',
    category: ['process'],
    type: ['start'],
    action: 'start',
    module: 'endpoint',
    dataset: 'endpoint.events.process',
  },
  host: { name: 'ws-07', os: { family: 'windows' } },
  user: { name: 'alice', id: 'S-1-5-21-7-1001' },
  process: {
    name: 'rundll32.exe',
    pid: 812,
    command_line: 'rundll32.exe C:\\Users\\alice\\mimikatz.dll,main',
    executable: 'C:\\Windows\\System32\\rundll32.exe',
    parent: { name: 'winword.exe', pid: 77 },
  },
};

const defendConnection = {
  '@timestamp': '2024-05-01T10:00:05.000Z',
  ecs: { version: '8.11.0' },
  event: { id: 'd-2', kind: 'event', category: ['network'], type: ['start'], action: 'connection_attempted' },
  process: { name: 'nc.exe', pid: 900 },
  source: { ip: '10.0.0.7', port: 50123 },
  destination: { ip: '203.0.113.9', port: 4444 },
  network: { transport: 'tcp' },
};

describe('the x-oca-event anchor', () => {
  it('references the process, its parent, the user and the host of the event', () => {
    const event = single(normaliser.normalise(defendProcess));
    expectWellFormed(event);
    const [anchor] = ofType(event, 'x-oca-event');
    expect(anchor).toMatchObject({ action: 'start', module: 'endpoint', category: ['process'] });
    const process = byId(event, anchor?.process_ref);
    expect(process).toMatchObject({ type: 'process', name: 'rundll32.exe', pid: 812 });
    expect(byId(event, anchor?.parent_process_ref)).toMatchObject({ type: 'process', name: 'winword.exe' });
    expect(process.parent_ref).toBe(anchor?.parent_process_ref);
    const user = byId(event, anchor?.user_ref);
    expect(user).toMatchObject({ type: 'user-account', account_login: 'alice' });
    // The process references its user.
    expect(process.creator_user_ref).toBe(user.id);
    expect(byId(event, anchor?.host_ref)).toMatchObject({ type: 'x-oca-asset', hostname: 'ws-07' });
  });

  it('lets one observation combine event metadata with the process it is about', () => {
    const event = single(normaliser.normalise(defendProcess));
    expect(
      fires("[x-oca-event:action = 'start' AND x-oca-event:process_ref.command_line LIKE '%mimikatz%']", event),
    ).toBe(true);
    expect(fires("[x-oca-event:action = 'start' AND x-oca-event:parent_process_ref.name = 'winword.exe']", event)).toBe(
      true,
    );
    expect(
      fires(
        "[x-oca-event:action = 'start' AND x-oca-event:process_ref.creator_user_ref.account_login = 'alice']",
        event,
      ),
    ).toBe(true);
    expect(
      fires("[x-oca-event:action = 'end' AND x-oca-event:process_ref.command_line LIKE '%mimikatz%']", event),
    ).toBe(false);
    expect(fires("[x-oca-event:action = 'start' AND x-oca-event:process_ref.name = 'bash']", event)).toBe(false);
  });

  it('ties a process to its connection', () => {
    const event = single(normaliser.normalise(defendConnection));
    const [anchor] = ofType(event, 'x-oca-event');
    const process = byId(event, anchor?.process_ref);
    const traffic = byId(event, anchor?.network_ref);
    expect(traffic).toMatchObject({ type: 'network-traffic', dst_port: 4444 });
    expect(process.opened_connection_refs).toEqual([traffic.id]);
    expect(fires("[x-oca-event:network_ref.dst_port = 4444 AND x-oca-event:process_ref.name = 'nc.exe']", event)).toBe(
      true,
    );
    expect(
      fires("[process:opened_connection_refs[*].dst_ref.value = '203.0.113.9' AND process:name = 'nc.exe']", event),
    ).toBe(true);
  });
});

describe('anchor, links and constants in the mapping language', () => {
  const text = (extra: string): string =>
    `mapping: 1\nname: m\ndetect: { any: [ { present: t } ] }\ntime: { start: t }\nsource_id: id\n${extra}fields:\n  exe: process:name\n  who: user-account:account_login\n`;

  it('sets constants only on events that map to something, and anchors them', () => {
    const mapping = loadMapping(
      text('constants:\n  x-oca-event:module: m-tool\nanchor:\n  process_ref: process\n  user_ref: user-account\n'),
      'm.yaml',
    );
    const n = createNormaliser({ mappings: [mapping], includeBuiltIns: false });
    const event = single(n.normalise({ t: '2024-05-01T10:00:00Z', id: 'e1', exe: 'a.exe' }));
    const [anchor] = ofType(event, 'x-oca-event');
    expect(anchor).toMatchObject({ module: 'm-tool', process_ref: ofType(event, 'process')[0]?.id });
    expect(anchor?.user_ref).toBeUndefined();
    const empty = n.normalise({ t: '2024-05-01T10:00:00Z', id: 'e2', exe: null, unrelated: 1 });
    expect(!empty.ok && empty.diagnostic.code).toBe('no-observables');
  });

  it('reports links to objects the mapping never creates, and links that would change an id', () => {
    expect(() => loadMapping(text('links:\n  process:creator_user_ref: user-acount\n'), 'm.yaml')).toThrow(
      /"user-acount" is not an object any target path/,
    );
    expect(() =>
      loadMapping(
        text('links:\n  user-account:x_owner_ref: process\n  file:parent_directory_ref: process\n'),
        'm.yaml',
      ),
    ).toThrow(/parent_directory_ref contributes to the id of file/);
  });
});

describe('the different-root-types diagnostic', () => {
  it('suggests the x-oca-event reference form for event metadata combined with another object', () => {
    const [warning] = compilePattern("[x-oca-event:code = '4688' AND process:command_line LIKE '%mimikatz%']").warnings;
    expect(warning?.code).toBe('different-root-types');
    expect(warning?.message).toContain('x-oca-event:process_ref.command_line');
  });
});
