await import('@sluice/core/internal');
const c = process.cpuUsage(); const t = performance.now();
process.env.NODE_ENV = 'production';
await import('/work/main/packages/cli/dist/ui/tui.js');
const u = process.cpuUsage(c);
console.log('ui import: wall', (performance.now() - t).toFixed(0), 'ms, cpu', ((u.user + u.system) / 1000).toFixed(0), 'ms');
