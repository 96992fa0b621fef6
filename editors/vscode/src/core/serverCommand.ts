// Which command starts the language server, and the messages when it cannot (no `vscode` here).

import * as path from 'path';
import { SECTION } from './settings';

export type CommandSource = 'setting' | 'path' | 'workspace-venv' | 'python';

export interface ServerCommand {
  command: string;
  args: string[];
  source: CommandSource;
  /** Places looked at before settling on this command (for error messages). */
  tried: string[];
}

export interface ResolveInput {
  /** Value of `promptTokens.server.command` (any JSON; only a non-empty string array counts). */
  configured: unknown;
  trusted: boolean;
  workspaceFolders: string[];
  /** $PATH. */
  pathEnv: string | undefined;
  platform: NodeJS.Platform | string;
  home: string;
  /** True when an executable file exists at the absolute path. */
  isExecutable: (p: string) => boolean;
}

export const SERVER_EXE = 'prompt-tokens';

export class InvalidCommandSetting extends Error {}

function expandVars(s: string, folder: string | undefined, home: string): string {
  let out = s;
  if (folder) out = out.split('${workspaceFolder}').join(folder);
  if (out === '~' || out.startsWith('~/')) out = home + out.slice(1);
  return out;
}

/**
 * Which command starts the server:
 *  1. `promptTokens.server.command` when set (`${workspaceFolder}` and `~` expanded);
 *  2. `prompt-tokens` on PATH → `prompt-tokens lsp`;
 *  3. trusted workspaces only: `<folder>/.venv/bin/prompt-tokens` (or `venv/`) → `… lsp`
 *     (an untrusted repository's own binaries are never run);
 *  4. `python3 -m prompt_tokens lsp` (`python` on Windows).
 */
export function resolveServerCommand(input: ResolveInput): ServerCommand {
  const win = input.platform === 'win32';
  const tried: string[] = [];
  const folder = input.workspaceFolders[0];
  if (Array.isArray(input.configured) && input.configured.length > 0) {
    if (!input.configured.every((x) => typeof x === 'string' && x.length > 0)) {
      throw new InvalidCommandSetting(
        `${SECTION}.server.command must be an array of non-empty strings, e.g. ["prompt-tokens", "lsp"]`,
      );
    }
    const parts = (input.configured as string[]).map((x) => expandVars(x, folder, input.home));
    return { command: parts[0], args: parts.slice(1), source: 'setting', tried: [] };
  }
  const exeNames = win ? [`${SERVER_EXE}.exe`, `${SERVER_EXE}.cmd`, SERVER_EXE] : [SERVER_EXE];
  const sep = win ? ';' : ':';
  for (const dir of (input.pathEnv ?? '').split(sep)) {
    if (!dir) continue;
    for (const name of exeNames) {
      const p = path.join(dir, name);
      if (input.isExecutable(p)) return { command: p, args: ['lsp'], source: 'path', tried };
    }
  }
  tried.push(`\`${SERVER_EXE}\` on PATH`);
  if (input.trusted) {
    for (const ws of input.workspaceFolders) {
      for (const venv of ['.venv', 'venv']) {
        const p = win ? path.join(ws, venv, 'Scripts', `${SERVER_EXE}.exe`) : path.join(ws, venv, 'bin', SERVER_EXE);
        if (input.isExecutable(p)) return { command: p, args: ['lsp'], source: 'workspace-venv', tried };
        tried.push(p);
      }
    }
  }
  return { command: win ? 'python' : 'python3', args: ['-m', 'prompt_tokens', 'lsp'], source: 'python', tried };
}

export function commandLine(cmd: { command: string; args: string[] }): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return [cmd.command, ...cmd.args].map(q).join(' ');
}

/** A short reason from the client's start error ("Launching server using command … failed. Error: spawn … ENOENT"). */
export function startErrorDetail(detail: string): string {
  if (/\bENOENT\b/.test(detail)) return 'command not found';
  if (/\bEACCES\b/.test(detail)) return 'not executable';
  if (/connection got disposed|Connection is closed|exited|EPIPE/i.test(detail)) return 'the server exited during start-up; see the output';
  return detail.replace(/\.$/, '');
}

/** Message of the notification shown when the server cannot be started or keeps crashing. */
export function serverFailureMessage(
  cmd: ServerCommand,
  what: 'start' | 'crash',
  detail?: string,
): string {
  const line = commandLine(cmd);
  const head =
    what === 'start'
      ? `Prompt Tokens: could not start the language server (\`${line}\`${detail ? `: ${detail}` : ''}).`
      : `Prompt Tokens: the language server (\`${line}\`) stopped ${detail ?? 'unexpectedly'}.`;
  let fix: string;
  if (cmd.source === 'setting') {
    fix = `Check the setting ${SECTION}.server.command.`;
  } else if (cmd.source === 'python') {
    fix =
      `\`${SERVER_EXE}\` was not found on PATH or in the workspace's .venv. ` +
      `Install it (\`pipx install prompt-tokens\` or \`pip install prompt-tokens\`) ` +
      `or set ${SECTION}.server.command, e.g. ["/path/to/python", "-m", "prompt_tokens", "lsp"].`;
  } else {
    fix = `Reinstall it (\`pip install -U prompt-tokens\`) or set ${SECTION}.server.command.`;
  }
  return `${head} ${fix}`;
}
