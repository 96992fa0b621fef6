// VS Code client of the prompt-tokens language server.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  CloseAction,
  DidChangeConfigurationNotification,
  DocumentSelector,
  ErrorAction,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
  StaticFeature,
  DynamicFeature,
} from 'vscode-languageclient/node';
import { ExecuteCommandFeature } from 'vscode-languageclient/lib/common/executeCommand';
import * as logic from './logic';

const CLIENT_ID = 'promptTokens';
const CLIENT_NAME = 'Prompt Tokens';
const STATUS_NOTIFICATION = 'promptTokens/status';
const MAX_CRASHES = 3;
const CRASH_WINDOW_MS = 3 * 60 * 1000;

/**
 * The server's `workspace/executeCommand` commands (promptTokens.clearCache …) must not be
 * registered as VS Code commands by the language client: this extension registers its own
 * commands with friendlier UIs, and VS Code refuses a command id registered twice.
 */
class PassiveExecuteCommandFeature extends ExecuteCommandFeature {
  override initialize(): void {}
  override register(): void {}
}

class PromptTokensClient extends LanguageClient {
  /** Start failures get this extension's own notification (with the fix), not a second one. */
  override error(message: string, data?: unknown, showNotification?: boolean | 'force'): void {
    const ours = /couldn't create connection to server/.test(message);
    super.error(message, data, ours ? false : showNotification);
  }

  override registerFeature(feature: StaticFeature | DynamicFeature<unknown>): void {
    if (feature instanceof ExecuteCommandFeature && !(feature instanceof PassiveExecuteCommandFeature)) {
      super.registerFeature(new PassiveExecuteCommandFeature(this));
      return;
    }
    super.registerFeature(feature);
  }
}

