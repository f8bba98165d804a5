/** Raised for any inventory that Ansible would refuse to parse. */
export class InventoryError extends Error {
  readonly file: string;
  readonly line?: number;

  constructor(message: string, file: string, line?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'InventoryError';
    this.file = file;
    if (line !== undefined) this.line = line;
  }
}

/** A failure inside a pure helper that does not know the file; the parser adds file and line. */
export class ParseFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ParseFailure';
  }
}

/** Ansible prefixes INI errors with `path:lineno:`; we do the same for every error whose line we know. */
export function located(file: string, line: number | undefined, message: string, cause?: unknown): InventoryError {
  const prefix = line === undefined ? `${file}: ` : `${file}:${line}: `;
  return new InventoryError(prefix + message, file, line, cause === undefined ? undefined : { cause });
}
