import { randomUUID } from 'node:crypto';

/** The Lambda context a locally invoked handler gets: what middy and our middlewares read. */
export function lambdaContext(functionName: string, timeoutMs = 15 * 60_000) {
  const deadline = Date.now() + timeoutMs;
  return {
    awsRequestId: randomUUID(),
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    logGroupName: `/edgefleet/${functionName}`,
    logStreamName: 'local',
    callbackWaitsForEmptyEventLoop: false,
    /** The caller writes a Buffer body as it is (the hub's HTTP server); Lambda's response is JSON, its body a string. */
    bytesBody: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
}
