// Pure logic of the extension: no `vscode` import here, so it is unit-tested with `node --test`.
//  - status bar text / tooltip / colour level from a `promptTokens/status` notification
//  - the settings object sent to the server (client-only keys dropped, untrusted-mode overrides)
//  - which command starts the server
//  - quick pick rows from `promptTokens.documentStats`

import * as path from 'path';

export const SECTION = 'promptTokens';

// ---- status -------------------------------------------------------------------------------

export interface TokenCounts {
  text: number;
  references: number;
  total: number;
}

export type ServerState = 'counting' | 'ready' | 'error';

/** Params of the `promptTokens/status` notification (and the core of `documentStats`). */
export interface StatusParams {
  uri: string;
  version?: number | null;
  state: ServerState;
  encoding?: string;
  budget?: number | null;
  tokens?: TokenCounts | null;
  pendingReferences?: number;
  /** Optional explanation when `state` is "error" (not required by the protocol). */
  error?: string | null;
  message?: string | null;
}

export type Level = 'ok' | 'warning' | 'exceeded';

export interface StatusView {
  /** Status bar text, with `$(codicon)` syntax. */
  text: string;
  /** Markdown tooltip. */
  tooltip: string;
  /** Drives the background colour: warning → statusBarItem.warningBackground, exceeded/error → errorBackground. */
  level: Level | 'error';
  spinning: boolean;
}

