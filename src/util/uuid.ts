/**
 * Name-based UUIDs (RFC 4122 version 5: SHA-1 of a namespace and a name), the one implementation the project
 * has: STIX deterministic ids and the normaliser's derived ids (src/normalise/ids.ts) and the engine's alert,
 * sighting and notice ids (src/engine/alert.ts) all come from here.
 */
import { hash } from 'node:crypto';

/*
 * SHA-1 for UUIDv5. Normalising one event derives a handful of ids, most from short names. For a name that fits
 * two SHA-1 blocks (up to 103 bytes after the 16 of the namespace), hashing in JavaScript over reusable buffers
 * beats any call into node:crypto, whose fixed cost per call is that of about three blocks in JavaScript (an id
 * from a one-block name about 190 ns, from a two-block name 400-500 ns, against 650-800 ns a call whatever the
 * length, on the bench machine; at three blocks the two break even); longer names (the JCS of
 * a network-traffic, an observed-data without a source id) go to node:crypto's one-shot `hash`. Correctness is
 * pinned by tests against node:crypto and published UUIDv5 vectors.
 */
/**
 * Longest name (in UTF-16 code units) hashed in JavaScript; an ASCII name up to this length is two blocks. The
 * observed-data names (`tenant, mapping, source id`) are mostly 40 to 100 characters: one block was too few.
 */
const JS_NAME_LIMIT = 103;
let nativeMessage = Buffer.allocUnsafe(1024);
/**
 * Views of nativeMessage by length, so that a call makes no new Buffer object for its input (the view was a
 * measurable share of the call). Dropped when the buffer grows.
 */
let nativeViews: Buffer[] = [];
/** Hex digit values by character code, for reading node:crypto's hex digest back into words. */
const HEX_VALUE = new Int8Array(128);
for (let i = 0; i < 16; i++) HEX_VALUE['0123456789abcdef'.charCodeAt(i)] = i;

/** SHA-1 of namespace bytes and the UTF-8 of `name` by node:crypto, as five 32-bit words in `out`. */
function nativeSha1Words(namespace: Uint8Array, name: string, out: Int32Array): void {
  const worst = 16 + name.length * 3;
  if (worst > nativeMessage.length) {
    nativeMessage = Buffer.allocUnsafe(worst);
    nativeViews = [];
  }
  // Copied every time: a per-event namespace is one buffer rewritten for each event.
  nativeMessage.set(namespace, 0);
  const length = 16 + nativeMessage.write(name, 16, 'utf8');
  let view = nativeViews[length];
  if (view === undefined) {
    view = nativeMessage.subarray(0, length);
    nativeViews[length] = view;
  }
  const hex = hash('sha1', view, 'hex');
  for (let w = 0; w < 5; w++) {
    let word = 0;
    for (let k = w * 8; k < w * 8 + 8; k++) word = (word << 4) | HEX_VALUE[hex.charCodeAt(k)]!;
    out[w] = word;
  }
}

/**
 * The padded message as big-endian 32-bit words (a `const`, which V8 optimises better): six blocks, the most a
 * name of JS_NAME_LIMIT code units can take as UTF-8 (3 bytes each, + 16 + 9).
 */
const MESSAGE = new Int32Array(96);
/** UTF-8 of names with non-ASCII characters, before they are packed into words. */
let utf8Scratch = new Uint8Array(3 * JS_NAME_LIMIT);
const HEX_BYTE: string[] = [];
for (let i = 0; i < 256; i++) HEX_BYTE.push(i.toString(16).padStart(2, '0'));

function uuidToBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

const namespaceBytes = new Map<string, Uint8Array>();

function bytesOf(namespace: string): Uint8Array {
  let bytes = namespaceBytes.get(namespace);
  if (bytes === undefined) {
    bytes = uuidToBytes(namespace);
    namespaceBytes.set(namespace, bytes);
  }
  return bytes;
}

const encoder = new TextEncoder();

