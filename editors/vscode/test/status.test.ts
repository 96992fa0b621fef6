import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { formatInt, mdEscape } from '../src/core/format';
import { budgetStatus, formatTotal, mergeStatus, StatusParams, statusView } from '../src/core/status';

describe('numbers', () => {
  it('groups thousands without locale data', () => {
    assert.equal(formatInt(0), '0');
    assert.equal(formatInt(999), '999');
    assert.equal(formatInt(1234), '1,234');
    assert.equal(formatInt(8192), '8,192');
    assert.equal(formatInt(1234567), '1,234,567');
    assert.equal(formatInt(-1234), '-1,234');
  });
  it('escapes Markdown in file names', () => {
    assert.equal(mdEscape('a_b.prompt'), 'a\\_b\\.prompt');
  });
  it('formats the total with the percent as sent, without it, without a budget, as an estimate', () => {
    const t = { text: 1000, references: 234, total: 1234 };
    assert.equal(formatTotal(t, 8192, 15, false), '1,234 / 8,192 (15%)');
    assert.equal(formatTotal(t, 8192, 12, false), '1,234 / 8,192 (12%)', 'the server rounds, not the client');
    assert.equal(formatTotal(t, 8192, undefined, false), '1,234 / 8,192');
    assert.equal(formatTotal(t, null, undefined, false), '1,234 tokens');
    assert.equal(formatTotal(t, 8192, 15, true), '≈ 1,234 / 8,192 (15%)');
    assert.equal(formatTotal(t, null, undefined, true), '≈ 1,234 tokens');
  });
  it('knows only the three verdicts', () => {
    assert.equal(budgetStatus({ status: 'warning' }), 'warning');
    assert.equal(budgetStatus({ status: 'exceeded' }), 'exceeded');
    assert.equal(budgetStatus({ status: 'ok' }), 'ok');
    assert.equal(budgetStatus({ status: 'nearly' }), undefined);
    assert.equal(budgetStatus({ status: null }), undefined);
    assert.equal(budgetStatus({}), undefined);
  });
});