/** 1234567 → "1,234,567" (locale-independent, like the server's labels). */
export function formatInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? '-' : '';
  const digits = String(Math.trunc(Math.abs(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Whole percent of the budget, rounded half up: 7012/8192 → 86. */
export function percentOf(total: number, budget: number | null | undefined): number | undefined {
  if (budget == null || !(budget > 0)) return undefined;
  return Math.floor((total * 100) / budget + 0.5);
}

/** SPEC: exceeded when total > budget, warning when total >= warningRatio * budget, else ok. */
export function budgetLevel(total: number, budget: number | null | undefined, warningRatio: number): Level {
  if (budget == null || !(budget > 0)) return 'ok';
  if (total > budget) return 'exceeded';
  if (total >= warningRatio * budget) return 'warning';
  return 'ok';
}

/** "1,234 / 8,192 (15%)" or "1,234 tokens" without a budget. */
export function formatTotal(tokens: TokenCounts, budget: number | null | undefined): string {
  const pct = percentOf(tokens.total, budget);
  if (pct === undefined || budget == null) return `${formatInt(tokens.total)} tokens`;
  return `${formatInt(tokens.total)} / ${formatInt(budget)} (${pct}%)`;
}

function mdEscape(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => '\\' + c);
}

export interface StatusViewOptions {
  warningRatio: number;
  /** Last status of the same document, used for numbers while a new count is running. */
  previous?: StatusParams;
  /** Shown as the tooltip title (e.g. the file's base name). */
  fileName?: string;
}

export function statusView(status: StatusParams, opts: StatusViewOptions): StatusView {
  // a first "counting" notification carries zeros and budget 0: no numbers yet
  const noNumbersYet = status.state === 'counting' && !(status.budget != null && status.budget > 0);
  const tokens = (noNumbersYet ? null : status.tokens) ?? opts.previous?.tokens ?? null;
  const budget = (status.budget != null && status.budget > 0 ? status.budget : null) ?? opts.previous?.budget ?? null;
  const encoding = status.encoding ?? opts.previous?.encoding;
  const title = `**Prompt tokens**${opts.fileName ? ` — ${mdEscape(opts.fileName)}` : ''}`;

  if (status.state === 'error') {
    const why = status.error ?? status.message ?? 'the server could not count this document';
    return {
      text: '$(error) tokens: error',
      tooltip: `${title}\n\n$(error) ${mdEscape(String(why))}\n\nSee the "Prompt Tokens" output for details.`,
      level: 'error',
      spinning: false,
    };
  }

  const spinning = status.state === 'counting';
  const icon = spinning ? '$(sync~spin)' : '$(symbol-numeric)';
  if (!tokens) {
    return {
      text: `${icon} counting…`,
      tooltip: `${title}\n\ncounting…`,
      level: 'ok',
      spinning,
    };
  }
  const level = budgetLevel(tokens.total, budget, opts.warningRatio);
  const rows = [
    '| | tokens |',
    '|:--|--:|',
    `| text | ${formatInt(tokens.text)} |`,
    `| references | ${formatInt(tokens.references)} |`,
    `| **total** | **${formatInt(tokens.total)}** |`,
  ];
  if (budget != null) {
    rows.push(`| budget | ${formatInt(budget)} (${percentOf(tokens.total, budget)}% used) |`);
  }
  const notes: string[] = [];
  if (encoding) notes.push(`encoding \`${encoding}\``);
  const pending = status.pendingReferences ?? 0;
  if (pending > 0) notes.push(`${pending} reference${pending === 1 ? '' : 's'} still counting`);
  if (level === 'exceeded') notes.push('$(error) over budget');
  else if (level === 'warning') notes.push(`$(warning) over ${Math.round(opts.warningRatio * 100)}% of the budget`);
  const tooltip = [title, rows.join('\n'), notes.join(' · '), '_Click for per-reference counts._']
    .filter((s) => s.length > 0)
    .join('\n\n');
  return { text: `${icon} ${formatTotal(tokens, budget)}`, tooltip, level, spinning };
}

// ---- settings -----------------------------------------------------------------------------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** Keys of the `promptTokens` section that only the extension uses (never sent to the server). */
export const CLIENT_ONLY_KEYS = ['server', 'trace'] as const;

export interface ShapedSettings {
  settings: JsonObject;
  /** Dotted keys whose value was forced because the workspace is untrusted. */
  forced: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toJson(v: unknown): Json | undefined {
  if (v === null) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (Array.isArray(v)) return v.map((x) => toJson(x)).filter((x): x is Json => x !== undefined);
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) {
      const j = toJson(x);
      if (j !== undefined) out[k] = j;
    }
    return out;
  }
  return undefined; // functions (WorkspaceConfiguration.get …), undefined
}

function section(obj: JsonObject, key: string): JsonObject {
  const cur = obj[key];
  if (isObject(cur)) return cur as JsonObject;
  const fresh: JsonObject = {};
  obj[key] = fresh;
  return fresh;
}

/**
 * The `promptTokens` settings object sent to the server (initializationOptions,
 * didChangeConfiguration and workspace/configuration answers).
 *
 * - client-only keys (`server`, `trace`) are dropped;
 * - "unset" values are dropped so the server applies its own default: `model: ""`,
 *   `budget: null`, `cache.path: ""` (while `cache.path: null` means "no persistence" and is kept);
 * - untrusted workspace (SPEC "Trust"): `http.enabled: false`, `references.allowOutsideWorkspace: false`.
 */
export function shapeSettings(raw: unknown, trusted: boolean): ShapedSettings {
  const j = toJson(raw);
  const settings: JsonObject = isObject(j) ? (j as JsonObject) : {};
  for (const k of CLIENT_ONLY_KEYS) delete settings[k];
  if (settings.model === '' || settings.model === null || (typeof settings.model === 'string' && !settings.model.trim())) {
    delete settings.model;
  }
  if (settings.budget === null) delete settings.budget;
  if (isObject(settings.cache) && (settings.cache as JsonObject).path === '') {
    delete (settings.cache as JsonObject).path;
  }
  const forced: string[] = [];
  if (!trusted) {
    section(settings, 'http').enabled = false;
    section(settings, 'references').allowOutsideWorkspace = false;
    forced.push('http.enabled', 'references.allowOutsideWorkspace');
  }
  return { settings, forced };
}

/** The part of the shaped settings asked for by a workspace/configuration item section. */
export function configurationFor(sectionName: string | undefined, settings: JsonObject): Json | undefined {
  if (!sectionName || sectionName === SECTION) return settings;
  if (!sectionName.startsWith(SECTION + '.')) return undefined;
  let cur: Json | undefined = settings;
  for (const part of sectionName.slice(SECTION.length + 1).split('.')) {
    if (!isObject(cur)) return null;
    cur = (cur as JsonObject)[part];
  }
  return cur === undefined ? null : cur;
}

// ---- server command -----------------------------------------------------------------------

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

// ---- documentStats quick pick -------------------------------------------------------------

export interface ReferenceStat {
  kind: string;
  target: string;
  tokens: number | null;
  status: string;
  error?: string | null;
}

export interface SectionStat {
  title?: string;
  heading?: string;
  name?: string;
  line?: number;
  tokens?: number;
}

export interface DocumentStats extends StatusParams {
  references?: ReferenceStat[];
  sections?: SectionStat[];
  /** The server's own budget verdict, when it sends one. */
  status?: string | null;
  model?: string | null;
}

export interface PickRow {
  label: string;
  description?: string;
  detail?: string;
  separator?: boolean;
  /** For file references: the target as written (resolved by the caller). */
  target?: string;
  kind?: string;
  /** For sections: the 0-based line. */
  line?: number;
}

const KIND_ICON: Record<string, string> = {
  file: '$(file)',
  url: '$(globe)',
  variable: '$(symbol-variable)',
};

export function statsRows(stats: DocumentStats, warningRatio: number): PickRow[] {
  const rows: PickRow[] = [];
  const t = stats.tokens;
  if (t) {
    const level =
      stats.status === 'ok' || stats.status === 'warning' || stats.status === 'exceeded'
        ? stats.status
        : budgetLevel(t.total, stats.budget, warningRatio);
    const icon = level === 'exceeded' ? '$(error)' : level === 'warning' ? '$(warning)' : '$(symbol-numeric)';
    rows.push({
      label: `${icon} Total ${formatTotal(t, stats.budget)}`,
      description: `text ${formatInt(t.text)} + references ${formatInt(t.references)}`,
      detail: [stats.model ? `model ${stats.model}` : '', stats.encoding ? `encoding ${stats.encoding}` : '', stats.state !== 'ready' ? stats.state : '']
        .filter(Boolean)
        .join(' · ') || undefined,
    });
  } else {
    rows.push({ label: `$(sync~spin) ${stats.state === 'error' ? 'error' : 'counting…'}` });
  }
  const refs = stats.references ?? [];
  rows.push({ label: `References (${refs.length})`, separator: true });
  if (refs.length === 0) rows.push({ label: '$(info) no references' });
  const sorted = [...refs].sort((a, b) => (b.tokens ?? -1) - (a.tokens ?? -1));
  for (const r of sorted) {
    const failed = r.status !== 'ok';
    const icon = failed ? '$(warning)' : (KIND_ICON[r.kind] ?? '$(link)');
    rows.push({
      label: `${icon} ${r.target}`,
      description:
        r.tokens == null ? (r.status === 'pending' ? '…' : r.status) : `+${formatInt(r.tokens)} tokens`,
      detail: failed ? (r.error ?? r.status) || undefined : r.kind,
      target: r.target,
      kind: r.kind,
    });
  }
  const secs = stats.sections ?? [];
  if (secs.length > 0) {
    rows.push({ label: `Sections (${secs.length})`, separator: true });
    for (const s of secs) {
      const name = s.title ?? s.heading ?? s.name ?? (s.line != null ? `line ${s.line + 1}` : 'section');
      rows.push({
        label: `$(symbol-key) ${name}`,
        description: s.tokens != null ? `${formatInt(s.tokens)} tokens` : undefined,
        line: s.line,
      });
    }
  }
  return rows;
}

/** Absolute path of a file reference's target, relative to the document's folder. */
export function resolveTarget(target: string, documentPath: string, home: string): string {
  let t = target.replace(/^#file:/, '').replace(/^@/, '');
  if (t === '~' || t.startsWith('~/')) t = home + t.slice(1);
  return path.isAbsolute(t) ? t : path.resolve(path.dirname(documentPath), t);
}

// ---- document selection -------------------------------------------------------------------

/** Language ids the server is started for (plus the file patterns in FILE_PATTERNS). */
export const LANGUAGE_IDS = [
  'markdown',
  'plaintext',
  'prompt', // VS Code's own *.prompt.md language
  'instructions',
  'chatmode',
  'prompt-template', // contributed by this extension: *.prompt, *.prompty, *.jinja, *.j2
  'prompty',
  'jinja',
  'jinja-md',
];

export const FILE_PATTERNS = [
  '**/*.prompt',
  '**/*.prompty',
  '**/*.prompt.md',
  '**/*.jinja',
  '**/*.j2',
  '**/CLAUDE.md',
  '**/AGENTS.md',
];
