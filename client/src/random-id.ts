/**
 * A random id of 128 bits, as hex. `crypto.randomUUID()` exists only in
 * secure contexts, `getRandomValues` everywhere a browser runs; runtimes
 * without Web Crypto get Math.random, enough to tell connections apart.
 */
export function randomId(): string {
  const bytes = new Uint8Array(16)
  const crypto = (globalThis as { crypto?: { getRandomValues?(array: Uint8Array): Uint8Array } }).crypto
  if (crypto?.getRandomValues) crypto.getRandomValues(bytes)
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256)
  let id = ''
  for (const byte of bytes) id += byte.toString(16).padStart(2, '0')
  return id
}
