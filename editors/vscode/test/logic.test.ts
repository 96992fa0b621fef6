import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  budgetLevel,
  CLIENT_ONLY_KEYS,
  FILE_PATTERNS,
  LANGUAGE_IDS,
  commandLine,
  configurationFor,
  formatInt,
  formatTotal,
  InvalidCommandSetting,
  percentOf,
  resolveServerCommand,
  resolveTarget,
  ResolveInput,
  serverFailureMessage,
  shapeSettings,
  startErrorDetail,
  statsRows,
  statusView,
} from '../src/logic';

describe('numbers', () => {
  it('groups thousands without locale data', () => {
    assert.equal(formatInt(0), '0');
    assert.equal(formatInt(999), '999');
    assert.equal(formatInt(1234), '1,234');
    assert.equal(formatInt(8192), '8,192');
    assert.equal(formatInt(1234567), '1,234,567');
    assert.equal(formatInt(-1234), '-1,234');
  });
  it('rounds percent half up like the SPEC example', () => {
    assert.equal(percentOf(7012, 8192), 86);
    assert.equal(percentOf(1234, 8192), 15);
    assert.equal(percentOf(1, 2), 50);
    assert.equal(percentOf(1, 200), 1); // 0.5 → 1
    assert.equal(percentOf(10, null), undefined);
    assert.equal(percentOf(10, 0), undefined);
  });
  it('levels follow total > budget / total >= ratio*budget', () => {
    assert.equal(budgetLevel(100, 100, 0.8), 'warning');
    assert.equal(budgetLevel(101, 100, 0.8), 'exceeded');
    assert.equal(budgetLevel(80, 100, 0.8), 'warning');
    assert.equal(budgetLevel(79, 100, 0.8), 'ok');
    assert.equal(budgetLevel(10 ** 9, null, 0.8), 'ok');
  });
  it('formats the total', () => {
    assert.equal(formatTotal({ text: 1000, references: 234, total: 1234 }, 8192), '1,234 / 8,192 (15%)');
    assert.equal(formatTotal({ text: 1000, references: 234, total: 1234 }, null), '1,234 tokens');
  });
});

describe('statusView', () => {
  const ready = {
    uri: 'file:///w/a.prompt',
    version: 3,
    state: 'ready' as const,
    encoding: 'cl100k_base',
    budget: 8192,
    tokens: { text: 1000, references: 234, total: 1234 },
    pendingReferences: 0,
  };
  it('ready: number icon, total and percent, no colour', () => {
    const v = statusView(ready, { warningRatio: 0.8, fileName: 'a.prompt' });
    assert.equal(v.text, '$(symbol-numeric) 1,234 / 8,192 (15%)');
    assert.equal(v.level, 'ok');
    assert.equal(v.spinning, false);
    assert.match(v.tooltip, /\| text \| 1,000 \|/);
    assert.match(v.tooltip, /\| references \| 234 \|/);
    assert.match(v.tooltip, /\| budget \| 8,192 \(15% used\) \|/);
    assert.match(v.tooltip, /encoding `cl100k_base`/);
    assert.match(v.tooltip, /a\\\.prompt/);
  });
  it('counting: spinner, keeps the numbers it has', () => {
    const v = statusView({ ...ready, state: 'counting', pendingReferences: 2 }, { warningRatio: 0.8 });
    assert.equal(v.text, '$(sync~spin) 1,234 / 8,192 (15%)');
    assert.equal(v.spinning, true);
    assert.match(v.tooltip, /2 references still counting/);
  });
  it('counting without numbers yet', () => {
    const v = statusView({ uri: 'file:///w/a.prompt', state: 'counting' }, { warningRatio: 0.8 });
    assert.equal(v.text, '$(sync~spin) counting…');
  });
  it('a first counting notification with zeros and budget 0 is "counting…"', () => {
    const z = { uri: ready.uri, state: 'counting' as const, budget: 0, tokens: { text: 0, references: 0, total: 0 } };
    assert.equal(statusView(z, { warningRatio: 0.8 }).text, '$(sync~spin) counting…');
    assert.equal(statusView(z, { warningRatio: 0.8, previous: ready }).text, '$(sync~spin) 1,234 / 8,192 (15%)');
  });
  it('uses the previous numbers when a counting status has none', () => {
    const v = statusView({ uri: ready.uri, state: 'counting', tokens: null }, { warningRatio: 0.8, previous: ready });
    assert.equal(v.text, '$(sync~spin) 1,234 / 8,192 (15%)');
  });
  it('warning and exceeded levels', () => {
    const w = statusView({ ...ready, tokens: { text: 7012, references: 0, total: 7012 } }, { warningRatio: 0.8 });
    assert.equal(w.level, 'warning');
    assert.equal(w.text, '$(symbol-numeric) 7,012 / 8,192 (86%)');
    const e = statusView({ ...ready, budget: 100, tokens: { text: 150, references: 0, total: 150 } }, { warningRatio: 0.8 });
    assert.equal(e.level, 'exceeded');
    assert.equal(e.text, '$(symbol-numeric) 150 / 100 (150%)');
    assert.match(e.tooltip, /over budget/);
  });
  it('error state', () => {
    const v = statusView({ uri: ready.uri, state: 'error', error: 'boom' }, { warningRatio: 0.8 });
    assert.equal(v.level, 'error');
    assert.equal(v.text, '$(error) tokens: error');
    assert.match(v.tooltip, /boom/);
  });
});

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

