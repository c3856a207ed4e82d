// Live (stage 2.19): the online loop. Every pair's newest signal (the ensemble of a frozen ridge
// and two online learners, weighted by recent error), how the members and the ensemble did
// over time with the frozen member's weight, the drift timeline with every alert and its
// evidence, and the champion/challenger state with its decision log and rollback. A replay of the stored bars can be started and stopped here; while it runs, alerts
// and signals arrive as events and the session is re-read at each checkpoint.

import { disposeDetached, driftTimeline, onlineTimeline } from '../charts';
import { code, empty, errorBox, h, loading, onNextFrame, replace, section, table } from '../dom';
import { NA, dateTime, fixed, int, pct, sci } from '../format';
import type { PageContext } from '../page';
import { api, subscribe } from '../transport';
import type { AlertView, Decision, Job, OnlineEvent, OnlinePair, OnlineSession, OnlineSessionView, Signal } from '../types';
import { canonical } from './crosspair';

const ALERTS_SHOWN = 100;
const DECISIONS_SHOWN = 50;

const DECISION_TEXT: Record<Decision['kind'], string> = {
  retrain_started: 'retrain started',
  retrain_requested: 'challenger fitted',
  fit_failed: 'fit failed',
  promoted: 'promoted',
  rejected: 'rejected',
  rolled_back: 'rolled back',
};

function championName(id: number): string {
  return id === 0 ? 'offline fit (0)' : `challenger ${id}`;
}

function chip(severity: string): HTMLElement {
  return h('span', { class: `chip chip-${severity}` }, severity);
}

/** BQX sign convention: a positive forecast is a bearish call (the price below its path). */
function direction(x: number): HTMLElement {
  if (!Number.isFinite(x) || x === 0) return h('span', { class: 'muted' }, 'flat');
  return x > 0
    ? h('span', { class: 'signal-down' }, '↓ bearish')
    : h('span', { class: 'signal-up' }, '↑ bullish');
}

function alertFromEvent(session: string, e: OnlineEvent & { event: 'alert' }): AlertView {
  return {
    id: 0,
    session,
    run_id: '',
    time: new Date(e.ts / 1000).toISOString().replace('.000Z', 'Z'),
    pair: e.pair,
    severity: e.severity,
    detector: e.evidence.detector,
    subject: e.subject,
    reason: e.reason,
    evidence: e.evidence,
    playbook: e.playbook,
    created_at: '',
  };
}

