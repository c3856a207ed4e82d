// Writes N seeded M1 bars of one pair in the generic CSV format (docs: formats.md § 4.6), for
// the page-load benchmark's million-point series.
//
//   node tests/ui/bench/make-series.mjs OUT.csv [BARS=1000000] [PAIR=EURUSD]

import { createWriteStream } from 'node:fs';

const [out, barsArg, pairArg] = process.argv.slice(2);
if (!out) {
  console.error('usage: make-series.mjs OUT.csv [BARS] [PAIR]');
  process.exit(2);
}
const bars = Number(barsArg ?? 1_000_000);
const pair = pairArg ?? 'EURUSD';

// A 32-bit xorshift generator: the same file on every machine.
let state = 0x9e3779b9;
const uniform = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 4294967296;
};
const normal = () => Math.sqrt(-2 * Math.log(uniform() + 1e-12)) * Math.cos(2 * Math.PI * uniform());

const w = createWriteStream(out);
w.write('timestamp,pair,open,high,low,close,volume\n');
let t = Date.UTC(2022, 0, 3, 0, 0); // a Monday
let price = 1.1;
let chunk = [];
for (let i = 0; i < bars; i++) {
  // Skip weekends: Friday 22:00 to Sunday 22:00 UTC.
  let d = new Date(t);
  while ((d.getUTCDay() === 5 && d.getUTCHours() >= 22) || d.getUTCDay() === 6 || (d.getUTCDay() === 0 && d.getUTCHours() < 22)) {
    t += 60_000;
    d = new Date(t);
  }
  const open = price;
  let hi = open;
  let lo = open;
  for (let k = 0; k < 4; k++) {
    price *= 1 + 0.00012 * normal();
    hi = Math.max(hi, price);
    lo = Math.min(lo, price);
  }
  chunk.push(`${d.toISOString().replace('.000Z', 'Z')},${pair},${open.toFixed(5)},${hi.toFixed(5)},${lo.toFixed(5)},${price.toFixed(5)},${1 + Math.floor(uniform() * 90)}`);
  if (chunk.length === 10_000) {
    if (!w.write(chunk.join('\n') + '\n')) await new Promise((r) => w.once('drain', r));
    chunk = [];
  }
  t += 60_000;
}
if (chunk.length) w.write(chunk.join('\n') + '\n');
w.end();
await new Promise((r) => w.on('finish', r));
console.error(`make-series: ${bars} ${pair} M1 bars -> ${out}`);
