// Quick pick rows for `promptTokens.documentStats` (no `vscode` here).

import * as path from 'path';
import { formatInt } from './format';
import { budgetStatus, formatTotal, isEstimate, serverPercent, StatusParams } from './status';

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

const VERDICT_ICON: Record<string, string> = { exceeded: '$(error)', warning: '$(warning)' };

function totalRow(stats: DocumentStats): PickRow {
  const t = stats.tokens;
  if (!t) return { label: `$(sync~spin) ${stats.state === 'error' ? 'error' : 'counting…'}` };
  const estimate = isEstimate(stats);
  const a = estimate ? '≈ ' : '';
  const icon = VERDICT_ICON[budgetStatus(stats) ?? ''] ?? '$(symbol-numeric)';
  const detail = [
    stats.model ? `model ${stats.model}` : '',
    stats.encoding ? `encoding ${stats.encoding}` : '',
    estimate ? `estimate${stats.method ? ` (${stats.method})` : ''}` : '',
    stats.state !== 'ready' ? stats.state : '',
  ].filter(Boolean);
  return {
    label: `${icon} Total ${formatTotal(t, stats.budget, serverPercent(stats), estimate)}`,
    description: `text ${a}${formatInt(t.text)} + references ${a}${formatInt(t.references)}`,
    detail: detail.join(' · ') || undefined,
  };
}

function referenceRows(refs: ReferenceStat[], estimate: boolean): PickRow[] {
  const rows: PickRow[] = [{ label: `References (${refs.length})`, separator: true }];
  if (refs.length === 0) rows.push({ label: '$(info) no references' });
  const sorted = [...refs].sort((a, b) => (b.tokens ?? -1) - (a.tokens ?? -1));
  for (const r of sorted) {
    const failed = r.status !== 'ok';
    const icon = failed ? '$(warning)' : (KIND_ICON[r.kind] ?? '$(link)');
    rows.push({
      label: `${icon} ${r.target}`,
      description:
        r.tokens == null ? (r.status === 'pending' ? '…' : r.status) : `${estimate ? '≈ ' : ''}+${formatInt(r.tokens)} tokens`,
      detail: failed ? (r.error ?? r.status) || undefined : r.kind,
      target: r.target,
      kind: r.kind,
    });
  }
  return rows;
}

function sectionRows(secs: SectionStat[], estimate: boolean): PickRow[] {
  if (secs.length === 0) return [];
  const rows: PickRow[] = [{ label: `Sections (${secs.length})`, separator: true }];
  for (const s of secs) {
    const name = s.title ?? s.heading ?? s.name ?? (s.line != null ? `line ${s.line + 1}` : 'section');
    rows.push({
      label: `$(symbol-key) ${name}`,
      description: s.tokens != null ? `${estimate ? '≈ ' : ''}${formatInt(s.tokens)} tokens` : undefined,
      line: s.line,
    });
  }
  return rows;
}

/** Rows of the per-reference quick pick: the total (with the server's verdict), references by size, sections. */
export function statsRows(stats: DocumentStats): PickRow[] {
  return [totalRow(stats), ...referenceRows(stats.references ?? [], isEstimate(stats)), ...sectionRows(stats.sections ?? [], isEstimate(stats))];
}

/** Absolute path of a file reference's target, relative to the document's folder. */
export function resolveTarget(target: string, documentPath: string, home: string): string {
  let t = target.replace(/^#file:/, '').replace(/^@/, '');
  if (t === '~' || t.startsWith('~/')) t = home + t.slice(1);
  return path.isAbsolute(t) ? t : path.resolve(path.dirname(documentPath), t);
}