describe('resolveServerCommand', () => {
  const base = (over: Partial<ResolveInput>, existing: string[] = []): ResolveInput => ({
    configured: [],
    trusted: true,
    workspaceFolders: ['/ws'],
    pathEnv: '/usr/local/bin:/usr/bin',
    platform: 'linux',
    home: '/home/me',
    isExecutable: (p) => existing.includes(p),
    ...over,
  });
  it('setting wins, with ${workspaceFolder} and ~ expanded', () => {
    const c = resolveServerCommand(base({ configured: ['${workspaceFolder}/.venv/bin/python', '-m', 'prompt_tokens', 'lsp', '~/x'] }));
    assert.deepEqual([c.command, c.args, c.source], ['/ws/.venv/bin/python', ['-m', 'prompt_tokens', 'lsp', '/home/me/x'], 'setting']);
  });
  it('rejects a malformed setting', () => {
    assert.throws(() => resolveServerCommand(base({ configured: ['ok', 3] })), InvalidCommandSetting);
    assert.throws(() => resolveServerCommand(base({ configured: [''] })), InvalidCommandSetting);
  });
  it('a non-array or empty setting means auto', () => {
    const c = resolveServerCommand(base({ configured: 'prompt-tokens lsp' }, ['/usr/bin/prompt-tokens']));
    assert.equal(c.source, 'path');
  });
  it('PATH first', () => {
    const c = resolveServerCommand(base({}, ['/usr/bin/prompt-tokens', '/ws/.venv/bin/prompt-tokens']));
    assert.deepEqual([c.command, c.args, c.source], ['/usr/bin/prompt-tokens', ['lsp'], 'path']);
  });
  it('then the workspace venv, only when trusted', () => {
    const exists = ['/ws/.venv/bin/prompt-tokens'];
    const c = resolveServerCommand(base({}, exists));
    assert.deepEqual([c.command, c.args, c.source], ['/ws/.venv/bin/prompt-tokens', ['lsp'], 'workspace-venv']);
    const u = resolveServerCommand(base({ trusted: false }, exists));
    assert.deepEqual([u.command, u.args, u.source], ['python3', ['-m', 'prompt_tokens', 'lsp'], 'python']);
  });
  it('falls back to python3 -m prompt_tokens lsp and says what it tried', () => {
    const c = resolveServerCommand(base({}));
    assert.deepEqual([c.command, c.args, c.source], ['python3', ['-m', 'prompt_tokens', 'lsp'], 'python']);
    assert.ok(c.tried.includes('/ws/.venv/bin/prompt-tokens'));
    const msg = serverFailureMessage(c, 'start', 'spawn python3 ENOENT');
    assert.match(msg, /could not start the language server \(`python3 -m prompt_tokens lsp`: spawn python3 ENOENT\)/);
    assert.match(msg, /pipx install prompt-tokens/);
    assert.match(msg, /promptTokens\.server\.command/);
  });
  it('windows names', () => {
    const c = resolveServerCommand(base({ platform: 'win32', pathEnv: 'C:\\bin' }));
    assert.equal(c.command, 'python');
    const p = path.join('C:\\bin', 'prompt-tokens.exe');
    const d = resolveServerCommand(base({ platform: 'win32', pathEnv: 'C:\\bin' }, [p]));
    assert.equal(d.command, p);
  });
  it('quotes a command line for messages', () => {
    assert.equal(commandLine({ command: '/a b/python', args: ['-m', 'x'] }), "'/a b/python' -m x");
  });
  it('crash message points at the setting when it was set', () => {
    const c = resolveServerCommand(base({ configured: ['/x/python', '-m', 'prompt_tokens', 'lsp'] }));
    assert.match(serverFailureMessage(c, 'crash', '4 times in 3 minutes'), /stopped 4 times in 3 minutes\. Check the setting promptTokens\.server\.command/);
  });
});

