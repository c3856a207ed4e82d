import { defineConfig } from 'vite';

// `base: './'`: the same files are served by `bqx serve` at `/` and loaded by the Tauri window.
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // ECharts is the bulk of the bundle; keep it in its own chunk so the app code stays small.
    chunkSizeWarningLimit: 900,
    rollupOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes('node_modules/echarts') || id.includes('node_modules/zrender')) return 'echarts';
          return undefined;
        },
      },
    },
  },
  server: {
    // `npm run dev`: the API of a running `bqx serve` (default address).
    proxy: { '/api': 'http://127.0.0.1:8750' },
  },
});
