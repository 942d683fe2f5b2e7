// svelte's and Vite's client types come in through tsconfig.json's "types".
declare module '*.svelte' {
  import type { Component } from 'svelte'
  const component: Component<Record<string, unknown>>
  export default component
}
