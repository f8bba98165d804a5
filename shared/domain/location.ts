/**
 * Where a node's location (nodes.latitude / nodes.longitude) came from:
 * - `inventory`: the host's `latitude` / `longitude` vars, which win over any address;
 * - `geocoded`: its `address`, looked up for it;
 * - `cached`: its `address`, taken from the geocode cache without a request;
 * - `pending`: it has an address that is not located yet (not looked up yet, or the lookup hit
 *   a network error, a timeout or a server error and is retried later); a last known location
 *   is kept;
 * - `failed`: the server answered, but no query matched or the answer was rejected; retried later.
 */
export const LOCATION_SOURCES = ['inventory', 'geocoded', 'cached', 'pending', 'failed'] as const;
export type LocationSource = (typeof LOCATION_SOURCES)[number];

/**
 * How precise a geocoded location is: the finest part of the address the matching query kept.
 * `address` (building or lot number) > `street` (road) > `town` (동/리/읍/면) > `district`
 * (시/군/구) > `region` (시/도, or the last part of a non-Korean address).
 */
export const GEO_PRECISIONS = ['address', 'street', 'town', 'district', 'region'] as const;
export type GeoPrecision = (typeof GEO_PRECISIONS)[number];