/**
 * Writes namespace + UTF-8 name with SHA-1 padding into a word buffer, packing ASCII characters straight into
 * big-endian words (no byte buffer in between: for these short names that step cost as much as a block of
 * hashing). Returns the buffer; `paddedWords` receives its length in words.
 */
function fillMessage(namespace: Uint8Array, name: string): Int32Array {
  const nameLength = name.length;
  // UTF-8 needs at most 3 bytes per UTF-16 code unit; +16 namespace, +9 padding, rounded up to a block.
  const worstWords = ((16 + nameLength * 3 + 9 + 63) >> 6) << 4;
  const message = worstWords <= MESSAGE.length ? MESSAGE : new Int32Array(worstWords);
  for (let i = 0; i < 4; i++) {
    const j = i * 4;
    message[i] = (namespace[j]! << 24) | (namespace[j + 1]! << 16) | (namespace[j + 2]! << 8) | namespace[j + 3]!;
  }
  let length = 16;
  let word = 0;
  let i = 0;
  for (; i < nameLength; i++) {
    const c = name.charCodeAt(i);
    if (c > 0x7f) break;
    word = (word << 8) | c;
    if ((++length & 3) === 0) {
      message[(length >> 2) - 1] = word;
      word = 0;
    }
  }
  if (i < nameLength) {
    // Not ASCII: encode the rest as UTF-8 bytes, then pack those.
    if (utf8Scratch.length < (nameLength - i) * 3) utf8Scratch = new Uint8Array((nameLength - i) * 3);
    const written = encoder.encodeInto(name.slice(i), utf8Scratch).written;
    for (let k = 0; k < written; k++) {
      word = (word << 8) | utf8Scratch[k]!;
      if ((++length & 3) === 0) {
        message[(length >> 2) - 1] = word;
        word = 0;
      }
    }
  }
  // The 0x80 terminator after the last byte, then zeros, then the length in bits (names are far below 2^32 bits).
  const filled = length & 3;
  message[length >> 2] = ((word << 8) | 0x80) << ((3 - filled) * 8);
  const padded = ((length + 9 + 63) >> 6) << 4;
  for (let k = (length >> 2) + 1; k < padded - 1; k++) message[k] = 0;
  message[padded - 1] = length * 8;
  paddedWords = padded;
  return message;
}

let paddedWords = 0;

function hexWord(word: number): string {
  return (
    HEX_BYTE[(word >>> 24) & 0xff]! +
    HEX_BYTE[(word >>> 16) & 0xff]! +
    HEX_BYTE[(word >>> 8) & 0xff]! +
    HEX_BYTE[word & 0xff]!
  );
}

