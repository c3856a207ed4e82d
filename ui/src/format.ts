// Number and time formatting, one convention everywhere (the e2e test mirrors these rules):
// - missing values are an em dash "—", never a placeholder number;
// - shares (directional accuracy, hit rates, coverage) as percent with 1 decimal: "50.3 %";
// - ratios (R², IC, Sharpe, DSR) with 3 decimals, or 2 where stated;
// - timestamps are Unix microseconds shown in UTC.

export const NA = '—';

type Num = number | null | undefined;

function ok(x: Num): x is number {
  return typeof x === 'number' && Number.isFinite(x);
}

/** Fixed decimals with an ASCII minus; "-0.000" becomes "0.000". */
export function fixed(x: Num, digits = 3): string {
  if (!ok(x)) return NA;
  const s = x.toFixed(digits);
  return /^-0\.?0*$/.test(s) ? s.slice(1) : s;
}

/** A ratio: 3 decimals. */
export function ratio(x: Num): string {
  return fixed(x, 3);
}

/** A share as percent with 1 decimal: 0.5030 → "50.3 %". */
export function pct(x: Num, digits = 1): string {
  if (!ok(x)) return NA;
  return `${fixed(x * 100, digits)} %`;
}

/** A signed share difference in percentage points: 0.012 → "+1.2 pp". */
export function ppDiff(x: Num): string {
  if (!ok(x)) return NA;
  const s = fixed(x * 100, 1);
  return `${x > 0 && s !== '0.0' ? '+' : ''}${s} pp`;
}

/** A signed ratio difference: "+0.012". */
export function signedRatio(x: Num, digits = 3): string {
  if (!ok(x)) return NA;
  const s = fixed(x, digits);
  return `${x > 0 && Number(s) !== 0 ? '+' : ''}${s}`;
}

/** An interval "[lo, hi]" of shares in percent. */
export function pctInterval(iv: { lo: number; hi: number } | null | undefined): string {
  if (!iv || !ok(iv.lo) || !ok(iv.hi)) return NA;
  return `[${pct(iv.lo)}, ${pct(iv.hi)}]`;
}

/** An interval "[lo, hi]" of ratios. */
export function ratioInterval(iv: { lo: number; hi: number } | null | undefined, digits = 2): string {
  if (!iv || !ok(iv.lo) || !ok(iv.hi)) return NA;
  return `[${fixed(iv.lo, digits)}, ${fixed(iv.hi, digits)}]`;
}

const intFmt = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** An integer count with thousands separators: 7126 → "7,126". */
export function int(x: Num): string {
  return ok(x) ? intFmt.format(x) : NA;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** Unix microseconds → "2024-03-01" (UTC). */
export function date(us: Num): string {
  if (!ok(us)) return NA;
  const d = new Date(us / 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** Unix microseconds → "2024-03-01 14:05" (UTC). */
export function dateTime(us: Num): string {
  if (!ok(us)) return NA;
  const d = new Date(us / 1000);
  return `${date(us)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/**
 * A fold boundary, Unix microseconds or an RFC 3339 string, in UTC: "2024-03-01" at midnight,
 * else "2024-03-01 14:05". A string that is not a time is shown as it is.
 */
export function instant(x: number | string | null | undefined): string {
  let us: number;
  if (typeof x === 'number') us = x;
  else if (typeof x === 'string' && /^-?\d+$/.test(x.trim())) us = Number(x.trim());
  else if (typeof x === 'string' && x.trim() !== '') {
    const ms = new Date(x).getTime();
    if (Number.isNaN(ms)) return x;
    us = ms * 1000;
  } else return NA;
  if (!ok(us)) return NA;
  const d = new Date(us / 1000);
  return d.getUTCHours() === 0 && d.getUTCMinutes() === 0 ? date(us) : dateTime(us);
}

/** An RFC 3339 string (registry `_at` fields) → "2026-12-03 09:36:45 UTC". */
export function at(s: string | null | undefined): string {
  if (!s) return NA;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) return s;
  return (
    `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`
  );
}

/** Seconds → "0.4 s", "12.3 s", "4 min 12 s", "1 h 03 min". */
export function duration(secs: Num): string {
  if (!ok(secs)) return NA;
  if (secs < 60) return `${secs.toFixed(1)} s`;
  const s = Math.round(secs);
  if (s < 3600) return `${Math.floor(s / 60)} min ${pad(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${pad(Math.floor((s % 3600) / 60))} min`;
}

/** Bytes → "1.2 MB". */
export function bytes(n: Num): string {
  if (!ok(n)) return NA;
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** A readable verdict: "not_skill" → "not skill". */
export function verdict(v: string | null | undefined): string {
  return v ? v.replace(/_/g, ' ') : NA;
}

/** Small magnitudes (log residuals): "3.2e-7"; zero as "0". */
export function sci(x: Num, digits = 2): string {
  if (!ok(x)) return NA;
  if (x === 0) return '0';
  const a = Math.abs(x);
  return a >= 0.001 && a < 1000 ? x.toPrecision(digits + 1) : x.toExponential(digits);
}
