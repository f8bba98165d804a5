/**
 * A quiet hub (`detect.recordProfileSigma`, docs/anomalies.md fifth round; the default since
 * likelihood-v8): a new extreme alarms only when it is also far from what the series does at that
 * hour. What a user notices: a steady fleet stops lighting up, a real step still does.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countEpisodes } from '../bench/fleetEval.js';
import { gaussian, prng, steadyNode } from '../bench/steadyFleet.js';
import { loadConfig } from '../shared/config/config.js';
import { DEFAULT_DETECTOR_CONFIG, detect, newDetectorState } from '../shared/detect/detector.js';

const QUIET = DEFAULT_DETECTOR_CONFIG;
/** The NAB setting: no quiet gate (`detect.recordProfileSigma: 0`). */
const NAB = { ...DEFAULT_DETECTOR_CONFIG, recordProfileSigma: 0 };
const DAY = 288; // 5-minute steps
const T0 = 1_700_006_400 - (1_700_006_400 % 86400);

/** A machine's steady day: a daily swing of ±10 around 50 and noise that wanders (AR(1)), one value per 5-minute step. */
function steadySeries(days: number, seed: number): number[] {
  let rng = seed;
  const u = () => (rng = (rng * 16807) % 2147483647) / 2147483647;
  let wander = 0;
  return Array.from({ length: days * DAY }, (_, i) => {
    wander = 0.6 * wander + 1.5 * (u() + u() + u() - 1.5);
    return 50 + 10 * Math.sin((2 * Math.PI * i) / DAY) + wander;
  });
}

function flags(values: readonly number[], config = QUIET): number[] {
  const st = newDetectorState();
  const out: number[] = [];
  values.forEach((v, i) => {
    if (detect(st, v, config, T0 + 300 * i).flagged) out.push(i);
  });
  return out;
}

describe('quiet hub (detect.recordProfileSigma)', () => {
  it('a steady synthetic fleet-week raises at most one episode per two node-weeks; without it, many', () => {
    const nodes = () => [steadyNode(0), steadyNode(1)];
    const quiet = countEpisodes(nodes(), 7, QUIET);
    const loud = countEpisodes(nodes(), 7, NAB);
    // The target is ≤ 0.1 per node per day: 1.3 in 2 × 6.5 scored days.
    assert.ok(quiet.episodes <= 1, `${quiet.episodes} episodes on ${quiet.series} steady series`);
    assert.ok(loud.episodes >= 10, `the same fleet without it: ${loud.episodes} episodes (a test that cannot fail proves nothing)`);
  });

  it('a real step in one series is still flagged within 2 steps; a spike far past the range at once, in a young series too', () => {
    const base = steadySeries(8, 9);
    const at = 6 * DAY + 144; // day 6, 12:00
    const step = base.map((v, i) => (i >= at ? v + 30 : v));
    const f = flags(step);
    assert.ok(f.some((i) => i >= at && i <= at + 2), `flags after the step at ${at}: ${f.filter((i) => i >= at - 5)}`);
    const spikeAt = 7 * DAY + 30;
    const spike = base.map((v, i) => (i === spikeAt ? v + 40 : v));
    assert.ok(flags(spike).includes(spikeAt), 'a spike of 40 above a ±10 day is an alarm');
    // Before the profile has three days, the same test against the series' long-run mean and σ.
    const youngAt = DAY + 100;
    assert.ok(flags(base.map((v, i) => (i === youngAt ? v + 40 : v))).includes(youngAt), 'a spike on day 1 is an alarm too');
  });

  it('a new high that is ordinary for its hour alarms without the option and not with it', () => {
    const base = steadySeries(8, 9);
    // At day 6's peak hour, 1.5 above the highest value so far: a record, but a small one for 06:00.
    const peak = 6 * DAY + 72;
    const before = Math.max(...base.slice(0, peak));
    const bumped = base.map((v, i) => (i === peak ? before + 1.5 : v));
    assert.ok(flags(bumped, NAB).includes(peak), 'the NAB setting alarms on any record clear of the noise');
    assert.ok(!flags(bumped).includes(peak), 'the quiet hub does not');
  });

  it('a jump to a new high still alarms when it is ordinary for the hour (a smooth series whose level moves from day to day)', () => {
    // ±10 a day around a level that moves from one day to the next (σ 3), and noise of σ 0.025: the
    // hours' σ is the day-to-day spread, far larger than a step from one sample to the next.
    let rng = 21;
    const u = () => (rng = (rng * 16807) % 2147483647) / 2147483647;
    const offsets = Array.from({ length: 9 }, () => 6 * (u() + u() + u() - 1.5));
    const smooth = Array.from({ length: 8 * DAY }, (_, i) => 50 + offsets[Math.floor(i / DAY)]! + 10 * Math.sin((2 * Math.PI * i) / DAY) + 0.05 * (u() + u() + u() - 1.5));
    // Day 6's peak, one sample 4 above the highest value so far: within 5 of its hour's σ, a jump far
    // beyond any step of the series.
    const peak = 6 * DAY + 72;
    const before = Math.max(...smooth.slice(0, peak));
    const jumped = smooth.map((v, i) => (i === peak ? before + 4 : v));
    assert.ok(flags(jumped).includes(peak), 'the quiet hub alarms on the jump');
    assert.ok(!flags(jumped, { ...QUIET, recordQuietNoise: 0 }).includes(peak), 'the hour gate alone calls it ordinary (a test that cannot fail proves nothing)');
  });

  it('three weeks of pure noise (a softirq share, say) stay quiet: one sample is judged against its own noise, not the steadier hourly median', () => {
    // Each 5-minute step the mean of 30 samples of max(0, 0.4 + 0.3 z), z standard normal (a share that cannot go below 0).
    const series = [5, 7].map((seed) => {
      const z = gaussian(prng(seed));
      return Array.from({ length: 21 * DAY }, () => {
        let sum = 0;
        for (let k = 0; k < 30; k++) sum += Math.max(0, 0.4 + 0.3 * z());
        return sum / 30;
      });
    });
    assert.deepEqual(series.map((v) => flags(v)), [[], []]);
    assert.ok(series.every((v) => flags(v, NAB).length > 0), 'the NAB setting alarms on their records (a test that cannot fail proves nothing)');
  });

  it('is a hub setting: default 5 (the detector\'s own), 0 from the environment, a bad value named', () => {
    assert.equal(loadConfig({ env: {}, cwd: '/nonexistent' }).detect.recordProfileSigma, 5);
    assert.equal(loadConfig({ env: {}, cwd: '/nonexistent' }).detect.recordProfileSigma, DEFAULT_DETECTOR_CONFIG.recordProfileSigma);
    assert.equal(loadConfig({ env: { EDGEFLEET_DETECT_RECORD_PROFILE_SIGMA: '0' }, cwd: '/nonexistent' }).detect.recordProfileSigma, 0);
    assert.throws(() => loadConfig({ env: { EDGEFLEET_DETECT_RECORD_PROFILE_SIGMA: '-1' }, cwd: '/nonexistent' }), /detect\.recordProfileSigma.*expected a number from 0 to 100/);
  });
});