/** SHA-1 of namespace bytes followed by the UTF-8 of `name`, as five 32-bit words. */
function sha1Words(namespace: Uint8Array, name: string, out: Int32Array): void {
  if (name.length > JS_NAME_LIMIT) return nativeSha1Words(namespace, name, out);
  const message = fillMessage(namespace, name);
  const length = paddedWords;
  let h0 = 0x67452301;
  let h1 = 0xefcdab89 | 0;
  let h2 = 0x98badcfe | 0;
  let h3 = 0x10325476;
  let h4 = 0xc3d2e1f0 | 0;
  for (let block = 0; block < length; block += 16) {
    // Fully unrolled, the message schedule in sixteen locals and the five working variables renamed from round to
    // round instead of moved: V8 keeps them all in registers or on the stack, and a block hashes in about two
    // thirds of the time of four 20-round loops over an 80-word schedule array (which bounds-checks every access).
    // Round i adds into the variable that holds `e` and rotates the one that holds `b`; after 80 rounds (a multiple
    // of five) every variable is back in its role.
    let w0 = message[block + 0]!;
    let w1 = message[block + 1]!;
    let w2 = message[block + 2]!;
    let w3 = message[block + 3]!;
    let w4 = message[block + 4]!;
    let w5 = message[block + 5]!;
    let w6 = message[block + 6]!;
    let w7 = message[block + 7]!;
    let w8 = message[block + 8]!;
    let w9 = message[block + 9]!;
    let w10 = message[block + 10]!;
    let w11 = message[block + 11]!;
    let w12 = message[block + 12]!;
    let w13 = message[block + 13]!;
    let w14 = message[block + 14]!;
    let w15 = message[block + 15]!;
    let a = h0;
    let b = h1;
    let c = h2;
    let d = h3;
    let e = h4;
    let x: number;
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + 0x5a827999 + e + w0) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + 0x5a827999 + d + w1) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + 0x5a827999 + c + w2) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + 0x5a827999 + b + w3) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + 0x5a827999 + a + w4) | 0;
    c = (c << 30) | (c >>> 2);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + 0x5a827999 + e + w5) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + 0x5a827999 + d + w6) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + 0x5a827999 + c + w7) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + 0x5a827999 + b + w8) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + 0x5a827999 + a + w9) | 0;
    c = (c << 30) | (c >>> 2);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + 0x5a827999 + e + w10) | 0;
    b = (b << 30) | (b >>> 2);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + 0x5a827999 + d + w11) | 0;
    a = (a << 30) | (a >>> 2);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + 0x5a827999 + c + w12) | 0;
    e = (e << 30) | (e >>> 2);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + 0x5a827999 + b + w13) | 0;
    d = (d << 30) | (d >>> 2);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + 0x5a827999 + a + w14) | 0;
    c = (c << 30) | (c >>> 2);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + 0x5a827999 + e + w15) | 0;
    b = (b << 30) | (b >>> 2);
    x = w13 ^ w8 ^ w2 ^ w0;
    w0 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (~a & c)) + 0x5a827999 + d + w0) | 0;
    a = (a << 30) | (a >>> 2);
    x = w14 ^ w9 ^ w3 ^ w1;
    w1 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (~e & b)) + 0x5a827999 + c + w1) | 0;
    e = (e << 30) | (e >>> 2);
    x = w15 ^ w10 ^ w4 ^ w2;
    w2 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (~d & a)) + 0x5a827999 + b + w2) | 0;
    d = (d << 30) | (d >>> 2);
    x = w0 ^ w11 ^ w5 ^ w3;
    w3 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (~c & e)) + 0x5a827999 + a + w3) | 0;
    c = (c << 30) | (c >>> 2);
    x = w1 ^ w12 ^ w6 ^ w4;
    w4 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + 0x6ed9eba1 + e + w4) | 0;
    b = (b << 30) | (b >>> 2);
    x = w2 ^ w13 ^ w7 ^ w5;
    w5 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + 0x6ed9eba1 + d + w5) | 0;
    a = (a << 30) | (a >>> 2);
    x = w3 ^ w14 ^ w8 ^ w6;
    w6 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + 0x6ed9eba1 + c + w6) | 0;
    e = (e << 30) | (e >>> 2);
    x = w4 ^ w15 ^ w9 ^ w7;
    w7 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + 0x6ed9eba1 + b + w7) | 0;
    d = (d << 30) | (d >>> 2);
    x = w5 ^ w0 ^ w10 ^ w8;
    w8 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + 0x6ed9eba1 + a + w8) | 0;
    c = (c << 30) | (c >>> 2);
    x = w6 ^ w1 ^ w11 ^ w9;
    w9 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + 0x6ed9eba1 + e + w9) | 0;
    b = (b << 30) | (b >>> 2);
    x = w7 ^ w2 ^ w12 ^ w10;
    w10 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + 0x6ed9eba1 + d + w10) | 0;
    a = (a << 30) | (a >>> 2);
    x = w8 ^ w3 ^ w13 ^ w11;
    w11 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + 0x6ed9eba1 + c + w11) | 0;
    e = (e << 30) | (e >>> 2);
    x = w9 ^ w4 ^ w14 ^ w12;
    w12 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + 0x6ed9eba1 + b + w12) | 0;
    d = (d << 30) | (d >>> 2);
    x = w10 ^ w5 ^ w15 ^ w13;
    w13 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + 0x6ed9eba1 + a + w13) | 0;
    c = (c << 30) | (c >>> 2);
    x = w11 ^ w6 ^ w0 ^ w14;
    w14 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + 0x6ed9eba1 + e + w14) | 0;
    b = (b << 30) | (b >>> 2);
    x = w12 ^ w7 ^ w1 ^ w15;
    w15 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + 0x6ed9eba1 + d + w15) | 0;
    a = (a << 30) | (a >>> 2);
    x = w13 ^ w8 ^ w2 ^ w0;
    w0 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + 0x6ed9eba1 + c + w0) | 0;
    e = (e << 30) | (e >>> 2);
    x = w14 ^ w9 ^ w3 ^ w1;
    w1 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + 0x6ed9eba1 + b + w1) | 0;
    d = (d << 30) | (d >>> 2);
    x = w15 ^ w10 ^ w4 ^ w2;
    w2 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + 0x6ed9eba1 + a + w2) | 0;
    c = (c << 30) | (c >>> 2);
    x = w0 ^ w11 ^ w5 ^ w3;
    w3 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + 0x6ed9eba1 + e + w3) | 0;
    b = (b << 30) | (b >>> 2);
    x = w1 ^ w12 ^ w6 ^ w4;
    w4 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) + 0x6ed9eba1 + d + w4) | 0;
    a = (a << 30) | (a >>> 2);
    x = w2 ^ w13 ^ w7 ^ w5;
    w5 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) + 0x6ed9eba1 + c + w5) | 0;
    e = (e << 30) | (e >>> 2);
    x = w3 ^ w14 ^ w8 ^ w6;
    w6 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) + 0x6ed9eba1 + b + w6) | 0;
    d = (d << 30) | (d >>> 2);
    x = w4 ^ w15 ^ w9 ^ w7;
    w7 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) + 0x6ed9eba1 + a + w7) | 0;
    c = (c << 30) | (c >>> 2);
    x = w5 ^ w0 ^ w10 ^ w8;
    w8 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) - 0x70e44324 + e + w8) | 0;
    b = (b << 30) | (b >>> 2);
    x = w6 ^ w1 ^ w11 ^ w9;
    w9 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) - 0x70e44324 + d + w9) | 0;
    a = (a << 30) | (a >>> 2);
    x = w7 ^ w2 ^ w12 ^ w10;
    w10 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) - 0x70e44324 + c + w10) | 0;
    e = (e << 30) | (e >>> 2);
    x = w8 ^ w3 ^ w13 ^ w11;
    w11 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) - 0x70e44324 + b + w11) | 0;
    d = (d << 30) | (d >>> 2);
    x = w9 ^ w4 ^ w14 ^ w12;
    w12 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) - 0x70e44324 + a + w12) | 0;
    c = (c << 30) | (c >>> 2);
    x = w10 ^ w5 ^ w15 ^ w13;
    w13 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) - 0x70e44324 + e + w13) | 0;
    b = (b << 30) | (b >>> 2);
    x = w11 ^ w6 ^ w0 ^ w14;
    w14 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) - 0x70e44324 + d + w14) | 0;
    a = (a << 30) | (a >>> 2);
    x = w12 ^ w7 ^ w1 ^ w15;
    w15 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) - 0x70e44324 + c + w15) | 0;
    e = (e << 30) | (e >>> 2);
    x = w13 ^ w8 ^ w2 ^ w0;
    w0 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) - 0x70e44324 + b + w0) | 0;
    d = (d << 30) | (d >>> 2);
    x = w14 ^ w9 ^ w3 ^ w1;
    w1 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) - 0x70e44324 + a + w1) | 0;
    c = (c << 30) | (c >>> 2);
    x = w15 ^ w10 ^ w4 ^ w2;
    w2 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) - 0x70e44324 + e + w2) | 0;
    b = (b << 30) | (b >>> 2);
    x = w0 ^ w11 ^ w5 ^ w3;
    w3 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) - 0x70e44324 + d + w3) | 0;
    a = (a << 30) | (a >>> 2);
    x = w1 ^ w12 ^ w6 ^ w4;
    w4 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) - 0x70e44324 + c + w4) | 0;
    e = (e << 30) | (e >>> 2);
    x = w2 ^ w13 ^ w7 ^ w5;
    w5 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) - 0x70e44324 + b + w5) | 0;
    d = (d << 30) | (d >>> 2);
    x = w3 ^ w14 ^ w8 ^ w6;
    w6 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) - 0x70e44324 + a + w6) | 0;
    c = (c << 30) | (c >>> 2);
    x = w4 ^ w15 ^ w9 ^ w7;
    w7 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) - 0x70e44324 + e + w7) | 0;
    b = (b << 30) | (b >>> 2);
    x = w5 ^ w0 ^ w10 ^ w8;
    w8 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + ((a & b) | (a & c) | (b & c)) - 0x70e44324 + d + w8) | 0;
    a = (a << 30) | (a >>> 2);
    x = w6 ^ w1 ^ w11 ^ w9;
    w9 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + ((e & a) | (e & b) | (a & b)) - 0x70e44324 + c + w9) | 0;
    e = (e << 30) | (e >>> 2);
    x = w7 ^ w2 ^ w12 ^ w10;
    w10 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + ((d & e) | (d & a) | (e & a)) - 0x70e44324 + b + w10) | 0;
    d = (d << 30) | (d >>> 2);
    x = w8 ^ w3 ^ w13 ^ w11;
    w11 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + ((c & d) | (c & e) | (d & e)) - 0x70e44324 + a + w11) | 0;
    c = (c << 30) | (c >>> 2);
    x = w9 ^ w4 ^ w14 ^ w12;
    w12 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) - 0x359d3e2a + e + w12) | 0;
    b = (b << 30) | (b >>> 2);
    x = w10 ^ w5 ^ w15 ^ w13;
    w13 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) - 0x359d3e2a + d + w13) | 0;
    a = (a << 30) | (a >>> 2);
    x = w11 ^ w6 ^ w0 ^ w14;
    w14 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) - 0x359d3e2a + c + w14) | 0;
    e = (e << 30) | (e >>> 2);
    x = w12 ^ w7 ^ w1 ^ w15;
    w15 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) - 0x359d3e2a + b + w15) | 0;
    d = (d << 30) | (d >>> 2);
    x = w13 ^ w8 ^ w2 ^ w0;
    w0 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) - 0x359d3e2a + a + w0) | 0;
    c = (c << 30) | (c >>> 2);
    x = w14 ^ w9 ^ w3 ^ w1;
    w1 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) - 0x359d3e2a + e + w1) | 0;
    b = (b << 30) | (b >>> 2);
    x = w15 ^ w10 ^ w4 ^ w2;
    w2 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) - 0x359d3e2a + d + w2) | 0;
    a = (a << 30) | (a >>> 2);
    x = w0 ^ w11 ^ w5 ^ w3;
    w3 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) - 0x359d3e2a + c + w3) | 0;
    e = (e << 30) | (e >>> 2);
    x = w1 ^ w12 ^ w6 ^ w4;
    w4 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) - 0x359d3e2a + b + w4) | 0;
    d = (d << 30) | (d >>> 2);
    x = w2 ^ w13 ^ w7 ^ w5;
    w5 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) - 0x359d3e2a + a + w5) | 0;
    c = (c << 30) | (c >>> 2);
    x = w3 ^ w14 ^ w8 ^ w6;
    w6 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) - 0x359d3e2a + e + w6) | 0;
    b = (b << 30) | (b >>> 2);
    x = w4 ^ w15 ^ w9 ^ w7;
    w7 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) - 0x359d3e2a + d + w7) | 0;
    a = (a << 30) | (a >>> 2);
    x = w5 ^ w0 ^ w10 ^ w8;
    w8 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) - 0x359d3e2a + c + w8) | 0;
    e = (e << 30) | (e >>> 2);
    x = w6 ^ w1 ^ w11 ^ w9;
    w9 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) - 0x359d3e2a + b + w9) | 0;
    d = (d << 30) | (d >>> 2);
    x = w7 ^ w2 ^ w12 ^ w10;
    w10 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) - 0x359d3e2a + a + w10) | 0;
    c = (c << 30) | (c >>> 2);
    x = w8 ^ w3 ^ w13 ^ w11;
    w11 = (x << 1) | (x >>> 31);
    e = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) - 0x359d3e2a + e + w11) | 0;
    b = (b << 30) | (b >>> 2);
    x = w9 ^ w4 ^ w14 ^ w12;
    w12 = (x << 1) | (x >>> 31);
    d = (((e << 5) | (e >>> 27)) + (a ^ b ^ c) - 0x359d3e2a + d + w12) | 0;
    a = (a << 30) | (a >>> 2);
    x = w10 ^ w5 ^ w15 ^ w13;
    w13 = (x << 1) | (x >>> 31);
    c = (((d << 5) | (d >>> 27)) + (e ^ a ^ b) - 0x359d3e2a + c + w13) | 0;
    e = (e << 30) | (e >>> 2);
    x = w11 ^ w6 ^ w0 ^ w14;
    w14 = (x << 1) | (x >>> 31);
    b = (((c << 5) | (c >>> 27)) + (d ^ e ^ a) - 0x359d3e2a + b + w14) | 0;
    d = (d << 30) | (d >>> 2);
    x = w12 ^ w7 ^ w1 ^ w15;
    w15 = (x << 1) | (x >>> 31);
    a = (((b << 5) | (b >>> 27)) + (c ^ d ^ e) - 0x359d3e2a + a + w15) | 0;
    c = (c << 30) | (c >>> 2);
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
  }
  out[0] = h0;
  out[1] = h1;
  out[2] = h2;
  out[3] = h3;
  out[4] = h4;
}

