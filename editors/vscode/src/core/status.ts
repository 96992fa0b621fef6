// What the status bar shows for a `promptTokens/status` notification. The server decides the
// budget verdict (`status`) and the rounded `percent` from the document's effective settings
// (front matter, .prompt-tokens.toml): the client only displays them, so its colour can never
// disagree with the server's diagnostic. An older server that omits them gets the counts
// without colour or percent, never a guess.

import { formatInt, mdEscape } from './format';

export interface TokenCounts {
  text: number;
  references: number;
  total: number;
}

export type ServerState = 'counting' | 'ready' | 'error';
export type BudgetStatus = 'ok' | 'warning' | 'exceeded';

/** Params of the `promptTokens/status` notification (and the core of `documentStats`). */
export interface StatusParams {
  uri: string;
  version?: number | null;
  state: ServerState;
  encoding?: string;
  budget?: number | null;
  tokens?: TokenCounts | null;
  pendingReferences?: number;
  /** The server's budget verdict; absent from older servers. */
  status?: BudgetStatus | string | null;
  /** Whole percent of the budget as the server rounded it; absent from older servers. */
  percent?: number | null;
  /** false: the counts are estimates (no local tokenizer for the model). Absent: exact. */
  exact?: boolean | null;
  /** How an estimate was made (e.g. "chars/4"), when `exact` is false. */
  method?: string | null;
  /** Optional explanation when `state` is "error" (not required by the protocol). */
  error?: string | null;
  message?: string | null;
}

export interface StatusView {
  /** Status bar text, with `$(codicon)` syntax. */
  text: string;
  /** Markdown tooltip. */
  tooltip: string;
  /** Background colour: warning → warningBackground, exceeded/error → errorBackground, none → default. */
  level: BudgetStatus | 'error' | 'none';
  spinning: boolean;
}

/** The server's verdict, when it sent a known one. */
export function budgetStatus(s: Pick<StatusParams, 'status'>): BudgetStatus | undefined {
  return s.status === 'ok' || s.status === 'warning' || s.status === 'exceeded' ? s.status : undefined;
}

/** The server's percent, when it sent one (shown as is: rounding is the server's job). */
export function serverPercent(s: Pick<StatusParams, 'percent'>): number | undefined {
  return typeof s.percent === 'number' && Number.isFinite(s.percent) ? s.percent : undefined;
}

export function isEstimate(s: Pick<StatusParams, 'exact'>): boolean {
  return s.exact === false;
}

/** "≈ " before every number of an estimate (SPEC: an estimate is marked wherever it is shown). */
function approx(estimate: boolean): string {
  return estimate ? '≈ ' : '';
}

/** "1,234 / 8,192 (15%)", "1,234 / 8,192" (no percent from the server) or "1,234 tokens" (no budget). */
export function formatTotal(
  tokens: TokenCounts,
  budget: number | null | undefined,
  percent: number | undefined,
  estimate: boolean,
): string {
  const total = approx(estimate) + formatInt(tokens.total);
  if (budget == null || !(budget > 0)) return `${total} tokens`;
  return percent === undefined ? `${total} / ${formatInt(budget)}` : `${total} / ${formatInt(budget)} (${percent}%)`;
}

function validBudget(b: number | null | undefined): number | null {
  return b != null && b > 0 ? b : null;
}

/** A first "counting" notification carries zeros and budget 0: it has no numbers yet. */
function hasNumbers(s: StatusParams): boolean {
  return !!s.tokens && !(s.state === 'counting' && validBudget(s.budget) === null);
}

/**
 * The status to keep for a document when `next` arrives: while a new count has no numbers yet,
 * the last known numbers (and the server's verdict on them) stay on screen.
 */
export function mergeStatus(prev: StatusParams | undefined, next: StatusParams): StatusParams {
  if (hasNumbers(next) || !prev || !hasNumbers(prev)) return { ...next };
  const { tokens, budget, status, percent, exact, method } = prev;
  return { ...next, tokens, budget, status, percent, exact, method };
}

function tooltipTable(s: StatusParams, tokens: TokenCounts, budget: number | null): string {
  const a = approx(isEstimate(s));
  const pct = serverPercent(s);
  const rows = [
    '| | tokens |',
    '|:--|--:|',
    `| text | ${a}${formatInt(tokens.text)} |`,
    `| references | ${a}${formatInt(tokens.references)} |`,
    `| **total** | **${a}${formatInt(tokens.total)}** |`,
  ];
  if (budget != null) rows.push(`| budget | ${formatInt(budget)}${pct === undefined ? '' : ` (${pct}% used)`} |`);
  return rows.join('\n');
}

function tooltipNotes(s: StatusParams): string {
  const notes: string[] = [];
  if (isEstimate(s)) notes.push(`$(info) estimate${s.method ? ` (${mdEscape(s.method)})` : ''}, not an exact count`);
  if (s.encoding) notes.push(`encoding \`${s.encoding}\``);
  const pending = s.pendingReferences ?? 0;
  if (pending > 0) notes.push(`${pending} reference${pending === 1 ? '' : 's'} still counting`);
  const verdict = budgetStatus(s);
  if (verdict === 'exceeded') notes.push('$(error) over budget');
  else if (verdict === 'warning') notes.push('$(warning) near the budget');
  return notes.join(' · ');
}

export function statusView(s: StatusParams, opts: { fileName?: string } = {}): StatusView {
  const title = `**Prompt tokens**${opts.fileName ? ` — ${mdEscape(opts.fileName)}` : ''}`;
  if (s.state === 'error') {
    const why = s.error ?? s.message ?? 'the server could not count this document';
    return {
      text: '$(error) tokens: error',
      tooltip: `${title}\n\n$(error) ${mdEscape(String(why))}\n\nSee the "Prompt Tokens" output for details.`,
      level: 'error',
      spinning: false,
    };
  }
  const spinning = s.state === 'counting';
  const icon = spinning ? '$(sync~spin)' : '$(symbol-numeric)';
  if (!hasNumbers(s) || !s.tokens) {
    return { text: `${icon} counting…`, tooltip: `${title}\n\ncounting…`, level: 'none', spinning };
  }
  const budget = validBudget(s.budget);
  const tooltip = [title, tooltipTable(s, s.tokens, budget), tooltipNotes(s), '_Click for per-reference counts._']
    .filter((x) => x.length > 0)
    .join('\n\n');
  return {
    text: `${icon} ${formatTotal(s.tokens, budget, serverPercent(s), isEstimate(s))}`,
    tooltip,
    level: budgetStatus(s) ?? 'none',
    spinning,
  };
}
