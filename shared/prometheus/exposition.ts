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

/**
 * Collects samples family by family (a family's samples must be contiguous) and renders them.
 * `labels` is already rendered (renderLabels); `suffix` is `_bucket`, `_sum` or `_count` for
 * histograms.
 */
export class ExpositionWriter {
  /** Per family, its sample lines so far, concatenated (V8 keeps `+=` cheap as a rope). */
  readonly #families = new Map<Family, { text: string }>();
  readonly #order: Family[] = [];
  #lastTsMs: number | undefined;
  #lastTs = '';

  constructor(readonly openMetrics: boolean) {}

  /** Declare families up front to fix their order. */
  declare(f: Family): { text: string } {
    let acc = this.#families.get(f);
    if (!acc) {
      this.#families.set(f, (acc = { text: '' }));
      this.#order.push(f);
    }
    return acc;
  }

  add(f: Family, labels: string, value: number, timestampMs?: number, suffix = ''): void {
    const acc = this.#families.get(f) ?? this.declare(f);
    // A node's samples of one kind share a timestamp: format it once.
    if (timestampMs !== this.#lastTsMs) {
      this.#lastTsMs = timestampMs;
      this.#lastTs = timestampMs === undefined ? '' : ` ${this.openMetrics ? formatSeconds(timestampMs) : Math.round(timestampMs)}`;
    }
    acc.text += f.name + suffix + (labels ? '{' + labels + '} ' : ' ') + formatValue(value) + this.#lastTs + '\n';
  }

  get contentType(): string {
    return this.openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE;
  }

  /** Every declared family with its HELP and TYPE, an empty one included (it says what could be there). */
  render(): string {
    let out = '';
    for (const f of this.#order) {
      const text = this.#families.get(f)!.text;
      if (this.openMetrics) {
        // OpenMetrics names a counter family without its `_total`.
        const family = f.type === 'counter' ? f.name.replace(/_total$/, '') : f.name;
        out += `# TYPE ${family} ${f.type}\n` + (f.unit ? `# UNIT ${family} ${f.unit}\n` : '') + `# HELP ${family} ${escapeHelp(f.help)}\n`;
      } else {
        out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
      }
      out += text;
    }
    if (this.openMetrics) out += '# EOF\n';
    return out;
  }
}

/** OpenMetrics timestamps are seconds, with the milliseconds as decimals. */
function formatSeconds(ms: number): string {
  const whole = Math.floor(ms / 1000);
  const frac = Math.round(ms - whole * 1000);
  return frac === 0 ? String(whole) : `${whole}.${String(frac).padStart(3, '0')}`;
}