describe('statusView', () => {
  const ready: StatusParams = {
    uri: 'file:///w/a.prompt',
    version: 3,
    state: 'ready',
    encoding: 'cl100k_base',
    budget: 8192,
    tokens: { text: 1000, references: 234, total: 1234 },
    pendingReferences: 0,
    status: 'ok',
    percent: 15,
  };
  it('ready: number icon, total and the server percent, level from the server', () => {
    const v = statusView(ready, { fileName: 'a.prompt' });
    assert.equal(v.text, '$(symbol-numeric) 1,234 / 8,192 (15%)');
    assert.equal(v.level, 'ok');
    assert.equal(v.spinning, false);
    assert.match(v.tooltip, /\| text \| 1,000 \|/);
    assert.match(v.tooltip, /\| references \| 234 \|/);
    assert.match(v.tooltip, /\| budget \| 8,192 \(15% used\) \|/);
    assert.match(v.tooltip, /encoding `cl100k_base`/);
    assert.match(v.tooltip, /a\\\.prompt/);
    assert.doesNotMatch(v.tooltip, /≈|estimate/);
  });
  it('the colour is the server verdict, never recomputed from the numbers', () => {
    // 1,234 of 8,192 is far from any warning ratio: only the server knows its settings
    const w = statusView({ ...ready, status: 'warning' });
    assert.equal(w.level, 'warning');
    assert.match(w.tooltip, /near the budget/);
    const e = statusView({ ...ready, status: 'exceeded', percent: 15 });
    assert.equal(e.level, 'exceeded');
    assert.match(e.tooltip, /over budget/);
    // 150 of 100 tokens but the server says ok: shown as ok
    const ok = statusView({ ...ready, budget: 100, tokens: { text: 150, references: 0, total: 150 }, percent: 150 });
    assert.equal(ok.level, 'ok');
    assert.equal(ok.text, '$(symbol-numeric) 150 / 100 (150%)');
  });
  it('an older server without status/percent: counts, no colour, no percent', () => {
    const { status: _s, percent: _p, ...old } = ready;
    const v = statusView({ ...old, budget: 100, tokens: { text: 150, references: 0, total: 150 } });
    assert.equal(v.text, '$(symbol-numeric) 150 / 100');
    assert.equal(v.level, 'none');
    assert.match(v.tooltip, /\| budget \| 100 \|/);
    assert.doesNotMatch(v.tooltip, /%|over budget|near the budget/);
  });
  it('an estimate: ≈ before every number, the method in the tooltip', () => {
    const v = statusView({ ...ready, exact: false, method: 'chars/4' });
    assert.equal(v.text, '$(symbol-numeric) ≈ 1,234 / 8,192 (15%)');
    assert.match(v.tooltip, /\| text \| ≈ 1,000 \|/);
    assert.match(v.tooltip, /\| references \| ≈ 234 \|/);
    assert.match(v.tooltip, /\| \*\*total\*\* \| \*\*≈ 1,234\*\* \|/);
    assert.match(v.tooltip, /estimate \(chars\/4\)/);
    assert.equal(statusView({ ...ready, exact: true }).text, '$(symbol-numeric) 1,234 / 8,192 (15%)');
    assert.equal(statusView({ ...ready, exact: null }).text, '$(symbol-numeric) 1,234 / 8,192 (15%)');
  });
  it('counting: spinner, keeps the numbers it has', () => {
    const v = statusView({ ...ready, state: 'counting', pendingReferences: 2 });
    assert.equal(v.text, '$(sync~spin) 1,234 / 8,192 (15%)');
    assert.equal(v.spinning, true);
    assert.match(v.tooltip, /2 references still counting/);
  });
  it('counting without numbers yet', () => {
    const v = statusView({ uri: 'file:///w/a.prompt', state: 'counting' });
    assert.equal(v.text, '$(sync~spin) counting…');
    assert.equal(v.level, 'none');
    const z: StatusParams = { uri: ready.uri, state: 'counting', budget: 0, tokens: { text: 0, references: 0, total: 0 } };
    assert.equal(statusView(z).text, '$(sync~spin) counting…');
  });
  it('error state', () => {
    const v = statusView({ uri: ready.uri, state: 'error', error: 'boom' });
    assert.equal(v.level, 'error');
    assert.equal(v.text, '$(error) tokens: error');
    assert.match(v.tooltip, /boom/);
  });
});

describe('mergeStatus', () => {
  const prev: StatusParams = {
    uri: 'file:///w/a.prompt',
    state: 'ready',
    budget: 100,
    tokens: { text: 90, references: 0, total: 90 },
    status: 'warning',
    percent: 90,
    exact: false,
    method: 'chars/4',
  };
  it('a counting notification without numbers keeps the last numbers and the verdict on them', () => {
    const z: StatusParams = { uri: prev.uri, state: 'counting', budget: 0, tokens: { text: 0, references: 0, total: 0 } };
    const m = mergeStatus(prev, z);
    assert.equal(m.state, 'counting');
    assert.deepEqual([m.tokens, m.budget, m.status, m.percent, m.exact, m.method], [prev.tokens, 100, 'warning', 90, false, 'chars/4']);
    assert.equal(statusView(m).text, '$(sync~spin) ≈ 90 / 100 (90%)');
    assert.equal(mergeStatus(prev, { uri: prev.uri, state: 'counting', tokens: null }).percent, 90);
  });
  it('new numbers replace the old ones, verdict included', () => {
    const next: StatusParams = { uri: prev.uri, state: 'ready', budget: 100, tokens: { text: 20, references: 0, total: 20 } };
    const m = mergeStatus(prev, next);
    assert.deepEqual([m.tokens?.total, m.status, m.percent, m.exact], [20, undefined, undefined, undefined]);
    assert.equal(statusView(m).level, 'none');
  });
  it('nothing to keep without a previous status', () => {
    const z: StatusParams = { uri: prev.uri, state: 'counting' };
    assert.deepEqual(mergeStatus(undefined, z), z);
  });
});
