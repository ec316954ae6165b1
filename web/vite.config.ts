import { defineConfig } from "vite";

// The built app goes to dist/, which is committed and embedded in the
// gateway binary: `cargo build` never needs npm. Rebuild with `npm run build`.
export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
  },
  server: {
    // `npm run dev` against a local `parley up`.
    proxy: {
      "/v1": { target: "http://127.0.0.1:8080", ws: true },
    },
  },
});
