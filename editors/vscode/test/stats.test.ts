import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DocumentStats, resolveTarget, statsRows } from '../src/core/stats';

const stats: DocumentStats = {
  uri: 'file:///w/a.prompt',
  state: 'ready',
  encoding: 'cl100k_base',
  budget: 8192,
  tokens: { text: 100, references: 2100, total: 2200 },
  status: 'ok',
  percent: 27,
  references: [
    { kind: 'variable', target: 'name', tokens: 52, status: 'ok' },
    { kind: 'file', target: 'docs/spec.md', tokens: 2048, status: 'ok' },
    { kind: 'url', target: 'https://x.invalid/', tokens: null, status: 'error', error: 'fetch failed' },
  ],
  sections: [{ title: 'Intro', line: 2, tokens: 40 }],
};

describe('statsRows', () => {
  it('total, references sorted by tokens, errors, sections', () => {
    const rows = statsRows(stats);
    assert.deepEqual(
      rows.map((r) => [r.label, r.description ?? '']),
      [
        ['$(symbol-numeric) Total 2,200 / 8,192 (27%)', 'text 100 + references 2,100'],
        ['References (3)', ''],
        ['$(file) docs/spec.md', '+2,048 tokens'],
        ['$(symbol-variable) name', '+52 tokens'],
        ['$(warning) https://x.invalid/', 'error'],
        ['Sections (1)', ''],
        ['$(symbol-key) Intro', '40 tokens'],
      ],
    );
    assert.equal(rows[4].detail, 'fetch failed');
    assert.equal(rows[6].line, 2);
    assert.equal(rows[1].separator, true);
  });
  it('the icon is the server verdict; none without one', () => {
    assert.equal(statsRows({ ...stats, status: 'exceeded' })[0].label, '$(error) Total 2,200 / 8,192 (27%)');
    assert.equal(statsRows({ ...stats, status: 'warning' })[0].label, '$(warning) Total 2,200 / 8,192 (27%)');
    assert.equal(statsRows({ ...stats, status: undefined, percent: undefined, budget: 1000 })[0].label, '$(symbol-numeric) Total 2,200 / 1,000');
  });
  it('an estimate is marked on every number', () => {
    const rows = statsRows({ ...stats, exact: false, method: 'chars/4' });
    assert.equal(rows[0].label, '$(symbol-numeric) Total ≈ 2,200 / 8,192 (27%)');
    assert.equal(rows[0].description, 'text ≈ 100 + references ≈ 2,100');
    assert.match(rows[0].detail ?? '', /estimate \(chars\/4\)/);
    assert.equal(rows[2].description, '≈ +2,048 tokens');
    assert.equal(rows[6].description, '≈ 40 tokens');
  });
  it('no numbers yet', () => {
    assert.equal(statsRows({ uri: stats.uri, state: 'counting' })[0].label, '$(sync~spin) counting…');
    assert.equal(statsRows({ uri: stats.uri, state: 'error' })[0].label, '$(sync~spin) error');
  });
  it('resolves file targets relative to the document', () => {
    assert.equal(resolveTarget('docs/spec.md', '/w/p/a.prompt', '/h'), '/w/p/docs/spec.md');
    assert.equal(resolveTarget('@./n.txt', '/w/a.prompt', '/h'), '/w/n.txt');
    assert.equal(resolveTarget('#file:~/x.md', '/w/a.prompt', '/h'), '/h/x.md');
    assert.equal(resolveTarget('/abs/x.md', '/w/a.prompt', '/h'), '/abs/x.md');
  });
});
