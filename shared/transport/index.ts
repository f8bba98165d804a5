export * from './transport.js';
export * from './shellSession.js';
export * from './local.js';
export * from './ssh.js';
export * from './ssm.js';
export * from './pool.js';
export * from './knownHosts.js';
export * from './shellQuote.js';
