/**
 * Address text as the geocode cache keys it. Inventory addresses are typed by hand, copied from
 * web pages and spreadsheets: the same address arrives in NFD or NFC Hangul, with full-width
 * digits and brackets, non-breaking spaces, doubled spaces and stray commas. All of these are
 * one address, looked up once.
 */

/** Longest address accepted from the inventory (a real one is well under 200 characters). */
export const MAX_ADDRESS_LENGTH = 500;

// Zero-width and other invisible formatting characters, dropped.
const INVISIBLE = /[\u200B-\u200D\u2060\uFEFF\u00AD]/g;
// Control characters and any Unicode space (NBSP, ideographic space U+3000, …) become a space.
const SPACES = /[\s\u0000-\u001F\u007F-\u009F]+/g;

/**
 * The address as it is sent: NFKC (composed Hangul, ASCII digits and brackets), spaces collapsed,
 * commas followed by one space, no leading or trailing punctuation.
 */
export function normalizeAddress(text: string): string {
  return text
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .replace(SPACES, ' ')
    .replace(/\s*,\s*/g, ', ')
    .replace(/\(\s+/g, '(')
    .replace(/\s+\)/g, ')')
    .replace(/(, )+/g, ', ')
    .replace(/^[\s,.;]+|[\s,;]+$/g, '')
    .trim();
}

/** The geocode cache key: the normalized address, Latin letters lowercased ("Seoul" = "seoul"). */
export function addressKey(text: string): string {
  return normalizeAddress(text).toLowerCase();
}
