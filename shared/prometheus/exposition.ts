/**
 * The Prometheus text exposition format (0.0.4) and OpenMetrics 1.0.0, written by hand with
 * prom-client's rules: label values escape `\`, `"` and newline; HELP escapes `\` and newline;
 * values print as JavaScript numbers with `NaN`, `+Inf`, `-Inf`. Not prom-client's Registry:
 * its metrics hold one current value per label set and render no timestamps, while /metrics
 * carries each node's samples at the time the probe took them, for 100,000 series at a time.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/** One metric family. For counters `name` ends in `_total`, as in the text format. */
export interface Family {
  name: string;
  type: MetricType;
  help: string;
  /** OpenMetrics UNIT (a suffix of the family name): `seconds`, `bytes`, `celsius`. */
  unit?: string;
}

export const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** OpenMetrics when the scraper asks for it (Prometheus does, first), else the text format. */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  for (const part of accept.split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim().toLowerCase());
    if (type !== 'application/openmetrics-text') continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

export function escapeLabelValue(v: string): string {
  return /[\\"\n]/.test(v) ? v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : v;
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(v: number): string {
  if (Number.isFinite(v)) return '' + v;
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** `a="x",b="y"` from name, value, name, value…: a node's labels are rendered once and reused. */
export function renderLabels(pairs: readonly string[]): string {
  let s = '';
  for (let i = 0; i < pairs.length; i += 2) s += `${i ? ',' : ''}${pairs[i]}="${escapeLabelValue(pairs[i + 1]!)}"`;
  return s;
}

/** A series' text up to its value, `name{labels} `: what a render may keep for the next one. */
export function seriesText(f: Family, labels: string, suffix = ''): string {
  return f.name + suffix + (labels ? '{' + labels + '} ' : ' ');
}

/** Longest value and timestamp text after a series' (`-1.2345678901234567e-308`, ` 1790000000.137` and `\n`). */
const VALUE_AND_TS_MAX_BYTES = 64;
const NEWLINE = Buffer.from('\n');

/**
 * Each family's buffer of a finished render, for the next writer to fill again (renders come one
 * after another, so one set serves them all; a second writer at the same time makes its own).
 * Bounded: one per family, as large as the largest render's.
 */
const spare = new WeakMap<Family, Buffer>();

/**
 * Collects samples family by family (a family's samples must be contiguous) and renders them.
 * `labels` is already rendered (renderLabels); `suffix` is `_bucket`, `_sum` or `_count` for
 * histograms. The lines are written as UTF-8 into one buffer per family and decoded once: for
 * 116,000 samples a string per line (or a rope of them) cost more in allocation and GC than the
 * copies (bench/README.md, bench:metrics).
 */
export class ExpositionWriter {
  readonly #chunks = new Map<Family, { buf: Buffer; len: number }>();
  readonly #order: Family[] = [];
  #lastTsMs: number | undefined;
  #lastTs: Uint8Array = NEWLINE;

  constructor(readonly openMetrics: boolean) {}

  /** Declare families up front to fix their order. */
  declare(f: Family): { buf: Buffer; len: number } {
    let c = this.#chunks.get(f);
    if (!c) {
      const buf = spare.get(f) ?? Buffer.allocUnsafe(4096);
      spare.delete(f);
      this.#chunks.set(f, (c = { buf, len: 0 }));
      this.#order.push(f);
    }
    return c;
  }

  add(f: Family, labels: string, value: number, timestampMs?: number, suffix = ''): void {
    this.sample(f, Buffer.from(seriesText(f, labels, suffix)), value, timestampMs);
  }

  /** A sample of a series whose text (seriesText, UTF-8) the caller made, or kept from an earlier render. */
  sample(f: Family, series: Uint8Array, value: number, timestampMs?: number): void {
    const c = this.#chunks.get(f) ?? this.declare(f);
    // A node's samples of one kind share a timestamp: format it once.
    if (timestampMs !== this.#lastTsMs) {
      this.#lastTsMs = timestampMs;
      this.#lastTs = timestampMs === undefined ? NEWLINE : Buffer.from(` ${this.openMetrics ? formatSeconds(timestampMs) : Math.round(timestampMs)}\n`, 'latin1');
    }
    if (c.len + series.length + VALUE_AND_TS_MAX_BYTES > c.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * c.buf.length, c.len + series.length + VALUE_AND_TS_MAX_BYTES));
      c.buf.copy(bigger, 0, 0, c.len);
      c.buf = bigger;
    }
    const buf = c.buf;
    buf.set(series, c.len);
    let p = writeValue(buf, c.len + series.length, value);
    const ts = this.#lastTs;
    for (let i = 0; i < ts.length; i++) buf[p++] = ts[i]!;
    c.len = p;
  }

  get contentType(): string {
    return this.openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE;
  }

  /**
   * Every declared family with its HELP and TYPE, an empty one included (it says what could be
   * there), as one buffer of UTF-8: the family buffers copied once into a body of the exact size,
   * never decoded to a string (the hub writes the bytes as they are; 12 MiB for 1,000 nodes).
   */
  render(): Buffer {
    const heads: Buffer[] = [];
    let size = 0;
    for (const f of this.#order) {
      let head: string;
      if (this.openMetrics) {
        // OpenMetrics names a counter family without its `_total`.
        const family = f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name;
        head = `# TYPE ${family} ${f.type}\n` + (f.unit ? `# UNIT ${family} ${f.unit}\n` : '') + `# HELP ${family} ${escapeHelp(f.help)}\n`;
      } else {
        head = `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
      }
      const h = Buffer.from(head);
      heads.push(h);
      size += h.length + this.#chunks.get(f)!.len;
    }
    const eof = this.openMetrics ? Buffer.from('# EOF\n') : Buffer.alloc(0);
    // Not from Node's pool: the body outlives the render (the cache keeps it), a pooled slab would stay with it.
    const body = Buffer.allocUnsafeSlow(size + eof.length);
    let p = 0;
    this.#order.forEach((f, i) => {
      p += heads[i]!.copy(body, p);
      const c = this.#chunks.get(f)!;
      p += c.buf.copy(body, p, 0, c.len);
      spare.set(f, c.buf);
    });
    eof.copy(body, p);
    this.#chunks.clear();
    return body;
  }
}

/**
 * `formatValue(v)`'s bytes at `p`; returns the end. Without a string for what most samples are:
 * safe integers (bytes, packets, counts) and decimals of at most 6 places below 1e9 (seconds
 * from ticks / 100, °C from millidegrees / 1000); the rest through formatValue.
 */
export function writeValue(buf: Buffer, p: number, v: number): number {
  if (Number.isSafeInteger(v)) {
    if (v < 0) {
      buf[p++] = 45; // '-'
      v = -v;
    }
    return writeDigits(buf, p, v);
  }
  // v is the double nearest to the decimal d / 10^6. Below 1e9 a double's spacing is under
  // 10^-6, so no other decimal of 6 places is nearest to it, and none shorter: JavaScript's
  // shortest round-trip form is d / 10^6 without its trailing zeros (and above 1e-7, no exponent).
  const d = Math.round(v * 1e6);
  if (v > -1e9 && v < 1e9 && d / 1e6 === v) {
    let a = d;
    if (a < 0) {
      buf[p++] = 45;
      a = -a;
    }
    const whole = Math.floor(a / 1e6);
    let frac = a - whole * 1e6;
    p = writeDigits(buf, p, whole);
    buf[p++] = 46; // '.'
    let places = 6;
    while (frac % 10 === 0) {
      frac /= 10;
      places--;
    }
    for (let q = p + places; q > p; frac = Math.floor(frac / 10)) buf[--q] = 48 + (frac % 10);
    return p + places;
  }
  const s = formatValue(v);
  for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
  return p;
}

/** 10^0 … 10^15: a safe integer's digit count by comparisons, not divisions. */
const POW10 = Array.from({ length: 16 }, (_, i) => 10 ** i);

/** A non-negative safe integer's decimal digits at `p`; returns the end. */
function writeDigits(buf: Buffer, p: number, v: number): number {
  let digits = 1;
  while (digits < 16 && v >= POW10[digits]!) digits++;
  const end = p + digits;
  let q = end;
  let x = v;
  // Above 2^31 a digit costs a float division; below, integer ones (most counters of a round).
  while (x > 0x7fffffff) {
    const d = Math.floor(x / 10);
    buf[--q] = 48 + (x - d * 10);
    x = d;
  }
  while (q > p) {
    const d = (x / 10) | 0;
    buf[--q] = 48 + (x - d * 10);
    x = d;
  }
  return end;
}

/** OpenMetrics timestamps are seconds, with the milliseconds as decimals. */
function formatSeconds(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const frac = Math.round(ms - whole * 1000);
  return frac === 0 ? String(whole) : `${whole}.${String(frac).padStart(3, '0')}`;
}
