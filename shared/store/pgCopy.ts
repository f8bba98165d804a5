/**
 * PostgreSQL's binary COPY format for a round's rows (the "Binary Format" section of the COPY
 * reference): a header, then per row an int16 field count and per field an int32 length (-1 for
 * NULL) and the value in the type's binary send form — int8 and float8 big-endian, text as its
 * UTF-8 bytes. The server reads it without parsing text, and COPY inserts in batches, so a round
 * costs the server a fraction of an `INSERT … SELECT FROM unnest(…)` (bench/README.md,
 * bench:store). pg-copy-streams carries the bytes; this module only builds them.
 *
 * A value the binary form cannot carry exactly (a bigint column given 1.5, a string in a number
 * column) makes encodeCopy return undefined: the caller writes those rows through the text path,
 * where PostgreSQL itself judges them, as before.
 */

export type PgColType = 'bigint' | 'float8' | 'text';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const TWO_32 = 4294967296;

/** A buffer that doubles when full, written through a DataView (big-endian, as COPY wants). */
class Out {
  buf: Buffer;
  view: DataView;
  at = 0;
  constructor(bytes: number) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, bytes));
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }
  room(n: number) {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
  }
  /** A string's UTF-8 bytes after its int32 length; ASCII byte by byte (the usual short names), the rest by Buffer.write. */
  text(v: string) {
    const n = v.length;
    this.room(4 + 3 * n);
    const buf = this.buf;
    let at = this.at + 4;
    for (let i = 0; i < n; i++) {
      const ch = v.charCodeAt(i);
      if (ch >= 0x80) {
        at = this.at + 4 + buf.write(v, this.at + 4, 'utf8');
        break;
      }
      buf[at++] = ch;
    }
    this.view.setInt32(this.at, at - this.at - 4);
    this.at = at;
  }
}

/**
 * The COPY … FROM STDIN (FORMAT binary) body of `rows`, each a value per column of `types`;
 * undefined when a value does not fit its column's binary form.
 */
export function encodeCopy(types: readonly PgColType[], rows: readonly (readonly unknown[])[]): Buffer | undefined {
  const cols = types.length;
  const text = types.map((t) => t === 'text');
  const int = types.map((t) => t === 'bigint');
  const o = new Out(19 + 2 + rows.length * (2 + cols * 12));
  SIGNATURE.copy(o.buf, 0);
  o.view.setInt32(11, 0); // flags: no OIDs
  o.view.setInt32(15, 0); // no header extension
  o.at = 19;
  for (const row of rows) {
    o.room(2 + cols * 12);
    o.view.setInt16(o.at, cols);
    o.at += 2;
    for (let c = 0; c < cols; c++) {
      const v = row[c];
      if (v === null || v === undefined) {
        o.room(4);
        o.view.setInt32(o.at, -1);
        o.at += 4;
      } else if (text[c]) {
        if (typeof v !== 'string') return undefined;
        o.text(v);
      } else {
        if (typeof v !== 'number') return undefined;
        o.room(12);
        const view = o.view;
        view.setInt32(o.at, 8);
        if (!int[c]) view.setFloat64(o.at + 4, v);
        else {
          if (!Number.isSafeInteger(v)) return undefined;
          const hi = Math.floor(v / TWO_32);
          view.setInt32(o.at + 4, hi);
          view.setUint32(o.at + 8, v - hi * TWO_32);
        }
        o.at += 12;
      }
    }
  }
  o.room(2);
  o.view.setInt16(o.at, -1);
  o.at += 2;
  return o.buf.subarray(0, o.at);
}
