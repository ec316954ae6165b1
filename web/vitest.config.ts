import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // One browser and one server at a time: CI machines have 2 cores.
    fileParallelism: false,
    projects: [
      {
        test: {
          name: "unit",
          include: ["src/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "e2e",
          include: ["e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          // Conditions are polled with a deadline; 1 s (vitest's default) is
          // too tight for a browser and a server sharing two busy cores.
          expect: { poll: { timeout: 10_000 } },
        },
      },
    ],
  },
});
