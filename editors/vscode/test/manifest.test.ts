import { strict as assert } from 'node:assert';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { PALETTE_COMMANDS, SERVER_COMMANDS } from '../src/core/commandIds';
import { FILE_PATTERNS, LANGUAGE_IDS } from '../src/core/documents';
import { CLIENT_ONLY_KEYS } from '../src/core/settings';

describe('package.json', () => {
  // compiled to out/test/*.js: the manifest is two folders up
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const pkg = require(path.join(__dirname, '..', '..', 'package.json'));
  it('activates for every language the client selects', () => {
    const events: string[] = pkg.activationEvents;
    for (const id of LANGUAGE_IDS) assert.ok(events.includes(`onLanguage:${id}`), id);
  });
  it('every file pattern is a recursive glob', () => {
    for (const p of FILE_PATTERNS) assert.match(p, /^\*\*\//, p);
  });
  it('client-only settings are exactly server.* and trace.*', () => {
    const keys = Object.keys(pkg.contributes.configuration.properties);
    const clientOnly = keys.filter((k) => CLIENT_ONLY_KEYS.some((c) => k.startsWith(`promptTokens.${c}.`)));
    assert.deepEqual(clientOnly.sort(), ['promptTokens.server.command', 'promptTokens.trace.server']);
  });
  it('contributes the palette commands, none with a server command id', () => {
    const contributed = pkg.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepEqual(contributed, Object.values(PALETTE_COMMANDS).sort());
    const server: string[] = Object.values(SERVER_COMMANDS);
    for (const id of contributed) assert.ok(!server.includes(id), id);
  });
  it('vsce package builds the bundle first', () => {
    assert.match(pkg.scripts['vscode:prepublish'], /build/);
    assert.equal(pkg.main, './dist/extension.js');
  });
});
