import { parseTemperatures } from '../../parse/index.js';
import type { KindCollector } from './kind.js';

/**
 * Every thermal zone and hwmon sensor; a node with none has no data, which is not a failure
 * ("no sensors" in the tables). A sensor that prints no temperature is a note beside the good
 * ones; when every sensor found does, the kind is rejected: sensors that cannot be read are
 * not "no sensors".
 */
export const temperature: KindCollector = {
  kind: 'temperature',
  collect({ files }) {
    const { readings, errors } = parseTemperatures(files);
    if (readings.length === 0 && errors.length > 0) throw new Error(errors.join('; '));
    return { readings: { temperature: readings }, rows: readings.length, notes: errors };
  },
};