function isExecutable(p: string): boolean {
  try {
    const st = fs.statSync(p);
    if (!st.isFile()) return false;
    if (process.platform === 'win32') return true;
    fs.accessSync(p, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function documentSelector(): DocumentSelector {
  const sel: DocumentSelector = [];
  for (const language of logic.LANGUAGE_IDS) {
    sel.push({ scheme: 'file', language }, { scheme: 'untitled', language });
  }
  for (const pattern of logic.FILE_PATTERNS) sel.push({ scheme: 'file', pattern });
  return sel;
}

class Controller implements vscode.Disposable {
  private client: PromptTokensClient | undefined;
  private command: logic.ServerCommand | undefined;
  private readonly output: vscode.OutputChannel;
  private readonly jobsOutput: vscode.OutputChannel;
  private readonly item: vscode.StatusBarItem;
  private readonly statuses = new Map<string, logic.StatusParams>();
  private readonly disposables: vscode.Disposable[] = [];
  private readonly selector = documentSelector();
  private crashes: number[] = [];
  private failed: string | undefined;
  /** Starts, stops and restarts run one after the other. */
  private queue: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(private readonly context: vscode.ExtensionContext) {
    this.output = vscode.window.createOutputChannel(CLIENT_NAME);
    this.jobsOutput = vscode.window.createOutputChannel(`${CLIENT_NAME}: Jobs`, 'json');
    this.item = vscode.window.createStatusBarItem('promptTokens.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = CLIENT_NAME;
    this.item.command = 'promptTokens.showStats';
    this.disposables.push(
      this.output,
      this.jobsOutput,
      this.item,
      vscode.commands.registerCommand('promptTokens.showStats', (uri?: vscode.Uri | string) => this.showStats(uri)),
      vscode.commands.registerCommand('promptTokens.showJobs', () => this.showJobs()),
      vscode.commands.registerCommand('promptTokens.clearCache', () => this.clearCache()),
      vscode.commands.registerCommand('promptTokens.restartServer', () => this.restart(true)),
      vscode.window.onDidChangeActiveTextEditor(() => this.render()),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        this.statuses.delete(doc.uri.toString());
      }),
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigurationChanged(e)),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.onTrustGranted()),
    );
  }

  // ---- settings ---------------------------------------------------------------------------

  private shapedSettings(scope?: vscode.Uri): logic.ShapedSettings {
    const raw = vscode.workspace.getConfiguration(logic.SECTION, scope ?? null);
    return logic.shapeSettings(raw, vscode.workspace.isTrusted);
  }

  private warningRatio(): number {
    const v = vscode.workspace.getConfiguration(logic.SECTION).get<number>('warningRatio', 0.8);
    return typeof v === 'number' && v > 0 && v <= 1 ? v : 0.8;
  }

  /**
   * workspace/didChangeConfiguration with the shaped settings. The language client's own
   * configuration sync (synchronize.configurationSection, or the server's dynamic registration)
   * would send the raw section — client-only keys and, in an untrusted workspace, the real
   * http.enabled — so its sends are routed here by middleware.
   */
  private async sendSettings(client: LanguageClient | undefined = this.client): Promise<void> {
    if (!client || client !== this.client || this.stopping) return;
    if (client.state !== State.Running && client.state !== State.Starting) return;
    const { settings } = this.shapedSettings();
    try {
      await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { [logic.SECTION]: settings } });
    } catch (e) {
      // a client being stopped or replaced meanwhile gets its settings at the next start
      if (client === this.client && client.state === State.Running) this.log(`didChangeConfiguration failed: ${String(e)}`);
    }
  }

  private onConfigurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (!e.affectsConfiguration(logic.SECTION)) return;
    if (e.affectsConfiguration(`${logic.SECTION}.server`)) {
      this.restart(false, 'promptTokens.server.command changed');
      return;
    }
    // the settings themselves reach the server through the client's configuration sync
    this.render();
  }

  private onTrustGranted(): void {
    this.log('workspace trusted: re-sending settings (URL fetching and outside files as configured)');
    // a restart (new command from the now-honoured workspace settings) sends them anyway
    this.restart(false, 'workspace trusted').then((restarted) => {
      if (!restarted) this.sendSettings();
    });
  }

  // ---- server lifecycle -------------------------------------------------------------------

  private log(msg: string): void {
    this.output.appendLine(`[client ${new Date().toISOString()}] ${msg}`);
  }

  private resolveCommand(): logic.ServerCommand | undefined {
    const cfg = vscode.workspace.getConfiguration(logic.SECTION);
    try {
      return logic.resolveServerCommand({
        configured: cfg.get('server.command'),
        trusted: vscode.workspace.isTrusted,
        workspaceFolders: (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath),
        pathEnv: process.env.PATH,
        platform: process.platform,
        home: os.homedir(),
        isExecutable,
      });
    } catch (e) {
      if (e instanceof logic.InvalidCommandSetting) {
        this.fail(`Prompt Tokens: ${e.message}.`, true);
        return undefined;
      }
      throw e;
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.then(
      () => undefined,
      (e: unknown) => this.log(`error: ${e instanceof Error ? e.stack ?? e.message : String(e)}`),
    );
    return run;
  }

  start(): Promise<void> {
    return this.enqueue(() => this.doStart());
  }

  private async doStart(): Promise<void> {
    this.failed = undefined;
    const cmd = this.resolveCommand();
    if (!cmd) return;
    this.command = cmd;
    const trusted = vscode.workspace.isTrusted;
    const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath;
    // In an untrusted workspace nothing of the workspace may end up on the server's import path.
    const cwd = trusted && folder ? folder : this.context.extensionPath;
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (!trusted) env.PYTHONSAFEPATH = '1';
    const serverOptions: ServerOptions = { command: cmd.command, args: cmd.args, options: { cwd, env } };
    this.log(`starting ${logic.commandLine(cmd)} (from ${cmd.source}; cwd ${cwd}; workspace ${trusted ? 'trusted' : 'untrusted'})`);

    const clientOptions: LanguageClientOptions = {
      documentSelector: this.selector,
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => this.shapedSettings().settings,
      markdown: { isTrusted: false, supportHtml: false },
      synchronize: { configurationSection: logic.SECTION },
      middleware: {
        workspace: {
          didChangeConfiguration: () => this.sendSettings(client),
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            if (!Array.isArray(answer)) return answer;
            return params.items.map((item, i) => {
              if (item.section && item.section !== logic.SECTION && !item.section.startsWith(logic.SECTION + '.')) {
                return answer[i];
              }
              const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
              return logic.configurationFor(item.section, this.shapedSettings(scope).settings) ?? null;
            });
          },
        },
      },
      errorHandler: {
        error: (_error, _message, count) => ({
          action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
          handled: true,
        }),
        closed: () => {
          if (this.stopping || this.client !== client) return { action: CloseAction.DoNotRestart, handled: true };
          // died before it ever ran: start() reports it (no restart loop)
          if (!everRunning) return { action: CloseAction.DoNotRestart, handled: true };
          const now = Date.now();
          this.crashes = this.crashes.filter((t) => now - t < CRASH_WINDOW_MS);
          this.crashes.push(now);
          if (this.crashes.length <= MAX_CRASHES) {
            this.log(`server stopped unexpectedly; restarting (${this.crashes.length}/${MAX_CRASHES})`);
            return { action: CloseAction.Restart, handled: true };
          }
          this.fail(logic.serverFailureMessage(cmd, 'crash', `${this.crashes.length} times in 3 minutes`));
          return { action: CloseAction.DoNotRestart, handled: true };
        },
      },
      initializationFailedHandler: () => false,
    };

    const client = new PromptTokensClient(CLIENT_ID, CLIENT_NAME, serverOptions, clientOptions);
    let everRunning = false;
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) everRunning = true;
    });
    this.client = client;
    client.onNotification(STATUS_NOTIFICATION, (p: logic.StatusParams) => this.onStatus(client, p));
    this.render();
    try {
      await client.start();
      this.log(`server running: ${client.initializeResult?.serverInfo?.name ?? '?'} ${client.initializeResult?.serverInfo?.version ?? ''}`);
      await vscode.commands.executeCommand('setContext', 'promptTokens.serverRunning', true);
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      this.log(`start failed: ${detail}`);
      this.fail(logic.serverFailureMessage(cmd, 'start', logic.startErrorDetail(detail)));
      try {
        await client.dispose(2000);
      } catch {
        // already gone
      }
      if (this.client === client) this.client = undefined;
    }
    this.render();
  }

  private fail(message: string, openSettings = false): void {
    this.failed = message;
    vscode.commands.executeCommand('setContext', 'promptTokens.serverRunning', false);
    this.render();
    const actions = ['Restart server', openSettings || this.command?.source !== 'path' ? 'Open settings' : undefined, 'Show output'].filter(
      (x): x is string => !!x,
    );
    vscode.window.showErrorMessage(message, ...actions).then((choice) => {
      if (choice === 'Restart server') this.restart(true);
      else if (choice === 'Open settings') vscode.commands.executeCommand('workbench.action.openSettings', `${logic.SECTION}.server.command`);
      else if (choice === 'Show output') this.output.show(true);
    });
  }

  async stopClient(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    this.stopping = true;
    try {
      if (c.state === State.Running || c.state === State.Starting) await c.stop(3000);
    } catch (e) {
      this.log(`stop: ${String(e)}`);
    } finally {
      this.stopping = false;
      try {
        await c.dispose(1000);
      } catch {
        // ignore
      }
    }
  }

  /**
   * Restart the server. Unless forced, only when it is not running or the command that would
   * start it now differs from the running one. Resolves to whether it restarted.
   */
  restart(force: boolean, why = 'restart requested'): Promise<boolean> {
    return this.enqueue(async () => {
      if (!force && this.client && !this.failed && this.command) {
        const next = this.resolveCommand(); // an invalid setting was just reported: keep the running server
        if (!next || logic.commandLine(next) === logic.commandLine(this.command)) return false;
      }
      this.log(`${why}: restarting the server`);
      this.crashes = [];
      await this.stopClient();
      this.statuses.clear();
      await this.doStart();
      return true;
    });
  }

  // ---- status bar -------------------------------------------------------------------------

  private onStatus(client: LanguageClient, p: logic.StatusParams): void {
    if (!p || typeof p.uri !== 'string') return;
    const key = client.protocol2CodeConverter.asUri(p.uri).toString();
    const prev = this.statuses.get(key);
    // keep the last known numbers while a new count is running
    const merged: logic.StatusParams = { ...p };
    const noNumbers = !merged.tokens || (merged.state === 'counting' && !(merged.budget != null && merged.budget > 0));
    if (noNumbers && prev?.tokens) {
      merged.tokens = prev.tokens;
      merged.budget = prev.budget;
    }
    this.statuses.set(key, merged);
    const active = vscode.window.activeTextEditor?.document.uri.toString();
    if (active === key) this.render();
  }

  private render(): void {
    const doc = vscode.window.activeTextEditor?.document;
    if (!doc || vscode.languages.match(this.selector as vscode.DocumentSelector, doc) === 0) {
      this.item.hide();
      return;
    }
    if (this.failed || !this.client) {
      this.item.text = '$(error) tokens: server not running';
      this.item.tooltip = new vscode.MarkdownString(`${this.failed ?? 'The prompt-tokens server is not running.'}\n\nClick to restart it.`);
      this.item.command = 'promptTokens.restartServer';
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
      this.item.show();
      return;
    }
    this.item.command = 'promptTokens.showStats';
    const status = this.statuses.get(doc.uri.toString()) ?? { uri: doc.uri.toString(), state: 'counting' as const };
    const view = logic.statusView(status, { warningRatio: this.warningRatio(), fileName: path.basename(doc.uri.path) });
    this.item.text = view.text;
    const md = new vscode.MarkdownString(view.tooltip, true);
    md.isTrusted = false;
    this.item.tooltip = md;
    this.item.backgroundColor =
      view.level === 'warning'
        ? new vscode.ThemeColor('statusBarItem.warningBackground')
        : view.level === 'exceeded' || view.level === 'error'
          ? new vscode.ThemeColor('statusBarItem.errorBackground')
          : undefined;
    this.item.show();
  }

  // ---- commands ---------------------------------------------------------------------------

  private async runServerCommand<T>(command: string, args: unknown[] = []): Promise<T | undefined> {
    await this.queue;
    const c = this.client;
    if (!c || c.state !== State.Running) {
      const choice = await vscode.window.showWarningMessage('Prompt Tokens: the language server is not running.', 'Restart server');
      if (choice) this.restart(true);
      return undefined;
    }
    try {
      return (await c.sendRequest(ExecuteCommandRequest.type, { command, arguments: args })) as T;
    } catch (e) {
      vscode.window.showErrorMessage(`Prompt Tokens: ${command} failed: ${e instanceof Error ? e.message : String(e)}`);
      return undefined;
    }
  }

  private async showStats(arg?: vscode.Uri | string): Promise<void> {
    const uri = typeof arg === 'string' ? vscode.Uri.parse(arg) : (arg ?? vscode.window.activeTextEditor?.document.uri);
    if (!uri) {
      vscode.window.showInformationMessage('Prompt Tokens: open a prompt file first.');
      return;
    }
    const c = this.client;
    const wire = c ? c.code2ProtocolConverter.asUri(uri) : uri.toString();
    const stats = await this.runServerCommand<logic.DocumentStats>('promptTokens.documentStats', [wire]);
    if (!stats) return;
    const rows = logic.statsRows(stats, this.warningRatio());
    type Item = vscode.QuickPickItem & { row: logic.PickRow };
    const items: Item[] = rows.map((row) => ({
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
    if (!pick) return;
    const row = pick.row;
    if (row.kind === 'file' && row.target && uri.scheme === 'file') {
      const target = logic.resolveTarget(row.target, uri.fsPath, os.homedir());
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

  private async showJobs(): Promise<void> {
    const jobs = await this.runServerCommand<unknown>('promptTokens.jobs');
    if (jobs === undefined) return;
    this.jobsOutput.clear();
    this.jobsOutput.appendLine(JSON.stringify(jobs, null, 2));
    this.jobsOutput.show(true);
  }

  private async clearCache(): Promise<void> {
    const res = await this.runServerCommand<unknown>('promptTokens.clearCache');
    if (res === undefined) return;
    const n = res && typeof res === 'object' ? (res as { cleared?: unknown }).cleared : undefined;
    const detail = typeof n === 'number' ? ` (${logic.formatInt(n)} entr${n === 1 ? 'y' : 'ies'})` : '';
    vscode.window.showInformationMessage(`Prompt Tokens: cache cleared${detail}.`);
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}

let controller: Controller | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  controller = new Controller(context);
  context.subscriptions.push(controller);
  // not awaited: a slow or missing server must not hold up activation
  void controller.start();
}

export async function deactivate(): Promise<void> {
  const c = controller;
  controller = undefined;
  await c?.stopClient();
}
