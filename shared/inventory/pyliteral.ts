// A Python ast.literal_eval for the INI plugin's _parse_value: a value that is a valid
// Python literal becomes that value, anything else stays the original string.

type Tok =
  | { kind: 'num'; value: number }
  | { kind: 'str'; value: string; bytes: boolean }
  | { kind: 'name'; value: string }
  | { kind: 'op'; value: string };

class NotLiteral extends Error {}

const DIGITS = '[0-9](?:_?[0-9])*';
const EXP = `[eE][+-]?${DIGITS}`;
const NUMBER_RE = new RegExp(
  '^(?:' +
    [
      `(?<hex>0[xX](?:_?[0-9a-fA-F])+)`,
      `(?<oct>0[oO](?:_?[0-7])+)`,
      `(?<bin>0[bB](?:_?[01])+)`,
      `(?<float>(?:${DIGITS}\\.(?:${DIGITS})?|\\.${DIGITS})(?:${EXP})?|${DIGITS}${EXP})`,
      `(?<int>[1-9](?:_?[0-9])*|0(?:_?0)*)`,
    ].join('|') +
    ')',
);
const STRING_PREFIXES = new Set(['', 'r', 'u', 'b', 'br', 'rb', 'f', 'fr', 'rf']);

function decodeEscapes(body: string, bytes: boolean): string {
  let out = '';
  const byteBuf: number[] = [];
  const flushBytes = () => {
    if (byteBuf.length) {
      out += new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(byteBuf));
      byteBuf.length = 0;
    }
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      flushBytes();
      out += c;
      continue;
    }
    const n = body[i + 1];
    if (n === undefined) throw new NotLiteral();
    const simple: Record<string, string> = { '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };
    if (n in simple) {
      flushBytes();
      out += simple[n];
      i++;
    } else if (/[0-7]/.test(n)) {
      const m = /^[0-7]{1,3}/.exec(body.slice(i + 1))![0];
      const code = parseInt(m, 8);
      if (bytes) byteBuf.push(code & 0xff);
      else out += String.fromCodePoint(code);
      i += m.length;
    } else if (n === 'x') {
      const h = body.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new NotLiteral();
      if (bytes) byteBuf.push(parseInt(h, 16));
      else out += String.fromCodePoint(parseInt(h, 16));
      i += 3;
    } else if (!bytes && (n === 'u' || n === 'U')) {
      const len = n === 'u' ? 4 : 8;
      const h = body.slice(i + 2, i + 2 + len);
      if (!new RegExp(`^[0-9a-fA-F]{${len}}$`).test(h)) throw new NotLiteral();
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff) throw new NotLiteral();
      out += String.fromCodePoint(cp);
      i += 1 + len;
    } else if (!bytes && n === 'N') {
      throw new NotLiteral(); // \N{NAME} needs the Unicode name table; keep the text as it is
    } else {
      flushBytes();
      out += '\\'; // unknown escapes keep their backslash
    }
  }
  flushBytes();
  return out;
}

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\f') { i++; continue; }
    if (c === '#') break;
    if ('()[]{},:+-'.includes(c)) { toks.push({ kind: 'op', value: c }); i++; continue; }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1] ?? ''))) {
      const m = NUMBER_RE.exec(src.slice(i));
      if (!m) throw new NotLiteral();
      const text = m[0];
      const after = src[i + text.length] ?? '';
      // "010", "1e", "0x1Fg", "1j" (complex) and similar are not plain int/float literals.
      if (/[\p{L}\p{N}_.]/u.test(after)) throw new NotLiteral();
      const g = m.groups!;
      const clean = text.replace(/_/g, '');
      let value: number;
      if (g.hex) value = parseInt(clean.slice(2), 16);
      else if (g.oct) value = parseInt(clean.slice(2), 8);
      else if (g.bin) value = parseInt(clean.slice(2), 2);
      else value = Number(clean);
      toks.push({ kind: 'num', value });
      i += text.length;
      continue;
    }
    const id = /^[\p{L}\p{Nl}_][\p{L}\p{N}\p{Mn}\p{Mc}\p{Pc}]*/u.exec(src.slice(i));
    const quoteAt = id ? i + id[0].length : i;
    const q = src[quoteAt];
    const prefix = id ? id[0].toLowerCase() : '';
    if ((q === "'" || q === '"') && STRING_PREFIXES.has(prefix) && (!id || id[0].length <= 2)) {
      if (prefix.includes('f')) throw new NotLiteral(); // f-strings are not literals
      const raw = prefix.includes('r');
      const bytes = prefix.includes('b');
      const triple = src.startsWith(q.repeat(3), quoteAt);
      const delim = triple ? q.repeat(3) : q;
      let j = quoteAt + delim.length;
      let body = '';
      for (;;) {
        if (j >= src.length) throw new NotLiteral();
        if (src[j] === '\\') { body += src.slice(j, j + 2); j += 2; continue; }
        if (src.startsWith(delim, j)) break;
        body += src[j];
        j++;
      }
      if (bytes && /[^\x00-\x7f]/.test(body)) throw new NotLiteral();
      const value = raw ? body : decodeEscapes(body, bytes);
      toks.push({ kind: 'str', value, bytes });
      i = j + delim.length;
      continue;
    }
    if (id) { toks.push({ kind: 'name', value: id[0] }); i += id[0].length; continue; }
    throw new NotLiteral();
  }
  return toks;
}

