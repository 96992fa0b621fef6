import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { configurationFor, shapeSettings } from '../src/core/settings';

describe('shapeSettings', () => {
  const raw = {
    server: { command: ['x'] },
    trace: { server: 'off' },
    model: '',
    encoding: 'cl100k_base',
    budget: null,
    warningRatio: 0.8,
    http: { enabled: true, timeoutS: 10, headers: [{ pattern: '*', headers: { A: 'b' } }] },
    references: { allowOutsideWorkspace: true, enabled: ['file', 'url'] },
    cache: { path: '', memoryEntries: 10 },
    has: () => true, // WorkspaceConfiguration methods are dropped
  };
  it('drops client-only keys and unset values (trusted)', () => {
    const { settings, forced } = shapeSettings(raw, true);
    assert.deepEqual(forced, []);
    assert.equal('server' in settings, false);
    assert.equal('trace' in settings, false);
    assert.equal('model' in settings, false);
    assert.equal('budget' in settings, false);
    assert.equal('has' in settings, false);
    assert.equal(settings.warningRatio, 0.8, 'the server decides the level with it');
    assert.deepEqual(settings.cache, { memoryEntries: 10 });
    assert.deepEqual(settings.http, { enabled: true, timeoutS: 10, headers: [{ pattern: '*', headers: { A: 'b' } }] });
    assert.deepEqual(settings.references, { allowOutsideWorkspace: true, enabled: ['file', 'url'] });
    assert.equal(raw.http.enabled, true, 'input not mutated');
  });
  it('keeps a set model, budget and cache.path null (= no persistence)', () => {
    const { settings } = shapeSettings({ model: 'gpt-4o', budget: 1000, cache: { path: null } }, true);
    assert.equal(settings.model, 'gpt-4o');
    assert.equal(settings.budget, 1000);
    assert.deepEqual(settings.cache, { path: null });
  });
  it('untrusted: URL fetching and outside files forced off', () => {
    const { settings, forced } = shapeSettings(raw, false);
    assert.deepEqual(forced, ['http.enabled', 'references.allowOutsideWorkspace']);
    assert.equal((settings.http as Record<string, unknown>).enabled, false);
    assert.equal((settings.references as Record<string, unknown>).allowOutsideWorkspace, false);
    const empty = shapeSettings({}, false).settings;
    assert.deepEqual(empty, { http: { enabled: false }, references: { allowOutsideWorkspace: false } });
    const garbage = shapeSettings('nope', false).settings;
    assert.deepEqual(garbage, { http: { enabled: false }, references: { allowOutsideWorkspace: false } });
  });
  it('answers workspace/configuration sections', () => {
    const { settings } = shapeSettings({ http: { enabled: true }, model: 'gpt-4o' }, false);
    assert.equal(configurationFor('promptTokens', settings), settings);
    assert.equal(configurationFor(undefined, settings), settings);
    assert.deepEqual(configurationFor('promptTokens.http', settings), { enabled: false });
    assert.equal(configurationFor('promptTokens.http.enabled', settings), false);
    assert.equal(configurationFor('promptTokens.nope.deeper', settings), null);
    assert.equal(configurationFor('editor', settings), undefined);
  });
});
