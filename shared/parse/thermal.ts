import type { TemperatureReading } from '../domain/index.js';
import { ParseError } from './errors.js';
import { compareNatural } from './fields.js';

/**
 * Temperatures from sysfs: every `/sys/class/thermal/thermal_zoneN/temp` (named by the zone's
 * `type`) and every `/sys/class/hwmon/hwmonN/tempM_input` (named by the chip's `name`, plus
 * `/` + `tempM_label` when there is one). Both are millidegree Celsius.
 *
 * Like procfs' thermal zones, a bad sensor does not sink the others: an empty or non-numeric
 * file is skipped and described in `errors`. Readings the kernel uses to say "no reading" are
 * dropped without an error: Jetson's −256 °C of an offline zone (raw −256000) and anything
 * below absolute zero.
 */

/** Jetson (tegra) thermal zones report this raw value when the sensor is offline. */
export const JETSON_OFFLINE_MILLICELSIUS = -256000;
const ABSOLUTE_ZERO_CELSIUS = -273.15;

export interface TemperaturesResult {
  /** Sorted by `sensor` in natural order (hwmon1/temp2 < hwmon1/temp10 < thermal_zone2 < thermal_zone10). */
  readings: TemperatureReading[];
  /** One message per skipped sensor file, quoting what it held. */
  errors: string[];
}

const ZONE_TEMP = /^\/sys\/class\/thermal\/(thermal_zone[0-9]+)\/temp$/;
const HWMON_TEMP = /^\/sys\/class\/hwmon\/(hwmon[0-9]+)\/(temp[0-9]+)_input$/;

/** Temperatures from the probe's files (canonical paths, as splitProbeOutput returns them). */
export function parseTemperatures(files: ReadonlyMap<string, string>): TemperaturesResult {
  const readings: TemperatureReading[] = [];
  const errors: string[] = [];
  const firstLine = (path: string): string | undefined => {
    const v = files.get(path);
    if (v === undefined) return undefined;
    const line = v.split('\n')[0]!.trim();
    return line === '' ? undefined : line;
  };
  for (const [path, content] of files) {
    let source: TemperatureReading['source'];
    let sensor: string;
    let type: string;
    const zone = ZONE_TEMP.exec(path);
    const hwmon = zone ? null : HWMON_TEMP.exec(path);
    if (zone) {
      source = 'thermal_zone';
      sensor = zone[1]!;
      type = firstLine(`/sys/class/thermal/${sensor}/type`) ?? sensor;
    } else if (hwmon) {
      const chip = hwmon[1]!;
      const input = hwmon[2]!;
      source = 'hwmon';
      sensor = `${chip}/${input}`;
      const name = firstLine(`/sys/class/hwmon/${chip}/name`) ?? chip;
      const label = firstLine(`/sys/class/hwmon/${chip}/${input}_label`);
      type = label === undefined ? name : `${name}/${label}`;
    } else continue;
    const raw = content.endsWith('\n') ? content.slice(0, -1) : content;
    if (!/^-?[0-9]+$/.test(raw.trim())) {
      errors.push(new ParseError(path, 'not a temperature in millidegree Celsius', { text: raw }).message);
      continue;
    }
    const milli = Number(raw.trim());
    const celsius = milli / 1000;
    if (milli === JETSON_OFFLINE_MILLICELSIUS || celsius < ABSOLUTE_ZERO_CELSIUS) continue;
    readings.push({ source, sensor, type, celsius });
  }
  readings.sort((a, b) => compareNatural(a.sensor, b.sensor));
  return { readings, errors };
}
