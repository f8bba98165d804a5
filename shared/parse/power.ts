import type { PowerRail, PowerSample, RaplCounter } from '../domain/index.js';
import { compareNatural, firstLine, unsigned } from './fields.js';

/**
 * Power from sysfs. INA3221 board monitors (Jetson): hwmon `inN_input` (mV), `currN_input` (mA)
 * and `inN_label` (the rail) of a chip named `ina3221`, or L4T 32's iio layout under
 * `/sys/bus/i2c/drivers/ina3221x/*\/iio:device*\/` (`rail_name_N`, `in_powerN_input` mW,
 * `in_voltageN_input` mV, `in_currentN_input` mA). RAPL (x86): powercap
 * `intel-rapl:N[:M]/energy_uj`, a counter that wraps at `max_energy_range_uj`: its watts are the
 * rate between two rounds (raplRails). Pure: no I/O. A bad file is skipped with a message.
 */

const HWMON_NAME = /^\/sys\/class\/hwmon\/(hwmon[0-9]+)\/name$/;
const IIO_RAIL = /^\/sys\/bus\/i2c\/drivers\/ina3221x\/([^/]+)\/(iio:device[0-9]+)\/rail_name_([0-9]+)$/;
const RAPL_ENERGY = /^\/sys\/class\/powercap\/(intel-rapl:[0-9]+(?::[0-9]+)?)\/energy_uj$/;
/** The board's input rail, which every other rail is a part of: the total where there is one. */
const INPUT_RAIL = /^(?:VDD|POM_5V)_IN$/i;


export interface RailsResult {
  rails: PowerRail[];
  errors: string[];
}

/** Every INA3221 rail, hwmon and iio layouts, sorted by sensor. */
export function parseIna3221(files: ReadonlyMap<string, string>): RailsResult {
  const rails: PowerRail[] = [];
  const errors: string[] = [];
  for (const [path, content] of files) {
    const hw = HWMON_NAME.exec(path);
    if (hw) {
      if (!/^ina3221/.test(content.trim())) continue;
      const chip = hw[1]!;
      for (const key of files.keys()) {
        const l = new RegExp(`^/sys/class/hwmon/${chip}/in([0-9]+)_label$`).exec(key);
        if (!l) continue;
        const ch = l[1]!;
        const label = firstLine(files, key);
        // Channels past the three rails (shunt sums) and unconnected ones carry no rail.
        if (label === undefined || /sum of shunt|^NC$/i.test(label)) continue;
        const mv = unsigned(files, `/sys/class/hwmon/${chip}/in${ch}_input`, 'a voltage in mV', errors);
        const ma = unsigned(files, `/sys/class/hwmon/${chip}/curr${ch}_input`, 'a current in mA', errors);
        const r: PowerRail = { rail: label, source: 'ina3221', sensor: `${chip}/in${ch}` };
        if (mv !== undefined) r.volts = mv / 1000;
        if (ma !== undefined) r.amperes = ma / 1000;
        if (mv !== undefined && ma !== undefined) r.watts = (mv * ma) / 1e6;
        rails.push(r);
      }
      continue;
    }
    const io = IIO_RAIL.exec(path);
    if (io) {
      const [, addr, dev, ch] = io;
      const base = `/sys/bus/i2c/drivers/ina3221x/${addr}/${dev}`;
      const label = firstLine(files, path);
      if (label === undefined) continue;
      const mw = unsigned(files, `${base}/in_power${ch}_input`, 'a power in mW', errors);
      const mv = unsigned(files, `${base}/in_voltage${ch}_input`, 'a voltage in mV', errors);
      const ma = unsigned(files, `${base}/in_current${ch}_input`, 'a current in mA', errors);
      const r: PowerRail = { rail: label, source: 'ina3221', sensor: `${addr}/${dev}/${ch}` };
      if (mv !== undefined) r.volts = mv / 1000;
      if (ma !== undefined) r.amperes = ma / 1000;
      if (mw !== undefined) r.watts = mw / 1000;
      else if (mv !== undefined && ma !== undefined) r.watts = (mv * ma) / 1e6;
      rails.push(r);
    }
  }
  rails.sort((a, b) => compareNatural(a.sensor, b.sensor));
  return { rails: uniqueRails(rails), errors };
}

/** Two chips may label a rail alike: the later gets its sensor appended, so a rail is one series. */
function uniqueRails(rails: PowerRail[]): PowerRail[] {
  const seen = new Set<string>();
  for (const r of rails) {
    if (seen.has(r.rail)) r.rail = `${r.rail} (${r.sensor})`;
    seen.add(r.rail);
  }
  return rails;
}

