// The one place that talks to the backend (docs/api.md).
//
// In a browser: `fetch` for requests and one shared `EventSource('/api/v1/events')` for the live
// job. A token given once in the page URL (`?token=…`) is kept in sessionStorage and sent as
// `Authorization: Bearer` (and as `?token=` on the EventSource URL, which cannot carry headers).
//
// In the Tauri desktop window: the `api` command answers the same paths in-process and resolves
// to `{status, body}`; events arrive as `bqx-event` with `{kind: "progress"|"job", data}`. The
// `pick_and_ingest` command (native file dialog, then an ingest job) exists only there.

import type { ErrorBody, Job, OnlineEvent, ProgressEvent } from './types';

/** An error answer of the API (`{"error": {"code", "message"}}`) or a transport failure. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, message: string, status: number) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
  }
}

const TOKEN_KEY = 'bqx.token';

interface TauriWindow {
  __TAURI_INTERNALS__?: unknown;
}

/** Whether the page runs inside the Tauri desktop window. */
export function isTauri(): boolean {
  return typeof window !== 'undefined' && (window as TauriWindow).__TAURI_INTERNALS__ !== undefined;
}

/**
 * Takes a `?token=…` from the page URL into sessionStorage and removes it from the address bar
 * (so it does not end up in history, bookmarks or screenshots). Call once at start-up.
 */
export function captureToken(): void {
  const url = new URL(window.location.href);
  const t = url.searchParams.get('token');
  if (t === null) return;
  try {
    sessionStorage.setItem(TOKEN_KEY, t);
  } catch {
    memoryToken = t;
  }
  url.searchParams.delete('token');
  window.history.replaceState(window.history.state, '', url.pathname + url.search + url.hash);
}

let memoryToken: string | null = null;

function token(): string | null {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? memoryToken;
  } catch {
    return memoryToken;
  }
}

function errorFrom(status: number, body: unknown): ApiError {
  const err = (body as { error?: Partial<ErrorBody> } | null)?.error;
  if (err && typeof err.code === 'string') {
    return new ApiError(err.code, err.message ?? err.code, status);
  }
  return new ApiError(status >= 500 ? 'internal' : 'http_' + status, `HTTP ${status}`, status);
}

/** Calls one API route; resolves to the JSON body, rejects with an `ApiError`. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  return isTauri() ? tauriApi<T>(method, path, body) : httpApi<T>(method, path, body);
}

async function httpApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const t = token();
  if (t !== null) headers['Authorization'] = `Bearer ${t}`;
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
    });
  } catch (e) {
    throw new ApiError('network', `cannot reach the BQX server (${String(e)})`, 0);
  }
  const text = await res.text();
  let json: unknown = null;
  if (text.length > 0) {
    try {
      json = JSON.parse(text);
    } catch {
      if (!res.ok) throw errorFrom(res.status, null);
      throw new ApiError('internal', `the server answered ${path} with non-JSON text`, res.status);
    }
  }
  if (!res.ok) throw errorFrom(res.status, json);
  return json as T;
}

async function tauriApi<T>(method: string, path: string, body?: unknown): Promise<T> {
  const { invoke } = await import('@tauri-apps/api/core');
  let res: { status: number; body: unknown };
  try {
    res = await invoke<{ status: number; body: unknown }>('api', {
      method,
      path,
      body: body === undefined ? null : body,
    });
  } catch (e) {
    throw new ApiError('internal', `desktop command failed: ${String(e)}`, 500);
  }
  if (res.status >= 400) throw errorFrom(res.status, res.body);
  return res.body as T;
}

/**
 * Desktop window only: lets the user pick data files in the native dialog and starts their
 * ingest (the `pick_and_ingest` command). Resolves to the started job, or `null` when the
 * dialog was cancelled; rejects with an `ApiError` (`conflict` while a job runs).
 */
