// The web admin and the group members' landing page: one Svelte 5 app.
//   npm run dev   Vite dev server; /api (HTTP and the websocket) goes to a running node
//   build         node build/build.mjs writes it to dist/web, which `outpost start` serves
// Vitest reads the same file: component tests run in jsdom beside the code.
import { defineConfig } from 'vitest/config'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { svelteTesting } from '@testing-library/svelte/vite'
import { fileURLToPath } from 'node:url'

const here = fileURLToPath(new URL('.', import.meta.url))
// The node's web port from `outpost init` (8443 when not root); its certificate is self-signed.
const api = process.env.OUTPOST_DEV_API ?? 'https://127.0.0.1:8443'

export default defineConfig({
  root: here,
  base: '/',
  // The Svelte options live here; there is no separate svelte.config.js.
  plugins: [svelte({ configFile: false }), svelteTesting()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    // The box serves phones on its own Wi-Fi; current browsers only, no legacy bundle.
    target: 'es2022',
    // No source maps in the build: they would double what a phone downloads on a slow hotspot.
    sourcemap: false,
    reportCompressedSize: false,
    // Rolldown warns when plugins take most of a build's time; on a busy
    // two-core box that is always, and says nothing about the app.
    rolldownOptions: { checks: { bundlerTimings: false } },
  },
  server: {
    proxy: {
      '/api': { target: api, changeOrigin: true, secure: false, ws: true },
    },
  },
  test: {
    // Logic tests run in plain Node; component tests ask for jsdom in their first line.
    environment: 'node',
    include: ['src/**/*.test.ts'],
    restoreMocks: true,
    setupFiles: ['src/test-setup.ts'],
    // Every wait inside a test has its own bound (findBy*, waitFor); this one
    // only catches a test that hangs. Vitest's 5 s default failed component
    // tests on a machine at load 20 that pass in under a second when idle.
    testTimeout: 60_000,
  },
})