export interface RaplResult {
  counters: RaplCounter[];
  errors: string[];
}

/** RAPL counters, sorted by zone. A subzone's rail is named under its parent's: `package-0/core`. */
export function parseRapl(files: ReadonlyMap<string, string>): RaplResult {
  const counters: RaplCounter[] = [];
  const errors: string[] = [];
  const nameOf = (zone: string) => firstLine(files, `/sys/class/powercap/${zone}/name`) ?? zone;
  for (const path of files.keys()) {
    const m = RAPL_ENERGY.exec(path);
    if (!m) continue;
    const zone = m[1]!;
    const uj = unsigned(files, path, 'an energy in µJ', errors);
    if (uj === undefined) continue;
    const parent = /^(intel-rapl:[0-9]+):[0-9]+$/.exec(zone)?.[1];
    const c: RaplCounter = { zone, rail: parent ? `${nameOf(parent)}/${nameOf(zone)}` : nameOf(zone), energyMicrojoules: uj };
    const max = unsigned(files, `/sys/class/powercap/${zone}/max_energy_range_uj`, 'an energy range in µJ', errors);
    if (max !== undefined) c.maxEnergyRangeMicrojoules = max;
    counters.push(c);
  }
  counters.sort((a, b) => compareNatural(a.zone, b.zone));
  return { counters, errors };
}

export interface RaplRailsResult {
  rails: PowerRail[];
  /** Zones whose counter went back without a wrap (a reboot, a reset): no rate this round. */
  resets: string[];
  /** Zones whose counter wrapped at max_energy_range_uj. */
  wraps: string[];
}

/**
 * RAPL rails: each counter as joules, with watts = Δenergy / interval when the previous round has
 * the zone. A counter below its previous value wrapped when the kernel gave its range (Δ = range −
 * previous + current); without a range it is a reset, and gives no rate.
 */
export function raplRails(prev: readonly RaplCounter[] | undefined, cur: readonly RaplCounter[], seconds: number): RaplRailsResult {
  const before = new Map((prev ?? []).map((c) => [c.zone, c]));
  const out: RaplRailsResult = { rails: [], resets: [], wraps: [] };
  for (const c of cur) {
    const r: PowerRail = { rail: c.rail, source: 'rapl', sensor: c.zone, joulesTotal: c.energyMicrojoules / 1e6 };
    const p = before.get(c.zone);
    if (p && seconds > 0) {
      let delta = c.energyMicrojoules - p.energyMicrojoules;
      const range = c.maxEnergyRangeMicrojoules;
      if (delta < 0 && range !== undefined && p.energyMicrojoules <= range) {
        delta += range;
        out.wraps.push(c.zone);
      } else if (delta < 0) {
        delta = NaN;
        out.resets.push(c.zone);
      }
      if (Number.isFinite(delta)) r.watts = delta / 1e6 / seconds;
    }
    out.rails.push(r);
  }
  return out;
}

/**
 * The node's total: INA3221's input rail (VDD_IN, POM_5V_IN) where there is one, else the sum of
 * its rails; with no INA3221, RAPL's `psys` (the whole platform) where there is one, else the sum
 * of the top-level domains (packages; their subzones are parts of them). Undefined when a rail it
 * needs has no watts (RAPL's first round).
 */
export function powerTotal(rails: readonly PowerRail[]): Pick<PowerSample, 'totalWatts' | 'totalOf'> {
  const ina = rails.filter((r) => r.source === 'ina3221');
  if (ina.length) {
    const input = ina.find((r) => INPUT_RAIL.test(r.rail));
    if (input) return input.watts === undefined ? {} : { totalWatts: input.watts, totalOf: input.rail };
    return sum(ina);
  }
  const rapl = rails.filter((r) => r.source === 'rapl');
  if (rapl.length === 0) return {};
  const psys = rapl.find((r) => r.rail === 'psys');
  if (psys) return psys.watts === undefined ? {} : { totalWatts: psys.watts, totalOf: 'psys' };
  return sum(rapl.filter((r) => !r.rail.includes('/')));
}

function sum(rails: readonly PowerRail[]): Pick<PowerSample, 'totalWatts' | 'totalOf'> {
  if (rails.length === 0 || rails.some((r) => r.watts === undefined)) return {};
  return { totalWatts: rails.reduce((s, r) => s + r.watts!, 0), totalOf: 'sum' };
}
