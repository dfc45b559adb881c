import { readFileSync } from 'node:fs';
import { fromHex } from '../../engine/bytes.js';

/** Reads one of the published-vector files copied from shared/vectors (see README.md here). */
export function loadVectors<T = any>(file: string): T {
  return JSON.parse(readFileSync(new URL(file, import.meta.url), 'utf8')) as T;
}

export const hex = fromHex;
