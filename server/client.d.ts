// Types of the module the Vite plugin provides. Reference them once in the app:
//   /// <reference types="@atomkv/server/client" />

declare module 'virtual:atomkv' {
  /** The service's absolute URL, such as `http://localhost:5173/__atomkv`. */
  export const url: string
  /** A client of the service, shared by the whole app. */
  export const client: import('@atomkv/client').AtomKVClient
}
