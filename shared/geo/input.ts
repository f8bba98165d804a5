import { addressKey, MAX_ADDRESS_LENGTH, normalizeAddress } from './normalize.js';

/**
 * Where a node is, as its inventory host vars say: `latitude` and `longitude` (decimal degrees,
 * WGS 84), which win, or an `address` to geocode. Pure.
 */
export type LocationInput =
  | { kind: 'coordinates'; latitude: number; longitude: number; address?: string; problem?: undefined }
  | { kind: 'address'; address: string; key: string; problem?: string }
  | { kind: 'none'; problem?: string };

export function locationInput(vars: Record<string, unknown>): LocationInput {
  const rawAddress = vars.address;
  let address: string | undefined;
  let addressProblem: string | undefined;
  if (typeof rawAddress === 'string' || typeof rawAddress === 'number') {
    const text = normalizeAddress(String(rawAddress));
    if (text.length > MAX_ADDRESS_LENGTH) addressProblem = `address is longer than ${MAX_ADDRESS_LENGTH} characters`;
    else if (text) address = text;
  } else if (rawAddress !== undefined && rawAddress !== null) {
    addressProblem = 'address must be text';
  }

  const hasLat = present(vars.latitude);
  const hasLon = present(vars.longitude);
  let coordProblem: string | undefined;
  if (hasLat || hasLon) {
    if (!hasLat || !hasLon) coordProblem = `${hasLat ? 'latitude without longitude' : 'longitude without latitude'}`;
    else {
      const latitude = degrees(vars.latitude, 90);
      const longitude = degrees(vars.longitude, 180);
      if (latitude === undefined) coordProblem = `latitude ${JSON.stringify(vars.latitude)} is not a number between -90 and 90`;
      else if (longitude === undefined) coordProblem = `longitude ${JSON.stringify(vars.longitude)} is not a number between -180 and 180`;
      else return { kind: 'coordinates', latitude, longitude, ...(address ? { address } : {}) };
    }
  }
  const problem = [coordProblem, addressProblem].filter(Boolean).join('; ') || undefined;
  if (address) return { kind: 'address', address, key: addressKey(address), ...(problem ? { problem } : {}) };
  return { kind: 'none', ...(problem ? { problem } : {}) };
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null && !(typeof v === 'string' && v.trim() === '');
}

function degrees(v: unknown, limit: number): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[-+]?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) && Math.abs(n) <= limit ? n : undefined;
}
