// The extension's palette commands: friendlier faces for the server's commands (SPEC
// `workspace/executeCommand`), which the language client registers under their own ids.
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { SERVER_COMMANDS } from './core/commandIds';
import { formatInt } from './core/format';
import { DocumentStats, PickRow, resolveTarget, statsRows } from './core/stats';

/** Runs a server command; undefined when the server is not running or the command failed (already reported). */
export type RunServerCommand = <T>(command: string, args?: unknown[]) => Promise<T | undefined>;

/** Converts a document's URI to the server's form (the client's protocol converter, when running). */
export type ToWireUri = (uri: vscode.Uri) => string;

async function openRow(row: PickRow, uri: vscode.Uri): Promise<void> {
  if (row.kind === 'file' && row.target && uri.scheme === 'file') {
    const target = resolveTarget(row.target, uri.fsPath, os.homedir());
    try {
      await vscode.window.showTextDocument(vscode.Uri.file(target), { preview: true });
    } catch {
      vscode.window.showWarningMessage(`Prompt Tokens: cannot open ${target}`);
    }
  } else if (row.kind === 'url' && row.target) {
    const url = row.target.replace(/^@/, '').replace(/^#fetch:/, '');
    if (/^https?:\/\//.test(url)) vscode.env.openExternal(vscode.Uri.parse(url));
  } else if (row.line != null) {
    const editor = await vscode.window.showTextDocument(uri);
    const pos = new vscode.Position(row.line, 0);
    editor.selection = new vscode.Selection(pos, pos);
    editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.InCenter);
  }
}

/** Per-reference counts of a prompt in a quick pick; picking a row opens the file, URL or section. */
export async function showStats(run: RunServerCommand, toWire: ToWireUri, arg?: vscode.Uri | string): Promise<void> {
  const uri = typeof arg === 'string' ? vscode.Uri.parse(arg) : (arg ?? vscode.window.activeTextEditor?.document.uri);
  if (!uri) {
    vscode.window.showInformationMessage('Prompt Tokens: open a prompt file first.');
    return;
  }
  const stats = await run<DocumentStats>(SERVER_COMMANDS.documentStats, [toWire(uri)]);
  if (!stats) return;
  type Item = vscode.QuickPickItem & { row: PickRow };
  const items: Item[] = statsRows(stats).map((row) => ({
    label: row.label,
    description: row.description,
    detail: row.detail,
    kind: row.separator ? vscode.QuickPickItemKind.Separator : vscode.QuickPickItemKind.Default,
    row,
  }));
  const pick = await vscode.window.showQuickPick(items, {
    title: `Prompt tokens — ${path.basename(uri.path)}`,
    placeHolder: 'Per-reference token counts (pick a file reference to open it)',
    matchOnDescription: true,
    matchOnDetail: true,
  });
  if (pick) await openRow(pick.row, uri);
}

/** The server's queue/worker state and cache figures, as JSON in an output channel. */
export async function showJobs(run: RunServerCommand, channel: vscode.OutputChannel): Promise<void> {
  const jobs = await run<unknown>(SERVER_COMMANDS.jobs);
  if (jobs === undefined) return;
  channel.clear();
  channel.appendLine(JSON.stringify(jobs, null, 2));
  channel.show(true);
}

export async function clearCache(run: RunServerCommand): Promise<void> {
  const res = await run<unknown>(SERVER_COMMANDS.clearCache);
  if (res === undefined) return;
  const n = res && typeof res === 'object' ? (res as { cleared?: unknown }).cleared : undefined;
  const detail = typeof n === 'number' ? ` (${formatInt(n)} entr${n === 1 ? 'y' : 'ies'})` : '';
  vscode.window.showInformationMessage(`Prompt Tokens: cache cleared${detail}.`);
}
