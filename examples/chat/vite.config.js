import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// Assets land in dist/assets/ with a content hash in their names, which is what lets Caddy
// serve them as immutable while index.html is never cached.
export default defineConfig({
  plugins: [react()],
});
