import { parseTemperatures } from '../../parse/index.js';
import type { KindCollector } from './kind.js';

/** Every thermal zone and hwmon sensor; a node with none has no data, which is not a failure. */
export const temperature: KindCollector = {
  kind: 'temperature',
  collect({ files }) {
    const { readings, errors } = parseTemperatures(files);
    return { readings: { temperature: readings }, rows: readings.length, notes: errors };
  },
};
