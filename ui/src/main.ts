// Start-up: token capture, theme, top navigation, hash routing and the live-job badge.

import './styles.css';

import { applyTheme, disposeDetached } from './charts';
import { h, replace } from './dom';
import { api, captureToken, subscribe } from './transport';
import type { Health, Job } from './types';
import type { Page, PageContext } from './page';
import { pipelinePage } from './pages/pipeline';
import { dataPage } from './pages/data';
import { backtestPage } from './pages/backtest';
import { crosspairPage } from './pages/crosspair';
import { trainingPage } from './pages/training';
import { embeddingsPage } from './pages/embeddings';
import { runsPage } from './pages/runs';
import { livePage } from './pages/live';

captureToken();

const ROUTES: { id: string; label: string; page: Page }[] = [
  { id: 'pipeline', label: 'Pipeline', page: pipelinePage },
  { id: 'data', label: 'Data', page: dataPage },
  { id: 'backtest', label: 'Backtest', page: backtestPage },
  { id: 'crosspair', label: 'Cross-pair', page: crosspairPage },
  { id: 'embeddings', label: 'Embeddings', page: embeddingsPage },
  { id: 'training', label: 'Training', page: trainingPage },
  { id: 'live', label: 'Live', page: livePage },
  { id: 'runs', label: 'Runs', page: runsPage },
];

// ---------------------------------------------------------------------------------------------
// Theme: follows prefers-color-scheme until the user picks one (kept in localStorage).

const THEME_KEY = 'bqx.theme';
const media = window.matchMedia('(prefers-color-scheme: dark)');

function storedTheme(): 'light' | 'dark' | null {
  try {
    const t = localStorage.getItem(THEME_KEY);
    return t === 'light' || t === 'dark' ? t : null;
  } catch {
    return null;
  }
}

function effectiveTheme(): 'light' | 'dark' {
  return storedTheme() ?? (media.matches ? 'dark' : 'light');
}

function setTheme(): void {
  const t = effectiveTheme();
  document.documentElement.dataset.theme = t;
  themeButton.textContent = t === 'dark' ? '☀ Light' : '☾ Dark';
  themeButton.title = `Switch to the ${t === 'dark' ? 'light' : 'dark'} theme`;
  applyTheme();
}

const themeButton = h('button', {
  class: 'ghost',
  testid: 'theme-toggle',
  on: {
    click: () => {
      const next = effectiveTheme() === 'dark' ? 'light' : 'dark';
      try {
        localStorage.setItem(THEME_KEY, next);
      } catch {
        /* private mode: the toggle still works for this page */
      }
      setTheme();
    },
  },
});
media.addEventListener('change', () => {
  if (storedTheme() === null) setTheme();
});

// ---------------------------------------------------------------------------------------------
// Layout.

const navLinks = ROUTES.map((r) =>
  h('a', { attrs: { href: `#/${r.id}` }, testid: `nav-${r.id}` }, r.label),
);
const jobBadge = h('a', { class: 'job-badge', testid: 'job-badge', attrs: { href: '#/pipeline', hidden: true } });
const footer = h('footer', { class: 'footer', testid: 'footer' });
const main = h('main', { class: 'content', attrs: { id: 'content' } });

document.body.replaceChildren(
  h(
    'header',
    { class: 'topbar' },
    h('a', { class: 'brand', attrs: { href: '#/pipeline' } }, 'BQX ML'),
    h('nav', { class: 'nav' }, navLinks),
    h('div', { class: 'spacer' }),
    jobBadge,
    themeButton,
  ),
  main,
  footer,
);

// ---------------------------------------------------------------------------------------------
// Routing: `#/page/rest?query`.

let cleanups: (() => void)[] = [];
let generation = 0;

function parseHash(): { id: string; rest: string[]; params: URLSearchParams } {
  const raw = window.location.hash.replace(/^#\/?/, '');
  const [pathPart, query = ''] = raw.split('?', 2);
  const parts = pathPart.split('/').filter((p) => p.length > 0).map(decodeURIComponent);
  return { id: parts[0] ?? 'pipeline', rest: parts.slice(1), params: new URLSearchParams(query) };
}

function route(): void {
  for (const c of cleanups) c();
  cleanups = [];
  const gen = ++generation;
  const { id, rest, params } = parseHash();
  const r = ROUTES.find((x) => x.id === id) ?? ROUTES[0];
  for (const [i, a] of navLinks.entries()) {
    a.classList.toggle('active', ROUTES[i] === r);
    if (ROUTES[i] === r) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  document.title = `${r.label} · BQX ML`;
  const root = h('div', { class: 'page', testid: `page-${r.id}` });
  replace(main, root);
  disposeDetached();
  const ctx: PageContext = {
    root,
    rest,
    params,
    alive: () => gen === generation,
    onCleanup: (fn) => {
      if (gen === generation) cleanups.push(fn);
      else fn();
    },
    setParams: (next) => {
      const q = next.toString();
      const hash = `#/${[r.id, ...rest].map(encodeURIComponent).join('/')}${q ? `?${q}` : ''}`;
      window.history.replaceState(window.history.state, '', hash);
    },
  };
  Promise.resolve(r.page(ctx)).catch((e: unknown) => {
    console.warn('page failed', e);
  });
}

window.addEventListener('hashchange', route);

// ---------------------------------------------------------------------------------------------
// Live-job badge and footer.

function showJob(j: Job | null): void {
  if (j && j.state === 'running') {
    const stage = j.stages.find((s) => s.status === 'running')?.stage;
    jobBadge.textContent = `● ${j.kind} running${stage ? `: ${stage}` : ''}`;
    jobBadge.hidden = false;
  } else {
    jobBadge.hidden = true;
  }
}

let currentJob: Job | null = null;
subscribe(
  (e) => {
    if (currentJob && currentJob.state === 'running' && e.event === 'stage_started') {
      jobBadge.textContent = `● ${currentJob.kind} running: ${e.stage}`;
    }
  },
  (j) => {
    currentJob = j;
    showJob(j);
  },
);

setTheme();
route();

api<Health>('GET', '/api/v1/health')
  .then((hl) => {
    replace(footer, `BQX ML ${hl.version} · store ${hl.store} · demo data: ECB euro reference rates (source: European Central Bank)`);
    if (!currentJob) showJob(hl.job);
  })
  .catch((e: unknown) => {
    replace(footer, `Server not reachable: ${e instanceof Error ? e.message : String(e)}`);
  });
