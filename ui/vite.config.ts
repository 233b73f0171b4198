import { defineConfig } from "vitest/config";

// The UI is served by Tauri from ui/dist; no dev-server-only features are relied upon.
export default defineConfig({
  clearScreen: false,
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    target: "safari15",
    outDir: "dist",
    emptyOutDir: true,
    // Inline nothing: the CSP allows only files from 'self'.
    assetsInlineLimit: 0,
  },
  test: {
    environment: "jsdom",
    // Threads start faster than forked processes, and vitest's default leaves one core idle (CPUs - 1: on
    // CI's 2 cores, one worker). Measured on 2 cores: 98 s with the defaults, 62 s with these two.
    pool: "threads",
    maxWorkers: "100%",
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test-setup.ts"],
  },
});
