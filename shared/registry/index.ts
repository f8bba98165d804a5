export * from './settings.js';
export * from './http.js';
export * from './client.js';
