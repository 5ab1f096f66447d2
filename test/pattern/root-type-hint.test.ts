/**
 * Issue #11, item 13: the `different-root-types` warning suggests a rewrite that keeps the
 * meaning "one event": the objects reached from one root object through references. It never
 * suggests two `[ ]` observations joined by AND, which match two different events.
 */
import { describe, expect, it } from 'vitest';
import { checkPattern, compilePattern } from '../../src/pattern/compile.js';
import { PatternDiagnosticCode as Code } from '../../src/pattern/diagnostics.js';

function hint(pattern: string): string {
  const warning = checkPattern(pattern).diagnostics.find((d) => d.code === Code.differentRootTypes);
  expect(warning, pattern).toBeDefined();
  const message = warning?.message ?? '';
  expect(message).not.toMatch(/use separate \[ \] observations/);
  return message.slice(message.indexOf('can never match; ') + 'can never match; '.length);
}

const SEPARATE = '(separate [ ] observations joined by AND would match two different events, not one)';

/** The suggested observation expression, as text. */
const suggestion = (text: string): string => /(\[.*\])/.exec(text.replace(SEPARATE, ''))?.[1] ?? '';

/** One STIX 2.1 event (a bundle with one observed-data) holding the given objects. */
function event(objects: Record<string, unknown>[]): Record<string, unknown> {
  return {
    type: 'bundle',
    id: 'bundle--00000000-0000-4000-8000-000000000001',
    objects: [
      {
        type: 'observed-data',
        spec_version: '2.1',
        id: 'observed-data--00000000-0000-4000-8000-000000000002',
        created: '2024-01-01T00:00:00Z',
        modified: '2024-01-01T00:00:00Z',
        first_observed: '2024-01-01T00:00:00Z',
        last_observed: '2024-01-01T00:00:00Z',
        number_observed: 1,
        object_refs: objects.map((o) => o.id),
      },
      ...objects,
    ],
  };
}

describe('the different-root-types hint', () => {
  it('a reference from one object to the other: process → image_ref → file', () => {
    const text = hint("[process:name = 'x' AND file:name = 'y']");
    expect(text).toBe(
      `to compare objects of one event, reach them from one object through references: [process:name = 'x' AND process:image_ref.name = 'y'] ${SEPARATE}`,
    );
  });

  it('the event-metadata case: x-oca-event references the process (and says which one may differ)', () => {
    expect(hint("[x-oca-event:action = 'x' AND process:name = 'y']")).toBe(
      `to compare objects of one event, reach them from one object through references: [x-oca-event:action = 'x' AND x-oca-event:process_ref.name = 'y'] (process_ref may instead be parent_process_ref, depending on what the event says) ${SEPARATE}`,
    );
  });

  it("the issue's pattern: file and url, both referenced from the event object", () => {
    expect(suggestion(hint("[file:name = 'a.exe' AND url:value = 'www.example.com']"))).toBe(
      "[x-oca-event:file_ref.name = 'a.exe' AND x-oca-event:url_ref.value = 'www.example.com']",
    );
  });

  it('an address of network traffic: src_ref, or dst_ref', () => {
    const text = hint("[ipv4-addr:value = '192.0.2.1' AND network-traffic:src_port = 37020]");
    expect(suggestion(text)).toBe("[network-traffic:src_ref.value = '192.0.2.1' AND network-traffic:src_port = 37020]");
    expect(text).toContain('src_ref may instead be dst_ref');
  });

  it('only the AND that mixes types is rewritten; other alternatives stay as written', () => {
    expect(
      suggestion(hint("[file:name = 'a' AND url:value = 'b' OR process:name = 'p' AND user-account:user_id = 'u']")),
    ).toBe(
      "[x-oca-event:file_ref.name = 'a' AND x-oca-event:url_ref.value = 'b' OR process:name = 'p' AND process:creator_user_ref.user_id = 'u']",
    );
  });

  it('no known reference: says both objects must be reached from one root through a _ref, and shows the shape', () => {
    expect(hint("[x-sysdig-cluster:x_namespace = 'ap5s' AND x-sysdig-deployment:name = 'app-manager']")).toBe(
      `both objects must be reached from one root object through a _ref property (no reference between x-sysdig-cluster and x-sysdig-deployment is known to stixflow), in this shape: [x-sysdig-cluster:x_namespace = 'ap5s' AND x-sysdig-cluster:<a _ref to the x-sysdig-deployment>.name = 'app-manager'] ${SEPARATE}`,
    );
  });

  it.each([
    [
      "[process:name = 'x' AND file:name = 'y']",
      [
        {
          type: 'process',
          spec_version: '2.1',
          id: 'process--00000000-0000-4000-8000-000000000010',
          name: 'x',
          image_ref: 'file--00000000-0000-4000-8000-000000000011',
        },
        { type: 'file', spec_version: '2.1', id: 'file--00000000-0000-4000-8000-000000000011', name: 'y' },
      ],
    ],
    [
      "[file:name = 'a.exe' AND url:value = 'www.example.com']",
      [
        {
          type: 'x-oca-event',
          id: 'x-oca-event--00000000-0000-4000-8000-000000000020',
          file_ref: 'file--00000000-0000-4000-8000-000000000021',
          url_ref: 'url--00000000-0000-4000-8000-000000000022',
        },
        { type: 'file', spec_version: '2.1', id: 'file--00000000-0000-4000-8000-000000000021', name: 'a.exe' },
        { type: 'url', spec_version: '2.1', id: 'url--00000000-0000-4000-8000-000000000022', value: 'www.example.com' },
      ],
    ],
  ])(
    'the rewrite of %s compiles without the warning and matches one event that links both objects',
    (pattern, objects) => {
      const rewritten = suggestion(hint(pattern));
      const compiled = compilePattern(rewritten);
      expect(compiled.warnings).toEqual([]);
      expect(compiled.match([event(objects)]).matched).toBe(true);
      // The same objects in one event but unlinked do not match: the rewrite asks for the link.
      const unlinked = objects.map((o) => Object.fromEntries(Object.entries(o).filter(([k]) => !k.endsWith('_ref'))));
      expect(compiled.match([event(unlinked)]).matched).toBe(false);
    },
  );
});
