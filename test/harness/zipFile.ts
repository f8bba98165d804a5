import { inflateRawSync } from 'node:zlib';

/**
 * Reads a zip archive as Lambda's unzip would: the end-of-central-directory record, then each
 * central directory entry (name, sizes, method, where its data is). Stored and deflated entries
 * only — what a Lambda artifact holds. Written from PKWARE's APPNOTE, not from the writer.
 */
export interface ZipEntry {
  name: string;
  compressedBytes: number;
  uncompressedBytes: number;
  /** 0 stored, 8 deflate. */
  method: number;
  data(): Buffer;
}

export function readZip(zip: Buffer): ZipEntry[] {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new Error('not a zip: no end of central directory');
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  const entries: ZipEntry[] = [];
  for (let i = 0; i < count; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error(`bad central directory entry ${i}`);
    const method = zip.readUInt16LE(at + 10);
    const compressedBytes = zip.readUInt32LE(at + 20);
    const uncompressedBytes = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    at += 46 + nameLength + extraLength + commentLength;
    entries.push({
      name,
      compressedBytes,
      uncompressedBytes,
      method,
      data() {
        if (zip.readUInt32LE(local) !== 0x04034b50) throw new Error(`${name}: bad local header`);
        const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
        const raw = zip.subarray(start, start + compressedBytes);
        const out = method === 0 ? raw : method === 8 ? inflateRawSync(raw) : undefined;
        if (!out) throw new Error(`${name}: compression method ${method}`);
        if (out.length !== uncompressedBytes) throw new Error(`${name}: ${out.length} bytes, the directory says ${uncompressedBytes}`);
        return out;
      },
    });
  }
  return entries;
}

/** An ELF file's machine (e_machine): `x86_64`, `arm64`, or the number; undefined when it is not ELF. */
export function elfMachine(file: Buffer): string | undefined {
  if (file.length < 20 || file.readUInt32BE(0) !== 0x7f454c46) return undefined;
  const machine = file[5] === 2 ? file.readUInt16BE(18) : file.readUInt16LE(18);
  return ({ 0x3e: 'x86_64', 0xb7: 'arm64', 0x28: 'arm', 0x03: 'x86' } as Record<number, string>)[machine] ?? `machine ${machine}`;
}