export async function pickAndIngest(): Promise<Job | null> {
  if (!isTauri()) throw new ApiError('unsupported', 'choosing files in a dialog needs the desktop app', 0);
  const { invoke } = await import('@tauri-apps/api/core');
  try {
    return (await invoke<Job | null>('pick_and_ingest')) ?? null;
  } catch (e) {
    // The command rejects with the API's error shape; anything else is a failed command.
    const err = (e as { error?: Partial<ErrorBody> } | null)?.error;
    if (err && typeof err.code === 'string') throw new ApiError(err.code, err.message ?? err.code, 0);
    throw new ApiError('internal', `desktop command failed: ${String(e)}`, 0);
  }
}

// ---------------------------------------------------------------------------------------------
// Events: one shared connection for all subscribers.

type ProgressFn = (e: ProgressEvent) => void;
type JobFn = (j: Job) => void;
type OnlineFn = (e: OnlineEvent) => void;

interface Listener {
  onProgress: ProgressFn;
  onJob: JobFn;
  onOnline?: OnlineFn;
}

const listeners = new Set<Listener>();
let closeConnection: (() => void) | null = null;
let lastJob: Job | null = null;

function dispatch(kind: string, data: unknown): void {
  if (kind === 'job') lastJob = data as Job;
  for (const l of [...listeners]) {
    try {
      if (kind === 'progress') l.onProgress(data as ProgressEvent);
      else if (kind === 'job') l.onJob(data as Job);
      else if (kind === 'online') l.onOnline?.(data as OnlineEvent);
    } catch (e) {
      console.warn('event listener failed', e);
    }
  }
}

function parse(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return null;
  }
}

function openBrowserEvents(): () => void {
  const t = token();
  const url = '/api/v1/events' + (t !== null ? `?token=${encodeURIComponent(t)}` : '');
  const es = new EventSource(url);
  es.addEventListener('progress', (e) => {
    const d = parse((e as MessageEvent<string>).data);
    if (d !== null) dispatch('progress', d);
  });
  es.addEventListener('job', (e) => {
    const d = parse((e as MessageEvent<string>).data);
    if (d !== null) dispatch('job', d);
  });
  // The online loop's events: each carries the whole tagged event (`{"event": …}`).
  for (const name of ['alert', 'signals', 'decision', 'online']) {
    es.addEventListener(name, (e) => {
      const d = parse((e as MessageEvent<string>).data);
      if (d !== null) dispatch('online', d);
    });
  }
  // The server dropped events for this slow client: take the current job from the API again.
  es.addEventListener('lagged', () => {
    api<{ job: Job | null }>('GET', '/api/v1/health')
      .then((h) => {
        if (h.job) dispatch('job', h.job);
      })
      .catch(() => undefined);
  });
  return () => es.close();
}

function openTauriEvents(): () => void {
  let closed = false;
  let unlisten: (() => void) | null = null;
  void import('@tauri-apps/api/event').then(async ({ listen }) => {
    const u = await listen<{ kind: string; data: unknown }>('bqx-event', (e) => {
      dispatch(e.payload.kind, e.payload.data);
    });
    if (closed) u();
    else unlisten = u;
  });
  return () => {
    closed = true;
    if (unlisten) unlisten();
  };
}

/**
 * Receives every progress event of the running job, every `Job` update (a late subscriber
 * gets the current job first from the server) and, with `onOnline`, the online loop's events.
 * Returns the function that unsubscribes.
 */
export function subscribe(onProgress: ProgressFn, onJob: JobFn, onOnline?: OnlineFn): () => void {
  const l: Listener = { onProgress, onJob, onOnline };
  listeners.add(l);
  if (closeConnection === null) {
    lastJob = null;
    closeConnection = isTauri() ? openTauriEvents() : openBrowserEvents();
  } else if (lastJob !== null) {
    // The server sends the current job to each new connection; a subscriber joining an open
    // connection gets the last one seen instead.
    const j = lastJob;
    queueMicrotask(() => {
      if (listeners.has(l)) onJob(j);
    });
  }
  return () => {
    listeners.delete(l);
    if (listeners.size === 0 && closeConnection !== null) {
      closeConnection();
      closeConnection = null;
    }
  };
}
