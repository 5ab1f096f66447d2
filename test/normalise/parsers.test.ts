import { describe, expect, it } from 'vitest';
import { compileParser } from '../../src/normalise/parsers.js';

describe('parsers never create forbidden keys from input', () => {
  it('drops __proto__, constructor, prototype and empty keys, keeps look-alikes', () => {
    const parsed = compileParser('key-value')(
      '__proto__=a,constructor=b,prototype=c,=d,__proto=e,constructors=f,Prototype=g,prototypes=h',
    );
    expect(parsed).toEqual({ __proto: 'e', constructors: 'f', Prototype: 'g', prototypes: 'h' });
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
    expect(Object.keys(parsed ?? {})).not.toContain('__proto__');
  });

  it('does the same for Windows event XML Data names', () => {
    const xml =
      '<EventData><Data Name="__proto__">x</Data><Data Name="constructor">y</Data>' +
      '<Data Name="prototype">z</Data><Data Name="Image">C:\\a.exe</Data></EventData>';
    const parsed = compileParser('windows-xml')(xml);
    expect(parsed).toEqual({ Image: 'C:\\a.exe' });
    expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
  });
});