describe('statsRows', () => {
  it('total, references sorted by tokens, errors, sections', () => {
    const rows = statsRows(
      {
        uri: 'file:///w/a.prompt',
        state: 'ready',
        encoding: 'cl100k_base',
        budget: 8192,
        tokens: { text: 100, references: 2100, total: 2200 },
        references: [
          { kind: 'variable', target: 'name', tokens: 52, status: 'ok' },
          { kind: 'file', target: 'docs/spec.md', tokens: 2048, status: 'ok' },
          { kind: 'url', target: 'https://x.invalid/', tokens: null, status: 'error', error: 'fetch failed' },
        ],
        sections: [{ title: 'Intro', line: 2, tokens: 40 }],
      },
      0.8,
    );
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
  it('resolves file targets relative to the document', () => {
    assert.equal(resolveTarget('docs/spec.md', '/w/p/a.prompt', '/h'), '/w/p/docs/spec.md');
    assert.equal(resolveTarget('@./n.txt', '/w/a.prompt', '/h'), '/w/n.txt');
    assert.equal(resolveTarget('#file:~/x.md', '/w/a.prompt', '/h'), '/h/x.md');
    assert.equal(resolveTarget('/abs/x.md', '/w/a.prompt', '/h'), '/abs/x.md');
  });
});

describe('package.json', () => {
  // compiled to out/test/*.js: the manifest is two folders up
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require(path.join(__dirname, '..', '..', 'package.json'));
  it('activates for every language the client selects', () => {
    const events: string[] = pkg.activationEvents;
    for (const id of LANGUAGE_IDS) assert.ok(events.includes(`onLanguage:${id}`), id);
  });
  it('every file pattern is a known prompt file', () => {
    assert.deepEqual(FILE_PATTERNS.map((p) => p.replace('**/', '')).sort(), [
      '*.j2', '*.jinja', '*.prompt', '*.prompt.md', '*.prompty', 'AGENTS.md', 'CLAUDE.md',
    ]);
  });
  it('client-only settings are exactly server.* and trace.*', () => {
    const keys = Object.keys(pkg.contributes.configuration.properties);
    const clientOnly = keys.filter((k) => CLIENT_ONLY_KEYS.some((c) => k.startsWith(`promptTokens.${c}.`)));
    assert.deepEqual(clientOnly.sort(), ['promptTokens.server.command', 'promptTokens.trace.server']);
  });
});

describe('startErrorDetail', () => {
  it('shortens the client errors', () => {
    assert.equal(
      startErrorDetail('Launching server using command /x/prompt-tokens failed. Error: spawn /x/prompt-tokens ENOENT'),
      'command not found',
    );
    assert.equal(startErrorDetail('spawn /x EACCES'), 'not executable');
    assert.equal(startErrorDetail('Pending response rejected since connection got disposed'), 'the server exited during start-up; see the output');
    assert.equal(startErrorDetail('something else.'), 'something else');
  });
});
