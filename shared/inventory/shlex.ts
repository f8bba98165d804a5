import { ParseFailure } from './errors.js';

// Python's shlex.split(s, comments=True, posix=True), which the ini plugin uses for host lines.
const WHITESPACE = ' \t\r\n';
const QUOTES = `'"`;

export function shlexSplit(line: string, comments = true): string[] {
  const out: string[] = [];
  const chars = Array.from(line);
  let i = 0;
  let eof = false;

  const readToken = (): string | null => {
    let token = '';
    let quoted = false;
    let state: string | null = ' ';
    let escapedState = ' ';
    for (;;) {
      const ch = i < chars.length ? chars[i++]! : '';
      if (state === ' ') {
        if (!ch) { state = null; break; }
        if (WHITESPACE.includes(ch)) {
          if (token || quoted) break;
          continue;
        }
        if (comments && ch === '#') { i = chars.length; continue; }
        if (ch === '\\') { escapedState = 'a'; state = ch; continue; }
        if (QUOTES.includes(ch)) { state = ch; continue; }
        token = ch;
        state = 'a';
      } else if (state !== null && QUOTES.includes(state)) {
        quoted = true;
        if (!ch) throw new ParseFailure('No closing quotation');
        if (ch === state) { state = 'a'; continue; }
        if (ch === '\\' && state === '"') { escapedState = state; state = ch; continue; }
        token += ch;
      } else if (state === '\\') {
        if (!ch) throw new ParseFailure('No escaped character');
        // Inside double quotes a backslash only escapes a quote or another backslash.
        if (QUOTES.includes(escapedState) && ch !== state && ch !== escapedState) token += state;
        token += ch;
        state = escapedState;
      } else if (state === 'a') {
        if (!ch) { state = null; break; }
        if (WHITESPACE.includes(ch)) {
          state = ' ';
          if (token || quoted) break;
          continue;
        }
        if (comments && ch === '#') {
          // shlex ends the word at '#' even inside it, so "pw=abc#123" becomes "pw=abc".
          i = chars.length;
          state = ' ';
          if (token || quoted) break;
          continue;
        }
        if (QUOTES.includes(ch)) { state = ch; continue; }
        if (ch === '\\') { escapedState = 'a'; state = ch; continue; }
        token += ch;
      }
    }
    if (state === null && !token && !quoted) eof = true;
    return !quoted && token === '' ? null : token;
  };

  while (!eof) {
    const tok = readToken();
    if (tok === null) break;
    out.push(tok);
  }
  return out;
}
