import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  commandLine,
  InvalidCommandSetting,
  resolveServerCommand,
  ResolveInput,
  serverFailureMessage,
  startErrorDetail,
} from '../src/core/serverCommand';

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
    assert.match(
      serverFailureMessage(c, 'crash', 'repeatedly and is not restarted'),
      /stopped repeatedly and is not restarted\. Check the setting promptTokens\.server\.command/,
    );
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
