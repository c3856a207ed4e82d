// What the router hands to a page.

export interface PageContext {
  /** The page's own element (replaced on every navigation). */
  root: HTMLElement;
  /** Path segments after the page id: `#/runs/<id>` → `[id]`. */
  rest: string[];
  /** The hash query: `#/backtest?run=…&model=…`. */
  params: URLSearchParams;
  /** False once the user navigated away (late answers must then be dropped). */
  alive(): boolean;
  /** Runs `fn` when the page is left. */
  onCleanup(fn: () => void): void;
  /** Records the page's state in the URL without re-rendering. */
  setParams(params: URLSearchParams): void;
}

export type Page = (ctx: PageContext) => void | Promise<void>;
