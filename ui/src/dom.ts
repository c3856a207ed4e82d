// A tiny DOM builder: elements are created with createElement and text nodes only (no HTML
// strings), so nothing from the API is ever parsed as markup and a strict CSP holds.

import { ApiError } from './transport';

export type Child = Node | string | number | null | undefined | false | Child[];

export interface Props {
  class?: string;
  /** `data-testid`, the stable hook of the e2e test. */
  testid?: string;
  title?: string;
  /** Other attributes (never `style`). */
  attrs?: Record<string, string | number | boolean | null | undefined>;
  on?: Partial<{ [K in keyof HTMLElementEventMap]: (e: HTMLElementEventMap[K]) => void }>;
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props | null = null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props) {
    if (props.class) el.className = props.class;
    if (props.testid) el.dataset.testid = props.testid;
    if (props.title) el.title = props.title;
    if (props.attrs) {
      for (const [k, v] of Object.entries(props.attrs)) {
        if (v === null || v === undefined || v === false) continue;
        el.setAttribute(k, v === true ? '' : String(v));
      }
    }
    if (props.on) {
      for (const [k, fn] of Object.entries(props.on)) {
        el.addEventListener(k, fn as EventListener);
      }
    }
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`. */
export function replace(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A table from a header row and body rows of cells (a cell may be an element). */
export function table(
  head: Child[],
  rows: Child[][],
  opts: { testid?: string; class?: string; numeric?: number[] } = {},
): HTMLTableElement {
  const numeric = new Set(opts.numeric ?? []);
  const cls = (i: number) => (numeric.has(i) ? 'num' : undefined);
  return h(
    'table',
    { class: opts.class ?? 'grid', testid: opts.testid },
    h('thead', null, h('tr', null, head.map((c, i) => h('th', { class: cls(i) }, c)))),
    h(
      'tbody',
      null,
      rows.map((r) => h('tr', null, r.map((c, i) => h('td', { class: cls(i) }, c)))),
    ),
  );
}

/** A message that tells the user what to do (empty states). */
export function empty(message: Child, testid = 'empty'): HTMLElement {
  return h('div', { class: 'empty', testid }, message);
}

/** An inline `code` span. */
export function code(text: string): HTMLElement {
  return h('code', null, text);
}

/** A shown error: the API's code and message. */
export function errorBox(e: unknown, testid = 'error'): HTMLElement {
  const err =
    e instanceof ApiError
      ? e
      : new ApiError('internal', e instanceof Error ? e.message : String(e), 0);
  return h(
    'div',
    { class: 'error', testid, attrs: { role: 'alert' } },
    h('strong', null, errorTitle(err)),
    ' ',
    err.message,
  );
}

function errorTitle(e: ApiError): string {
  switch (e.code) {
    case 'conflict':
      return 'A job is already running.';
    case 'store_in_use':
      return 'The store is in use.';
    case 'unauthorized':
      return 'Not authorized (open the page with ?token=… once).';
    case 'network':
      return 'Server unreachable.';
    case 'not_found':
      return 'Not found.';
    default:
      return `Error (${e.code}${e.status ? `, HTTP ${e.status}` : ''}).`;
  }
}

export function loading(text = 'Loading…'): HTMLElement {
  return h('div', { class: 'loading', attrs: { 'aria-busy': 'true' } }, text);
}

/** A titled panel. */
export function section(title: Child, ...children: Child[]): HTMLElement {
  return h('section', { class: 'panel' }, h('h2', null, title), ...children);
}

/**
 * Coalesces redraws: the returned function schedules `draw` for the next animation frame, once
 * however often it is called before then, and skips it when the page is gone (`alive()` false).
 */
export function onNextFrame(alive: () => boolean, draw: () => void): () => void {
  let frame = 0;
  return () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      if (alive()) draw();
    });
  };
}
