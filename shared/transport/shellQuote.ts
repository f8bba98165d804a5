/** Quote one word for a POSIX shell: nothing inside single quotes is special, not even `\`. */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new Error(`cannot pass a NUL byte to a shell: ${JSON.stringify(word)}`);
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
