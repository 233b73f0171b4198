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
    include: ["src/**/*.test.{ts,tsx}"],
    setupFiles: ["src/test-setup.ts"],
  },
});
