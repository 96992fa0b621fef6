// The status bar item of the active prompt: the last `promptTokens/status` of each document,
// shown as core/status.ts formats it, or "server not running" with a restart on click.
import * as path from 'path';
import * as vscode from 'vscode';
import { PALETTE_COMMANDS } from './core/commandIds';
import { mergeStatus, StatusParams, statusView, StatusView } from './core/status';

const BACKGROUND: Partial<Record<StatusView['level'], string>> = {
  warning: 'statusBarItem.warningBackground',
  exceeded: 'statusBarItem.errorBackground',
  error: 'statusBarItem.errorBackground',
};

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly statuses = new Map<string, StatusParams>();
  /** Why the server is not running (undefined while it is, or while it starts). */
  private failure: string | undefined;
  private running = false;

  constructor(private readonly selector: vscode.DocumentSelector) {
    this.item = vscode.window.createStatusBarItem('promptTokens.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Prompt Tokens';
  }

  /** A status notification for the document `key` (a vscode.Uri string). */
  update(key: string, params: StatusParams): void {
    this.statuses.set(key, mergeStatus(this.statuses.get(key), params));
    if (vscode.window.activeTextEditor?.document.uri.toString() === key) this.render();
  }

  forget(key: string): void {
    this.statuses.delete(key);
  }

  /** The server (re)starts: old numbers belong to the old process. */
  reset(): void {
    this.statuses.clear();
    this.failure = undefined;
    this.running = true;
    this.render();
  }

  setFailure(message: string | undefined): void {
    this.failure = message;
    this.running = message === undefined;
    this.render();
  }

  render(): void {
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc || vscode.languages.match(this.selector, doc) === 0) {
      this.item.hide();
      return;
    }
    if (this.failure !== undefined || !this.running) {
      this.item.text = '$(error) tokens: server not running';
      this.item.tooltip = new vscode.MarkdownString(
        `${this.failure ?? 'The prompt-tokens server is not running.'}\n\nClick to restart it.`,
      );
      this.item.command = PALETTE_COMMANDS.restartServer;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      this.item.show();
      return;
    }
    const key = doc.uri.toString();
    const view = statusView(this.statuses.get(key) ?? { uri: key, state: 'counting' }, {
      fileName: path.basename(doc.uri.path),
    });
    this.item.text = view.text;
    const md = new vscode.MarkdownString(view.tooltip, true);
    md.isTrusted = false;
    this.item.tooltip = md;
    this.item.command = PALETTE_COMMANDS.showStats;
    const bg = BACKGROUND[view.level];
    this.item.backgroundColor = bg ? new vscode.ThemeColor(bg) : undefined;
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
  }
}
