import * as ssm from '@aws-sdk/client-ssm';
import { NormalizedSchema } from '@smithy/core/schema';

/**
 * Validates an SSM request body against the operation's input shape, as the service does
 * before it acts: the structure, member names, types and required members come from the
 * schemas `@aws-sdk/client-ssm` serialises from (the Smithy model the service is generated
 * from); the SDK leaves out length, range and pattern traits, so those few, for the operations
 * the harness serves, are copied from the SSM API reference below.
 */
export class ValidationError extends Error {
  override name = 'ValidationException';
}

type OpSchema = [9, string, string, number, () => unknown, () => unknown];

export function validateRequest(op: string, body: unknown): void {
  const schema = (ssm as unknown as Record<string, OpSchema | undefined>)[`${op}$`];
  if (!Array.isArray(schema) || schema[0] !== 9) throw new ValidationError(`unknown operation ${op}`);
  walk(NormalizedSchema.of(schema[4] as never), body, `${op}Request`);
  LIMITS[op]?.(body as Record<string, any>);
}

function walk(s: NormalizedSchema, v: unknown, at: string): void {
  if (s.isStructSchema()) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValidationError(`${at}: expected a structure`);
    const raw = s.getSchema() as unknown as [number, string, string, number, string[], unknown[], number?];
    const names = raw[4];
    const required = names.slice(0, raw[6] ?? 0);
    for (const r of required) if ((v as Record<string, unknown>)[r] === undefined) throw new ValidationError(`${at}: member ${r} is required`);
    for (const [k, val] of Object.entries(v)) {
      if (!names.includes(k)) throw new ValidationError(`${at}: unknown member ${k}`);
      if (val !== null && val !== undefined) walk(s.getMemberSchema(k), val, `${at}.${k}`);
    }
  } else if (s.isListSchema()) {
    if (!Array.isArray(v)) throw new ValidationError(`${at}: expected a list`);
    v.forEach((x, i) => walk(s.getValueSchema(), x, `${at}[${i}]`));
  } else if (s.isMapSchema()) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ValidationError(`${at}: expected a map`);
    for (const [k, x] of Object.entries(v)) walk(s.getValueSchema(), x, `${at}.${k}`);
  } else if (s.isBooleanSchema()) {
    if (typeof v !== 'boolean') throw new ValidationError(`${at}: expected a boolean`);
  } else if (s.isNumericSchema() || s.isTimestampSchema()) {
    if (typeof v !== 'number') throw new ValidationError(`${at}: expected a number`);
  } else if (s.isStringSchema() || s.isBlobSchema()) {
    if (typeof v !== 'string') throw new ValidationError(`${at}: expected a string`);
  }
}

const INSTANCE_ID = /^(i-(\w{8}|\w{17})|mi-\w{17})$/;
const COMMAND_ID = /^.{36}$/;

function check(ok: boolean, message: string): void {
  if (!ok) throw new ValidationError(message);
}

function range(v: number | undefined, min: number, max: number, what: string): void {
  if (v !== undefined) check(Number.isInteger(v) && v >= min && v <= max, `${what} must be an integer from ${min} to ${max}, got ${v}`);
}

/** From the SSM API reference (SendCommand, GetCommandInvocation, ListCommandInvocations, DescribeInstanceInformation, GetParameter(s), CancelCommand). */
const LIMITS: Record<string, (b: Record<string, any>) => void> = {
  SendCommand(b) {
    check(b.InstanceIds !== undefined || b.Targets !== undefined, 'SendCommand needs InstanceIds or Targets');
    if (b.InstanceIds) {
      check(b.InstanceIds.length <= 50, `InstanceIds: at most 50 instance ids, got ${b.InstanceIds.length}`);
      for (const id of b.InstanceIds) check(INSTANCE_ID.test(id), `InstanceIds: ${JSON.stringify(id)} is not an instance id`);
    }
    check(/^[a-zA-Z0-9_\-.:/]{3,128}$/.test(b.DocumentName), `DocumentName ${JSON.stringify(b.DocumentName)} is invalid`);
    range(b.TimeoutSeconds, 30, 2592000, 'TimeoutSeconds');
    if (b.Comment !== undefined) check(b.Comment.length <= 100, 'Comment: at most 100 characters');
    if (b.OutputS3BucketName !== undefined) check(b.OutputS3BucketName.length >= 3 && b.OutputS3BucketName.length <= 63, 'OutputS3BucketName: 3 to 63 characters');
    if (b.OutputS3KeyPrefix !== undefined) check(b.OutputS3KeyPrefix.length <= 500, 'OutputS3KeyPrefix: at most 500 characters');
  },
  GetCommandInvocation(b) {
    check(COMMAND_ID.test(b.CommandId), 'CommandId must be 36 characters');
    check(INSTANCE_ID.test(b.InstanceId), `InstanceId ${JSON.stringify(b.InstanceId)} is not an instance id`);
    if (b.PluginName !== undefined) check(b.PluginName.length >= 4, 'PluginName: at least 4 characters');
  },
  ListCommandInvocations(b) {
    if (b.CommandId !== undefined) check(COMMAND_ID.test(b.CommandId), 'CommandId must be 36 characters');
    if (b.InstanceId !== undefined) check(INSTANCE_ID.test(b.InstanceId), 'InstanceId is not an instance id');
    range(b.MaxResults, 1, 50, 'MaxResults');
  },
  CancelCommand(b) {
    check(COMMAND_ID.test(b.CommandId), 'CommandId must be 36 characters');
    if (b.InstanceIds) check(b.InstanceIds.length <= 50, 'InstanceIds: at most 50');
  },
  DescribeInstanceInformation(b) {
    range(b.MaxResults, 5, 50, 'MaxResults');
    check(!(b.Filters && b.InstanceInformationFilterList), 'Filters and InstanceInformationFilterList cannot be used together');
    for (const f of b.Filters ?? []) {
      check(f.Key.length >= 1 && f.Key.length <= 128, 'Filters.Key: 1 to 128 characters');
      check(f.Values.length >= 1 && f.Values.length <= 100, 'Filters.Values: 1 to 100 values');
    }
  },
  GetParameter(b) {
    check(b.Name.length >= 1 && b.Name.length <= 2048, 'Name: 1 to 2048 characters');
  },
  GetParameters(b) {
    check(b.Names.length >= 1 && b.Names.length <= 10, `Names: 1 to 10 names, got ${b.Names.length}`);
  },
};
