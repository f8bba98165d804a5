/** Every CLI command, once, in the order `edgefleet --help` lists them. */
import type { Command } from '../command.js';
import { anomalies } from './anomalies.js';
import { completionCommand } from './completion.js';
import { deployActions } from './deploy.js';
import { deployments } from './deployments.js';
import { geolocate } from './geolocate.js';
import { hub } from './hub.js';
import { inference } from './inference.js';
import { init } from './init.js';
import { inventory } from './inventory.js';
import { invoke } from './invoke.js';
import { migrate } from './migrate.js';
import { models } from './models.js';
import { nodes } from './nodes.js';
import { run } from './run.js';

export const COMMANDS: Command[] = [init, run, nodes, geolocate, hub, invoke, inventory, models, anomalies, ...deployActions, inference, deployments, migrate];
COMMANDS.push(completionCommand(() => COMMANDS));

export const commandNamed = (name: string): Command | undefined => COMMANDS.find((c) => c.name === name);