const digest = new Int32Array(5);

/** SHA-1 (hex) of namespace UUID bytes followed by `name`; exported for tests against node:crypto. */
export function sha1Hex(namespace: string, name: string): string {
  sha1Words(bytesOf(namespace), name, digest);
  return hexWord(digest[0]!) + hexWord(digest[1]!) + hexWord(digest[2]!) + hexWord(digest[3]!) + hexWord(digest[4]!);
}

/** RFC 4122 UUIDv5 (SHA-1) of `name` (UTF-8) in `namespace`. */
export function uuidv5(namespace: string, name: string): string {
  return uuidv5Bytes(bytesOf(namespace), name);
}

/**
 * UUIDv5 of `name` in `namespace`, also writing the UUID's 16 bytes into `bytesOut`, so that it can serve as a
 * namespace itself (per-event namespaces) without parsing the string back.
 */
export function uuidv5WithBytes(namespace: string, name: string, bytesOut: Uint8Array): string {
  const uuid = uuidv5Bytes(bytesOf(namespace), name);
  for (let i = 0; i < 4; i++) {
    const word =
      i === 1 ? (digest[1]! & ~0xf000) | 0x5000 : i === 2 ? (digest[2]! & ~0xc0000000) | 0x80000000 : digest[i]!;
    bytesOut[i * 4] = (word >>> 24) & 0xff;
    bytesOut[i * 4 + 1] = (word >>> 16) & 0xff;
    bytesOut[i * 4 + 2] = (word >>> 8) & 0xff;
    bytesOut[i * 4 + 3] = word & 0xff;
  }
  return uuid;
}

