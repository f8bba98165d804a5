/**
 * The exposition writer on its own: values as JavaScript prints them (integers and short decimals
 * written without a string included), families contiguous whatever order samples come in, both formats'
 * headers and timestamps, and a body far past the writer's first buffers. Expected texts by hand.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpositionWriter, writeValue, type Family } from '../shared/prometheus/exposition.js';

const written = (v: number) => {
  const buf = Buffer.alloc(64);
  return buf.toString('latin1', 0, writeValue(buf, 0, v));
};

describe('writeValue', () => {
  const cases: [string, number, string][] = [
    ['zero', 0, '0'],
    ['negative zero', -0, '0'],
    ['one digit', 7, '7'],
    ['a power of ten', 1000, '1000'],
    ['nines', 999999, '999999'],
    ['negative', -42, '-42'],
    ['past 32 bits (a byte counter)', 8_589_934_593, '8589934593'],
    ['largest safe integer', 9_007_199_254_740_991, '9007199254740991'],
    ['smallest safe integer', -9_007_199_254_740_991, '-9007199254740991'],
    ['2^53, past safe', 9_007_199_254_740_992, '9007199254740992'],
    ['1e21 (JavaScript switches to an exponent)', 1e21, '1e+21'],
    ['a fraction', 0.1, '0.1'],
    ['seconds with decimals', 1234.5678, '1234.5678'],
    ['ticks / 100', 123456789 / 100, '1234567.89'],
    ['six places', 0.000001, '0.000001'],
    ['six places, negative', -12.000005, '-12.000005'],
    ['seven places', 0.1234567, '0.1234567'],
    ['not a short decimal', 0.1 + 0.2, '0.30000000000000004'],
    ['a third', 1 / 3, '0.3333333333333333'],
    ['a decimal of 1e9 and more', 1234567890.5, '1234567890.5'],
    ['a tiny one', 5e-7, '5e-7'],
    ['NaN', NaN, 'NaN'],
    ['+Inf', Infinity, '+Inf'],
    ['-Inf', -Infinity, '-Inf'],
  ];
  for (const [name, v, want] of cases) it(name, () => assert.equal(written(v), want));
  it("JavaScript's own String(v) for 200,000 random integers and decimals", () => {
    for (let i = 0; i < 50_000; i++) {
      const places = i % 8;
      const d = Math.round(Math.random() * 10 ** (i % 11) * 10 ** places) / 10 ** places;
      for (const v of [d, -d, Math.floor(Math.random() * 2 ** (i % 54)), Math.random() * 10 ** (i % 12)]) assert.equal(written(v), String(v), `${v}`);
    }
  });
});

describe('ExpositionWriter', () => {
  const cpu: Family = { name: 'node_cpu_seconds_total', type: 'counter', help: 'Seconds the CPUs spent in each mode.', unit: 'seconds' };
  const load: Family = { name: 'node_load1', type: 'gauge', help: 'A back\\slash\nand a newline.' };

  it('keeps each family together, in declared order, with its HELP and TYPE (text format, ms timestamps)', () => {
    const w = new ExpositionWriter(false);
    w.declare(cpu);
    w.declare(load);
    w.add(load, 'instance="a"', 0.5, 1_790_000_000_137);
    w.add(cpu, 'instance="a",mode="idle"', 12.25, 1_790_000_000_137);
    w.add(load, 'instance="b"', 2, 1_790_000_001_000);
    w.add(cpu, 'instance="b",mode="idle"', 3, undefined);
    assert.equal(
      w.render().toString(),
      [
        '# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.',
        '# TYPE node_cpu_seconds_total counter',
        'node_cpu_seconds_total{instance="a",mode="idle"} 12.25 1790000000137',
        'node_cpu_seconds_total{instance="b",mode="idle"} 3',
        '# HELP node_load1 A back\\\\slash\\nand a newline.',
        '# TYPE node_load1 gauge',
        'node_load1{instance="a"} 0.5 1790000000137',
        'node_load1{instance="b"} 2 1790000001000',
        '',
      ].join('\n'),
    );
  });

  it('OpenMetrics: counter family without _total, UNIT, seconds timestamps, # EOF; an empty family still declared', () => {
    const w = new ExpositionWriter(true);
    w.declare(cpu);
    w.declare(load);
    w.add(cpu, 'cpu="0"', 1, 1_790_000_000_137);
    w.add(cpu, 'cpu="1"', 2, 1_790_000_000_000);
    assert.equal(
      w.render().toString(),
      [
        '# TYPE node_cpu_seconds counter',
        '# UNIT node_cpu_seconds seconds',
        '# HELP node_cpu_seconds Seconds the CPUs spent in each mode.',
        'node_cpu_seconds_total{cpu="0"} 1 1790000000.137',
        'node_cpu_seconds_total{cpu="1"} 2 1790000000',
        '# TYPE node_load1 gauge',
        '# HELP node_load1 A back\\\\slash\\nand a newline.',
        '# EOF',
        '',
      ].join('\n'),
    );
  });

  it('a body of many megabytes, non-ASCII labels included, and the next render from the same buffers', () => {
    const lines = (w: ExpositionWriter, round: number) => {
      for (let i = 0; i < 50_000; i++) w.add(i % 2 ? load : cpu, `instance="서울-${i}"`, i * round, 1_790_000_000_000 + round);
      return w.render().toString();
    };
    const first = lines(new ExpositionWriter(false), 1);
    const second = lines(new ExpositionWriter(false), 2);
    for (const [body, round] of [[first, 1], [second, 2]] as const) {
      const samples = body.split('\n').filter((l) => l && !l.startsWith('#'));
      assert.equal(samples.length, 50_000);
      // cpu's even i first, then load's odd i.
      assert.equal(samples[0], `node_cpu_seconds_total{instance="서울-0"} 0 ${1_790_000_000_000 + round}`);
      assert.equal(samples[24_999], `node_cpu_seconds_total{instance="서울-49998"} ${49_998 * round} ${1_790_000_000_000 + round}`);
      assert.equal(samples[25_000], `node_load1{instance="서울-1"} ${round} ${1_790_000_000_000 + round}`);
      assert.equal(samples[49_999], `node_load1{instance="서울-49999"} ${49_999 * round} ${1_790_000_000_000 + round}`);
    }
  });
});