export async function livePage(ctx: PageContext): Promise<void> {
  const sessionSelect = h('select', { testid: 'live-session', attrs: { 'aria-label': 'Online session' } });
  const startButton = h('button', { testid: 'live-start' }, 'Replay stored bars');
  const stopButton = h('button', { class: 'ghost', testid: 'live-stop', attrs: { disabled: true } }, 'Stop');
  const status = h('p', { class: 'muted small', testid: 'live-status' });
  const body = h('div', null, loading());
  replace(
    ctx.root,
    h('h1', null, 'Live — online loop (stage 2.19)'),
    h(
      'p',
      { class: 'muted' },
      'Bars replayed one at a time through the batch feature kernels. Members: a ridge frozen on the ' +
        'training part, and an RLS learner and a Hoeffding tree updated with every matured label (paired ' +
        'with the inputs it was predicted from); weights are a softmax of −MAE/τ over the last 100 matured errors. Detectors: ' +
        'ADWIN and Page–Hinkley on non-overlapping errors, PSI on the inputs. The same loop runs from the ' +
        'CLI: ',
      code('bqx online --from-store'),
      '.',
    ),
    h('div', { class: 'controls' }, h('label', null, 'Session ', sessionSelect), startButton, stopButton),
    status,
    body,
  );

  let sessions: OnlineSession[] = [];
  let view: OnlineSessionView | null = null;
  let alerts: AlertView[] = [];
  const latest = new Map<string, Signal>();
  let running = false;
  let seq = 0;

  const signalsSlot = h('div');
  const pairSelect = h('select', { testid: 'live-pair', attrs: { 'aria-label': 'Pair' } });
  const timelineEl = h('div', {
    class: 'chart chart-online',
    testid: 'live-timeline',
    attrs: { role: 'img', 'aria-label': 'Error per block and the frozen member weight over time' },
  });
  const timelineCaption = h('p', { class: 'muted small', testid: 'live-timeline-caption' });
  const driftEl = h('div', {
    class: 'chart chart-drift',
    testid: 'drift-timeline',
    attrs: { role: 'img', 'aria-label': 'Drift alerts over time by pair' },
  });
  const alertsSlot = h('div');
  const championsSlot = h('div');

  const pairOf = (): OnlinePair | undefined => view?.pairs.find((p) => p.pair === pairSelect.value);

  const drawSignals = () => {
    if (!view) return;
    const rows = canonical(view.pairs.map((p) => p.pair)).map((name) => {
      const p = view!.pairs.find((x) => x.pair === name)!;
      const s = latest.get(name) ?? p.latest;
      return [
        name,
        s ? direction(s.ensemble) : NA,
        s ? fixed(s.ensemble, 4) : NA,
        ...view!.members.map((_, k) => (s ? fixed(s.members[k], 4) : NA)),
        s ? s.weights.map((w) => fixed(w, 2)).join(' / ') : NA,
        p.score.mae.map((m) => sci(m)).join(' / '),
        pct(p.score.da[p.score.da.length - 1]),
        int(p.score.matured),
        s ? dateTime(s.ts) : NA,
      ];
    });
    replace(
      signalsSlot,
      table(
        [
          'pair',
          'signal',
          'ensemble',
          ...view.members,
          `weights ${view.members.map((m) => m[0]).join(' / ')}`,
          `MAE ${view.members.map((m) => m[0]).join(' / ')} / ens`,
          'DA ens',
          'matured',
          'as of',
        ],
        rows,
        { testid: 'live-signals', numeric: [2, ...view.members.map((_, k) => 3 + k), 5 + view.members.length, 6 + view.members.length] },
      ),
    );
  };

  const drawTimeline = () => {
    const p = pairOf();
    if (!p || !view) {
      timelineEl.hidden = true;
      replace(timelineCaption, 'No matured labels yet.');
      return;
    }
    timelineEl.hidden = p.timeline.length === 0;
    const first = p.timeline[0];
    const last = p.timeline[p.timeline.length - 1];
    replace(
      timelineCaption,
      p.timeline.length === 0
        ? 'No matured labels yet.'
        : `${p.pair}: ${int(p.timeline.length)} blocks of matured labels from ${dateTime(first.from)} to ` +
            `${dateTime(last.to)}; trained on ${int(p.train_rows)} rows with ${p.inputs.length} inputs ` +
            `(${p.inputs.slice(0, 4).join(', ')}${p.inputs.length > 4 ? ', …' : ''}).`,
    );
    if (p.timeline.length > 0) onlineTimeline(timelineEl, p.timeline, view.members);
  };

  const drawAlerts = () => {
    if (!view) return;
    const pairs = canonical(view.pairs.map((p) => p.pair));
    driftEl.hidden = alerts.length === 0;
    if (alerts.length > 0) driftTimeline(driftEl, alerts, pairs);
    const shown = alerts.slice(0, ALERTS_SHOWN);
    const counts = ['critical', 'warning', 'info'].map((s) => `${alerts.filter((a) => a.severity === s).length} ${s}`);
    replace(
      alertsSlot,
      alerts.length === 0
        ? empty('No drift alert in this session.', 'alerts-empty')
        : [
            h('p', { class: 'muted small', testid: 'alerts-count' }, `${int(alerts.length)} alerts (${counts.join(', ')}); newest ${shown.length} below.`),
            h(
              'div',
              { class: 'scroll-box' },
              table(
                ['time', 'severity', 'pair', 'detector', 'about', 'reason', 'playbook'],
                shown.map((a) => [a.time.replace('T', ' ').replace(':00Z', ''), chip(a.severity), a.pair, a.detector, a.subject, a.reason, code(a.playbook)]),
                { testid: 'alerts-table' },
              ),
            ),
          ],
    );
  };

  const rollback = async (pair: string) => {
    if (!view) return;
    try {
      await api<Decision>('POST', `/api/v1/online/${encodeURIComponent(view.summary.session)}/rollback`, { pair });
      reload();
    } catch (e) {
      replace(status, errorBox(e, 'live-error'));
    }
  };

  const drawChampions = () => {
    if (!view) return;
    const rows = canonical(view.pairs.map((p) => p.pair)).map((name) => {
      const p = view!.pairs.find((x) => x.pair === name)!;
      const c = p.challenger;
      const last = p.decisions[0];
      const button = h('button', { class: 'ghost small', testid: `rollback-${name}`, attrs: { type: 'button' } }, 'Roll back');
      (button as HTMLButtonElement).disabled = running || p.champions.length < 2;
      button.title = running
        ? 'Stop the loop first: a rollback changes the stopped session’s checkpoint'
        : p.champions.length < 2
          ? 'Only the offline fit has served'
          : `Make ${championName(p.champions[p.champions.length - 2])} serve again`;
      button.addEventListener('click', () => void rollback(name));
      return [
        name,
        championName(p.champion),
        c ? `${c.id}: ${c.stage} (${int(c.labels)} / ${int(c.needed)} labels)` : h('span', { class: 'muted' }, 'none'),
        last ? `${DECISION_TEXT[last.kind]} · ${dateTime(last.ts)}` : h('span', { class: 'muted' }, 'none'),
        button,
      ];
    });
    const log = view.pairs
      .flatMap((p) => p.decisions)
      .sort((a, b) => b.ts - a.ts || a.pair.localeCompare(b.pair))
      .slice(0, DECISIONS_SHOWN);
    replace(
      championsSlot,
      table(['pair', 'frozen member (champion)', 'challenger', 'last decision', ''], rows, { testid: 'champions-table' }),
      log.length === 0
        ? empty('No decision yet: a challenger starts only after ADWIN confirms a drift of the frozen member’s error.', 'decisions-empty')
        : h(
            'div',
            { class: 'scroll-box' },
            table(
              ['time', 'pair', 'decision', 'champion after', 'MAE champion / challenger', 'mean Δ [interval]', 'reason'],
              log.map((d) => [
                dateTime(d.ts),
                d.pair,
                DECISION_TEXT[d.kind],
                championName(d.champion),
                d.test ? `${sci(d.test.champion_mae)} / ${sci(d.test.challenger_mae)}` : NA,
                d.test ? `${sci(d.test.mean_diff)} [${sci(d.test.lo)}, ${sci(d.test.hi)}]` : NA,
                d.reason,
              ]),
              { testid: 'decisions-table' },
            ),
          ),
    );
  };

  const redrawSignals = onNextFrame(ctx.alive, drawSignals);
  const redrawAlerts = onNextFrame(ctx.alive, drawAlerts);

  const loadSession = async (id: string, first: boolean) => {
    const my = ++seq;
    const [v, a] = await Promise.allSettled([
      api<OnlineSessionView>('GET', `/api/v1/online/${encodeURIComponent(id)}`),
      api<AlertView[]>('GET', `/api/v1/alerts?session=${encodeURIComponent(id)}&limit=5000`),
    ]);
    if (!ctx.alive() || my !== seq) return;
    if (v.status === 'rejected') {
      replace(body, errorBox(v.reason));
      return;
    }
    view = v.value;
    alerts = a.status === 'fulfilled' ? a.value : [];
    latest.clear();
    const pairs = canonical(view.pairs.map((p) => p.pair));
    const want = first ? ctx.params.get('pair') : pairSelect.value;
    replace(pairSelect, pairs.map((p) => h('option', { attrs: { value: p } }, p)));
    pairSelect.value = want && pairs.includes(want) ? want : (pairs[0] ?? '');
    const p = view.pooled;
    const sm = view.summary;
    replace(
      status,
      `Session ${sm.session} (${sm.source === 'store' ? 'stored bars' : 'replayed file'}, ${sm.timeframe}, ` +
        `${view.pairs.length} pairs): ${int(sm.live_bars)} live bars at the last checkpoint (${sm.updated_at}). ` +
        `Pooled MAE ${[...view.members, 'ensemble'].map((m, k) => `${m} ${sci(p.mae[k])}`).join(', ')}; ` +
        `directional accuracy ${[...view.members, 'ensemble'].map((m, k) => `${m} ${pct(p.da[k])}`).join(', ')} ` +
        `over ${int(p.matured)} matured labels.`,
    );
    if (!body.contains(signalsSlot)) {
      replace(
        body,
        section('Signals (the newest prediction of every pair)', signalsSlot),
        section(
          ['Static vs adaptive over time ', h('span', { class: 'muted small' }, '(MAE per block of matured labels; dashed: the frozen member’s weight)')],
          h('div', { class: 'controls' }, h('label', null, 'Pair ', pairSelect)),
          timelineCaption,
          timelineEl,
        ),
        section(['Drift timeline ', h('span', { class: 'muted small' }, '(● ADWIN, ○ ADWIN warning, ◆ Page–Hinkley, ▲ PSI)')], driftEl, alertsSlot),
        section(
          [
            'Champion / challenger ',
            h(
              'span',
              { class: 'muted small' },
              '(after a confirmed drift of the frozen member’s error, a challenger is fitted on the labels that follow, predicts in shadow, and replaces the champion only if the interval of its paired MAE gain excludes 0)',
            ),
          ],
          championsSlot,
        ),
      );
    }
    drawSignals();
    drawTimeline();
    drawAlerts();
    drawChampions();
    const params = new URLSearchParams();
    params.set('session', sm.session);
    if (pairSelect.value) params.set('pair', pairSelect.value);
    ctx.setParams(params);
    disposeDetached();
  };

  const loadSessions = async (first: boolean) => {
    try {
      sessions = await api<OnlineSession[]>('GET', '/api/v1/online');
    } catch (e) {
      if (ctx.alive()) replace(body, errorBox(e));
      return;
    }
    if (!ctx.alive()) return;
    const want = first ? ctx.params.get('session') : sessionSelect.value || null;
    replace(
      sessionSelect,
      sessions.map((s) =>
        h('option', { attrs: { value: s.session } }, `${s.session} · ${s.timeframe} · ${s.pairs.length} pairs · ${s.updated_at}`),
      ),
    );
    sessionSelect.disabled = sessions.length < 2;
    if (sessions.length === 0) {
      replace(
        body,
        empty(
          ['No online session in this store yet: press “Replay stored bars”, or run ', code('bqx online --from-store'), ' (', code('bqx demo'), ' runs one).'],
          'live-empty',
        ),
      );
      replace(status, '');
      return;
    }
    sessionSelect.value = want && sessions.some((s) => s.session === want) ? want : sessions[0].session;
    await loadSession(sessionSelect.value, first);
  };

  const reload = onNextFrame(ctx.alive, () => void loadSessions(false));

  const setRunning = (r: boolean) => {
    running = r;
    startButton.disabled = r;
    stopButton.disabled = !r;
    drawChampions();
  };

  startButton.addEventListener('click', async () => {
    setRunning(true);
    try {
      await api<Job>('POST', '/api/v1/online', {});
    } catch (e) {
      setRunning(false);
      replace(status, errorBox(e, 'live-error'));
    }
  });
  stopButton.addEventListener('click', async () => {
    try {
      await api<{ stopping: boolean }>('POST', '/api/v1/online/stop');
    } catch (e) {
      replace(status, errorBox(e, 'live-error'));
    }
  });
  sessionSelect.addEventListener('change', () => void loadSession(sessionSelect.value, false));
  pairSelect.addEventListener('change', () => {
    drawTimeline();
    const params = new URLSearchParams();
    params.set('session', sessionSelect.value);
    params.set('pair', pairSelect.value);
    ctx.setParams(params);
  });

  const unsubscribe = subscribe(
    () => undefined,
    (job: Job) => {
      if (job.kind !== 'online') return;
      setRunning(job.state === 'running');
      if (job.state !== 'running') reload();
    },
    (e: OnlineEvent) => {
      if (e.event === 'started') {
        if (sessionSelect.value !== e.session) reload();
      } else if (e.event === 'checkpoint') {
        reload();
      } else if (e.event === 'signals' && view) {
        for (const s of e.signals) latest.set(s.pair, s);
        redrawSignals();
      } else if (e.event === 'alert' && view) {
        alerts.unshift(alertFromEvent(view.summary.session, e));
        redrawAlerts();
      } else if (e.event === 'decision' && view) {
        view.pairs.find((p) => p.pair === e.pair)?.decisions.unshift(e);
        drawChampions();
      }
    },
  );
  ctx.onCleanup(unsubscribe);
  setRunning(running);
  await loadSessions(true);
}
