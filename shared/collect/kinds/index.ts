import type { MetricKind } from '../../domain/index.js';
import { clocks } from './clocks.js';
import { cpu } from './cpu.js';
import { diskio } from './diskio.js';
import { inodes } from './inodes.js';
import { nvidia } from './nvidia.js';
import { pressure } from './pressure.js';
import type { KindCollector } from './kind.js';
import { memory } from './memory.js';
import { network } from './network.js';
import { power } from './power.js';
import { storage } from './storage.js';
import { tegraGpu } from './tegraGpu.js';
import { temperature } from './temperature.js';

export * from './kind.js';

/** The registry of collectors: adding a kind means a probe entry, a parser, a table and one line here. */
export const COLLECTORS: Record<MetricKind, KindCollector> = { temperature, cpu, memory, storage, network, diskio, inodes, pressure, nvidia, tegraGpu, power, clocks };
