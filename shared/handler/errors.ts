/** An error meant for the caller, with the HTTP status it maps to (below 500: shown as is). */
export class HttpError extends Error {
  override name = 'HttpError';
  constructor(
    readonly statusCode: number,
    message: string,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
  }
}

export const badRequest = (msg: string) => new HttpError(400, msg);
export const notFound = (msg: string) => new HttpError(404, msg);
