/**
 * edgeloop: the package's root entry, everything of edgeloop/http,
 * edgeloop/reactor and edgeloop/ws in one import. Each public area is a subpath with an
 * index.ts of its own (package.json `exports` and `typesVersions` list them,
 * test/package/install.test.ts imports each from an installed tarball); the
 * root re-exports them.
 */
export * from './http/index.js';
export * from './reactor/index.js';
export * from './ws/index.js';
