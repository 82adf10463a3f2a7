export * from './keys.js'
export * from './errors.js'
