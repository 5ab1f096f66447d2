/**
 * raw_fields: the fields no rule maps, found directly below the listed paths, are also copied as text into a
 * dictionary property of a fixed object, where patterns can read them (x_unmapped is not on an SCO).
 */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { createNormaliser, loadMapping } from '../../src/normalise/index.js';
import { fires } from './fixtures.js';
import { ofType, single } from './helpers.js';

const mapping = loadMapping(
  `
mapping: 1
name: raw-demo
detect: { all: [{ present: EventID }] }
time: { start: ts }
source_id: rid
roots: [Event.Data, Event.User.*]
raw_fields:
  target: x-oca-event:x_event_data
  under: [., Event.Data, Event.User.*]
fields:
  EventID: { target: x-oca-event:code, transform: to-string }
  Image: process:name
  Port: { target: network-traffic:dst_port, transform: to-port }
`,
  'raw-demo.yaml',
);
const normaliser = createNormaliser({ mappings: [mapping] });

describe('raw_fields', () => {
  it('copies the unmapped fields below the listed paths, as text, keyed by name; mapped ones are not copied', () => {
    const event = single(
      normaliser.normalise({
        EventID: 7,
        ts: '2024-01-01T00:00:00Z',
        rid: 'r1',
        TopLevel: 'yes',
        Event: {
          Data: {
            Image: 'cmd.exe',
            Threat: 'Mimikatz',
            Count: 3,
            Flag: false,
            'Threat Name': 'HackTool',
            Port: 'nope',
          },
          User: { Rule: { Param: 'x' } },
          Deep: { Inner: 'not below a listed path' },
        },
        Data: ['a', 'b'],
      }),
    );
    const [anchor] = ofType(event, 'x-oca-event');
    expect(anchor?.x_event_data).toEqual({
      TopLevel: 'yes',
      Threat: 'Mimikatz',
      Count: '3',
      Flag: 'false',
      'Threat Name': 'HackTool',
      ThreatName: 'HackTool',
      // A value a rule refused is unmapped, so it is kept too.
      Port: 'nope',
      Param: 'x',
      Data: ['a', 'b'],
    });
    // x_unmapped keeps everything it kept before.
    expect(event.observedData.x_unmapped).toMatchObject({
      'Event.Data.Threat': 'Mimikatz',
      'Event.Deep': { Inner: 'not below a listed path' },
    });
    expect(fires("[x-oca-event:x_event_data.'Threat' = 'Mimikatz' AND x-oca-event:code = '7']", event)).toBe(true);
    expect(fires("[x-oca-event:x_event_data.'Data'[*] = 'b']", event)).toBe(true);
  });

  it('with full_names, copies nested fields at any depth by their whole path, a list of objects as its leaves', () => {
    const nested = createNormaliser({
      mappings: [
        loadMapping(
          `
mapping: 1
name: nested-demo
detect: { all: [{ present: eventName }] }
time: { start: ts }
parse: { request: json }
raw_fields: { target: x-oca-event:x_event_data, under: [request], full_names: true }
fields:
  eventName: x-oca-event:action
  request.userName: user-account:account_login
`,
          'nested-demo.yaml',
        ),
      ],
    });
    const event = single(
      nested.normalise({
        eventName: 'RegisterTaskDefinition',
        ts: '2024-01-01T00:00:00Z',
        other: 'not below request',
        request: JSON.stringify({
          userName: 'alice',
          enable: false,
          deep: { inner: { value: 3 } },
          tags: ['a', 'b'],
          containers: [{ command: ['sh', '-c', 'curl $URI'], name: 'web' }, { command: ['echo'] }],
        }),
      }),
    );
    expect(ofType(event, 'x-oca-event')[0]?.x_event_data).toEqual({
      'request.enable': 'false',
      'request.deep.inner.value': '3',
      'request.tags': ['a', 'b'],
      'request.containers.command': ['sh', '-c', 'curl $URI', 'echo'],
      'request.containers.name': 'web',
    });
    expect(fires("[x-oca-event:x_event_data.'request.containers.command'[*] LIKE '%$URI']", event)).toBe(true);
    expect(fires("[x-oca-event:x_event_data.'request.enable' = 'false']", event)).toBe(true);
  });

  it('adds nothing when every field is mapped', () => {
    const event = single(normaliser.normalise({ EventID: 1, ts: '2024-01-01T00:00:00Z', Image: 'a.exe' }));
    expect(ofType(event, 'x-oca-event')[0]?.x_event_data).toBeUndefined();
  });

  it('needs an object of fixed type as its target', () => {
    expect(() =>
      loadMapping(
        `
mapping: 1
name: raw-bad
detect: { all: [{ present: a }] }
time: { start: ts }
raw_fields: { target: "domain-name:resolves_to_refs[*].x_raw", under: [.] }
fields: { a: x-oca-event:x_a }
`,
        'raw-bad.yaml',
      ),
    ).toThrow(InputError);
  });
});