/** UUIDv5 of `name` in a namespace given as its 16 bytes, optionally preceded by `prefix` (`file--`). */
export function uuidv5Bytes(namespace: Uint8Array, name: string, prefix = ''): string {
  sha1Words(namespace, name, digest);
  // Version 5 in the high nibble of byte 6; variant 10xx in the top bits of byte 8.
  return formatUuid(
    prefix,
    digest[0]!,
    (digest[1]! & ~0xf000) | 0x5000,
    (digest[2]! & 0x3fffffff) | 0x80000000,
    digest[3]!,
  );
}

/** `<type>--<UUIDv5 of name in namespace>`, built as one flat string. */
export function stixId(type: string, namespace: string, name: string): string {
  return uuidv5Bytes(bytesOf(namespace), name, `${type}--`);
}

const HEX_CODES = new Uint8Array([48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102]);

/** Char-code buffers per id prefix (`''`, `'file--'`…), with the prefix and the dashes already in place. */
const idBuffers = new Map<string, number[]>();

function idBuffer(prefix: string): number[] {
  let chars = idBuffers.get(prefix);
  if (chars === undefined) {
    chars = new Array<number>(prefix.length + 36).fill(45);
    for (let i = 0; i < prefix.length; i++) chars[i] = prefix.charCodeAt(i);
    idBuffers.set(prefix, chars);
  }
  return chars;
}

