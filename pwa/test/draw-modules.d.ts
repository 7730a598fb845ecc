// The draw verifier's plain-JavaScript modules (public/draw/), as the tests use them.
declare module "*/draw/sha256.js" {
  export function sha256(bytes: Uint8Array): Uint8Array;
  export function ticketer(seed: string, prefixParts: string[]): (last: string, out: Int32Array, at: number) => void;
  export function compareWords(a: Int32Array, i: number, b: Int32Array, j: number): number;
  export function wordsToHex(words: Int32Array, at?: number): string;
}
declare module "*/draw/rank.js" {
  export function compareCodePoints(a: string, b: string): number;
  export function smallest(seed: string, prefixParts: string[], ids: string[], n: number,
                           onProgress?: (done: number) => void): { tickets: Int32Array; index: Int32Array };
  export function smallestOfBytes(seed: string, prefixParts: string[], bytes: Uint8Array, count: number, n: number,
                                  onProgress?: (done: number) => void): { tickets: Int32Array; index: Int32Array } | null;
}