class Parser {
  private pos = 0;
  constructor(private readonly toks: Tok[]) {}

  private peek(): Tok | undefined { return this.toks[this.pos]; }
  private isOp(v: string): boolean { const t = this.peek(); return t?.kind === 'op' && t.value === v; }
  private expectOp(v: string): void { if (!this.isOp(v)) throw new NotLiteral(); this.pos++; }
  private atExprEnd(): boolean { const t = this.peek(); return !t || (t.kind === 'op' && ')]},:'.includes(t.value)); }

  parseTop(): unknown {
    const v = this.parseExprList(true);
    if (this.pos !== this.toks.length) throw new NotLiteral();
    return v;
  }

  /** Comma-separated values; at the top level or in parentheses a comma makes a tuple (a list in JSON). */
  private parseExprList(tupleOk: boolean): unknown {
    const first = this.parseValue();
    if (!tupleOk || !this.isOp(',')) return first;
    const items = [first];
    while (this.isOp(',')) {
      this.pos++;
      if (this.atExprEnd()) break;
      items.push(this.parseValue());
    }
    return items;
  }

  private parseValue(): unknown {
    const t = this.peek();
    if (!t) throw new NotLiteral();
    if (t.kind === 'op' && (t.value === '+' || t.value === '-')) {
      // literal_eval allows one sign in front of a number, and nothing else.
      this.pos++;
      const operand = this.parseAtom();
      if (typeof operand !== 'number' || operand === undefined) throw new NotLiteral();
      const v = t.value === '-' ? -operand : operand;
      this.rejectBinOp();
      return v;
    }
    const v = this.parseAtom();
    this.rejectBinOp();
    return v;
  }

  private rejectBinOp(): void {
    // a + b is only a literal for complex numbers, which we do not model.
    if (this.isOp('+') || this.isOp('-')) throw new NotLiteral();
  }

  private parseAtom(): unknown {
    const t = this.peek();
    if (!t) throw new NotLiteral();
    this.pos++;
    if (t.kind === 'num') return t.value;
    if (t.kind === 'str') {
      let s = t.value;
      // Adjacent string literals concatenate; mixing bytes and text is a SyntaxError.
      for (let n = this.peek(); n?.kind === 'str'; n = this.peek()) {
        if (n.bytes !== t.bytes) throw new NotLiteral();
        s += n.value;
        this.pos++;
      }
      return s;
    }
    if (t.kind === 'name') {
      if (t.value === 'True') return true;
      if (t.value === 'False') return false;
      if (t.value === 'None') return null;
      throw new NotLiteral();
    }
    if (t.value === '(') {
      if (this.isOp(')')) { this.pos++; return []; }
      const first = this.parseValue();
      if (this.isOp(')')) { this.pos++; return first; }
      const items = [first];
      while (this.isOp(',')) {
        this.pos++;
        if (this.isOp(')')) break;
        items.push(this.parseValue());
      }
      this.expectOp(')');
      return items;
    }
    if (t.value === '[') {
      const items: unknown[] = [];
      while (!this.isOp(']')) {
        items.push(this.parseValue());
        if (!this.isOp(',')) break;
        this.pos++;
      }
      this.expectOp(']');
      return items;
    }
    if (t.value === '{') {
      if (this.isOp('}')) { this.pos++; return {}; }
      const firstKey = this.parseValue();
      if (this.isOp(':')) {
        const obj: Record<string, unknown> = {};
        let key = firstKey;
        for (;;) {
          this.expectOp(':');
          const value = this.parseValue();
          if (typeof key === 'object' && key !== null) throw new NotLiteral();
          obj[key === null ? 'null' : String(key)] = value;
          if (!this.isOp(',')) break;
          this.pos++;
          if (this.isOp('}')) break;
          key = this.parseValue();
        }
        this.expectOp('}');
        return obj;
      }
      // A set literal; JSON has no sets, so it is shown as a list.
      const items = [firstKey];
      while (this.isOp(',')) {
        this.pos++;
        if (this.isOp('}')) break;
        items.push(this.parseValue());
      }
      this.expectOp('}');
      return items;
    }
    throw new NotLiteral();
  }
}

/** Returns the literal's value, or undefined when `src` is not a Python literal. */
export function literalEval(src: string): { value: unknown } | undefined {
  try {
    // literal_eval strips leading spaces and tabs before parsing.
    const toks = tokenize(src.replace(/^[ \t]+/, ''));
    if (toks.length === 0) return undefined;
    return { value: new Parser(toks).parseTop() };
  } catch (e) {
    if (e instanceof NotLiteral || e instanceof TypeError) return undefined;
    throw e;
  }
}

/** The ini plugin's _parse_value: literal_eval when possible, else the text unchanged. */
export function parseIniValue(v: string): unknown {
  const r = literalEval(v);
  return r === undefined ? v : r.value;
}
