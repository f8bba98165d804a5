/**
 * How many terminal columns text takes, by Unicode's East Asian Width (UAX #11): Hangul, CJK,
 * kana and full-width forms (W, F) take two; so do emoji shown as emoji. Counted per grapheme
 * cluster (Intl.Segmenter), so a decomposed Hangul syllable (ᄀ+ᅡ+ᆨ), an accent and its letter,
 * or a ZWJ emoji sequence is one cell. Ambiguous (A) characters such as "°" and "…" count one,
 * as in every terminal outside a CJK-legacy mode.
 */

/**
 * Wide (W) and full-width (F) code points, [first, last] pairs: generated from Python 3.11's
 * unicodedata (Unicode 14.0) with unassigned code points merged into their neighbours, plus the
 * planes 2 and 3 (W by default in UAX #11). Emoji added since come from \p{Emoji_Presentation}.
 */
const WIDE = [
  0x1100, 0x115f, 0x231a, 0x231b, 0x2329, 0x232a, 0x23e9, 0x23ec, 0x23f0, 0x23f0, 0x23f3, 0x23f3,
  0x25fd, 0x25fe, 0x2614, 0x2615, 0x2648, 0x2653, 0x267f, 0x267f, 0x2693, 0x2693, 0x26a1, 0x26a1,
  0x26aa, 0x26ab, 0x26bd, 0x26be, 0x26c4, 0x26c5, 0x26ce, 0x26ce, 0x26d4, 0x26d4, 0x26ea, 0x26ea,
  0x26f2, 0x26f3, 0x26f5, 0x26f5, 0x26fa, 0x26fa, 0x26fd, 0x26fd, 0x2705, 0x2705, 0x270a, 0x270b,
  0x2728, 0x2728, 0x274c, 0x274c, 0x274e, 0x274e, 0x2753, 0x2755, 0x2757, 0x2757, 0x2795, 0x2797,
  0x27b0, 0x27b0, 0x27bf, 0x27bf, 0x2b1b, 0x2b1c, 0x2b50, 0x2b50, 0x2b55, 0x2b55, 0x2e80, 0x303e,
  0x3041, 0x3247, 0x3250, 0x4dbf, 0x4e00, 0xa4c6, 0xa960, 0xa97c, 0xac00, 0xd7a3, 0xf900, 0xfad9,
  0xfe10, 0xfe19, 0xfe30, 0xfe6b, 0xff01, 0xff60, 0xffe0, 0xffe6, 0x16fe0, 0x1b2fb, 0x1f004, 0x1f004,
  0x1f0cf, 0x1f0cf, 0x1f18e, 0x1f18e, 0x1f191, 0x1f19a, 0x1f200, 0x1f320, 0x1f32d, 0x1f335, 0x1f337, 0x1f37c,
  0x1f37e, 0x1f393, 0x1f3a0, 0x1f3ca, 0x1f3cf, 0x1f3d3, 0x1f3e0, 0x1f3f0, 0x1f3f4, 0x1f3f4, 0x1f3f8, 0x1f43e,
  0x1f440, 0x1f440, 0x1f442, 0x1f4fc, 0x1f4ff, 0x1f53d, 0x1f54b, 0x1f54e, 0x1f550, 0x1f567, 0x1f57a, 0x1f57a,
  0x1f595, 0x1f596, 0x1f5a4, 0x1f5a4, 0x1f5fb, 0x1f64f, 0x1f680, 0x1f6c5, 0x1f6cc, 0x1f6cc, 0x1f6d0, 0x1f6d2,
  0x1f6d5, 0x1f6df, 0x1f6eb, 0x1f6ec, 0x1f6f4, 0x1f6fc, 0x1f7e0, 0x1f7f0, 0x1f90c, 0x1f93a, 0x1f93c, 0x1f945,
  0x1f947, 0x1f9ff, 0x1fa70, 0x1faf6, 0x20000, 0x3fffd,
];

function isWide(cp: number): boolean {
  let lo = 0;
  let hi = WIDE.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < WIDE[2 * mid]!) hi = mid - 1;
    else if (cp > WIDE[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

const EMOJI = /\p{Emoji_Presentation}/u;
/** Marks, format characters (ZWJ, variation selectors, soft hyphen) and controls: no column of their own. */
const ZERO = /^[\p{M}\p{Cf}\p{Cc}]$/u;
const VS16 = '\u{fe0f}';

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Columns one grapheme cluster takes: 0, 1 or 2. */
export function clusterWidth(cluster: string): number {
  let zero = true;
  for (const ch of cluster) {
    const cp = ch.codePointAt(0)!;
    if (isWide(cp) || EMOJI.test(ch)) return 2;
    if (!ZERO.test(ch)) zero = false;
  }
  if (zero) return 0;
  // "❤️", "1️⃣": a text-style symbol asking for emoji style (flags' regional indicators are Emoji_Presentation).
  if (cluster.includes(VS16)) return 2;
  return 1;
}

/** Terminal columns `text` takes. */
export function displayWidth(text: string): number {
  // ASCII only: one column per character (the usual case, no segmentation needed).
  if (/^[\x20-\x7e]*$/.test(text)) return text.length;
  let w = 0;
  for (const { segment } of graphemes.segment(text)) w += clusterWidth(segment);
  return w;
}

/** `text` cut to at most `width` columns, ending in "…" when cut; never halves a wide character or a cluster. */
export function truncateToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  let out = '';
  let w = 0;
  for (const { segment } of graphemes.segment(text)) {
    const cw = clusterWidth(segment);
    if (w + cw > width - 1) break;
    out += segment;
    w += cw;
  }
  return out + '…';
}

export const padEndToWidth = (text: string, width: number) => text + ' '.repeat(Math.max(0, width - displayWidth(text)));
export const padStartToWidth = (text: string, width: number) => ' '.repeat(Math.max(0, width - displayWidth(text))) + text;