/** Character codes of the two hex digits of each byte value. */
const HEX_HIGH = new Uint8Array(256);
const HEX_LOW = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  HEX_HIGH[i] = HEX_CODES[i >>> 4]!;
  HEX_LOW[i] = HEX_CODES[i & 0xf]!;
}

/** The 8 hex digits of `word` at `at`, or (with `dash`) its high and low halves with a dash between. */
function putWord(chars: number[], word: number, at: number, dash: number): void {
  let b = word >>> 24;
  chars[at] = HEX_HIGH[b]!;
  chars[at + 1] = HEX_LOW[b]!;
  b = (word >>> 16) & 0xff;
  chars[at + 2] = HEX_HIGH[b]!;
  chars[at + 3] = HEX_LOW[b]!;
  at += dash;
  b = (word >>> 8) & 0xff;
  chars[at + 4] = HEX_HIGH[b]!;
  chars[at + 5] = HEX_LOW[b]!;
  b = word & 0xff;
  chars[at + 6] = HEX_HIGH[b]!;
  chars[at + 7] = HEX_LOW[b]!;
}

/**
 * Formats `prefix` and 128 bits as a UUID in one flat string. Concatenating hex pieces builds a tree of small
 * strings per id, flattened later, which showed up as garbage-collection time with a dozen ids per event.
 */
function formatUuid(prefix: string, w0: number, w1: number, w2: number, w3: number): string {
  const chars = idBuffer(prefix);
  const at = prefix.length;
  putWord(chars, w0, at, 0);
  putWord(chars, w1, at + 9, 1);
  putWord(chars, w2, at + 19, 1);
  putWord(chars, w3, at + 28, 0);
  return String.fromCharCode.apply(null, chars);
}

/**
 * A UUID of version 5 layout over the SHA-1 of `name` alone, with no namespace before it: the engine's ids
 * (alerts, sightings, indicators for rules) have always been made this way, and must stay as they are.
 */
export function unnamespacedUuid(name: string): string {
  const hex = hash('sha1', name, 'hex');
  for (let w = 0; w < 4; w++) {
    let word = 0;
    for (let k = w * 8; k < w * 8 + 8; k++) word = (word << 4) | HEX_VALUE[hex.charCodeAt(k)]!;
    digest[w] = word;
  }
  return formatUuid(
    '',
    digest[0]!,
    (digest[1]! & ~0xf000) | 0x5000,
    (digest[2]! & 0x3fffffff) | 0x80000000,
    digest[3]!,
  );
}
