/**
 * SHA-1 (FIPS 180-4) in JavaScript, for the one place that hashes a million short texts in a
 * row: the line keys of a log backlog (shared/store/inference.ts lineKey), each
 * `container id \0 timestamp \0 occurrence \0`. node:crypto costs more per call (a context set up
 * and torn down for every 90 bytes) than the compression itself; here the container id's whole
 * 64-byte block is compressed once per container and each line costs the one block after it.
 * Not for anything secret or large: keys only, checked against node:crypto in test/inference.test.ts.
 */

const W = new Int32Array(80);

/** One 64-byte block of `b` at `off` into the state `h` (five 32-bit words). */
function compress(h: Int32Array, b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + 4 * i;
    W[i] = (b[j]! << 24) | (b[j + 1]! << 16) | (b[j + 2]! << 8) | b[j + 3]!;
  }
  for (let i = 16; i < 80; i++) {
    const x = W[i - 3]! ^ W[i - 8]! ^ W[i - 14]! ^ W[i - 16]!;
    W[i] = (x << 1) | (x >>> 31);
  }
  let a = h[0]!;
  let b1 = h[1]!;
  let c = h[2]!;
  let d = h[3]!;
  let e = h[4]!;
  // The four rounds of 20 steps, constants K as signed 32-bit integers.
  for (let i = 0; i < 20; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b1 & c) | (~b1 & d)) + e + 0x5a827999 + W[i]!) | 0;
    e = d;
    d = c;
    c = (b1 << 30) | (b1 >>> 2);
    b1 = a;
    a = t;
  }
  for (let i = 20; i < 40; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b1 ^ c ^ d) + e + 0x6ed9eba1 + W[i]!) | 0;
    e = d;
    d = c;
    c = (b1 << 30) | (b1 >>> 2);
    b1 = a;
    a = t;
  }
  for (let i = 40; i < 60; i++) {
    const t = (((a << 5) | (a >>> 27)) + ((b1 & c) | (b1 & d) | (c & d)) + e - 0x70e44324 + W[i]!) | 0;
    e = d;
    d = c;
    c = (b1 << 30) | (b1 >>> 2);
    b1 = a;
    a = t;
  }
  for (let i = 60; i < 80; i++) {
    const t = (((a << 5) | (a >>> 27)) + (b1 ^ c ^ d) + e - 0x359d3e2a + W[i]!) | 0;
    e = d;
    d = c;
    c = (b1 << 30) | (b1 >>> 2);
    b1 = a;
    a = t;
  }
  h[0] = (h[0]! + a) | 0;
  h[1] = (h[1]! + b1) | 0;
  h[2] = (h[2]! + c) | 0;
  h[3] = (h[3]! + d) | 0;
  h[4] = (h[4]! + e) | 0;
}

const INITIAL = [0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0];

/** SHA-1 of `prefix + rest` (UTF-8) for many `rest` after one prefix. */
export class Sha1AfterPrefix {
  /** The state after the prefix's whole blocks. */
  private readonly mid = Int32Array.from(INITIAL);
  /** The prefix's bytes after its whole blocks. */
  private readonly tail: Buffer;
  private readonly prefixBlockBytes: number;
  private readonly h = new Int32Array(5);
  private block = Buffer.alloc(256);

  constructor(prefix: string) {
    const bytes = Buffer.from(prefix, 'utf8');
    this.prefixBlockBytes = bytes.length - (bytes.length % 64);
    for (let off = 0; off < this.prefixBlockBytes; off += 64) compress(this.mid, bytes, off);
    this.tail = Buffer.from(bytes.subarray(this.prefixBlockBytes));
  }

  /** The digest's first 64 bits, big-endian, as a signed integer (Buffer.readBigInt64BE of the digest). */
  first64(rest: string): bigint {
    // A character is at most 3 bytes of UTF-8; the padding adds 1 + 8 bytes and up to a block.
    const room = this.tail.length + rest.length * 3 + 73;
    if (this.block.length < room) this.block = Buffer.alloc(2 * room);
    const b = this.block;
    this.tail.copy(b, 0);
    const n = this.tail.length + b.write(rest, this.tail.length, 'utf8');
    const end = (((n + 8) >>> 6) + 1) << 6;
    b.fill(0, n, end);
    b[n] = 0x80;
    const bits = (this.prefixBlockBytes + n) * 8;
    b.writeUInt32BE(Math.floor(bits / 0x1_0000_0000), end - 8);
    b.writeUInt32BE(bits >>> 0, end - 4);
    this.h.set(this.mid);
    for (let off = 0; off < end; off += 64) compress(this.h, b, off);
    return (BigInt(this.h[0]!) << 32n) | BigInt(this.h[1]! >>> 0);
  }
}
