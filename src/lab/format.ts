/** Names of the lab's rows. Thread: any. Owns nothing. */

/** edgeloop runs once per load, the naive servers once each: name the row accordingly. */
export const rowName = (r: { name: string; load: string }): string => (r.name === 'edgeloop' ? `edgeloop (${r.load})` : r.name);
