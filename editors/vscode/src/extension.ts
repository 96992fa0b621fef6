// VS Code client of the prompt-tokens language server: starts, restarts and configures it.
// What is shown lives in statusBar.ts and palette.ts; the pure logic in core/.
import * as fs from 'fs';
import * as os from 'os';
import * as vscode from 'vscode';
import {
  CloseAction,
  CloseHandlerResult,
  DidChangeConfigurationNotification,
  DocumentSelector,
  ErrorHandler,
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  RevealOutputChannelOn,
  ServerOptions,
  State,
} from 'vscode-languageclient/node';
import { PALETTE_COMMANDS } from './core/commandIds';
import { FILE_PATTERNS, LANGUAGE_IDS } from './core/documents';
import {
  commandLine,
  InvalidCommandSetting,
  resolveServerCommand,
  ServerCommand,
  serverFailureMessage,
  startErrorDetail,
} from './core/serverCommand';
import { configurationFor, SECTION, shapeSettings, ShapedSettings } from './core/settings';
import { StatusParams } from './core/status';
import * as palette from './palette';
import { StatusBar } from './statusBar';

const CLIENT_ID = 'promptTokens';
const CLIENT_NAME = 'Prompt Tokens';
const STATUS_NOTIFICATION = 'promptTokens/status';
/** The language client's own policy: restart after a crash, give up after this many in 3 minutes. */
const MAX_RESTARTS = 3;

/** One start's client, for the callbacks of the options it was built with. */
interface Started {
  client?: PromptTokensClient;
  /** Reached State.Running at least once: a death before that is a start failure (doStart reports it). */
  ran: boolean;
}

class PromptTokensClient extends LanguageClient {
  /** Start failures get this extension's own notification (with the fix), not a second one. */
  override error(message: string, data?: unknown, showNotification?: boolean | 'force'): void {
    const ours = /couldn't create connection to server/.test(message);
    super.error(message, data, ours ? false : showNotification);
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
  for (const language of LANGUAGE_IDS) sel.push({ scheme: 'file', language }, { scheme: 'untitled', language });
  for (const pattern of FILE_PATTERNS) sel.push({ scheme: 'file', pattern });
  return sel;
}

class Controller implements vscode.Disposable {
  private client: PromptTokensClient | undefined;
  private command: ServerCommand | undefined;
  private failed = false;
  private readonly output = vscode.window.createOutputChannel(CLIENT_NAME);
  private readonly jobsOutput = vscode.window.createOutputChannel(`${CLIENT_NAME}: Jobs`, 'json');
  private readonly selector = documentSelector();
  private readonly statusBar = new StatusBar(this.selector as vscode.DocumentSelector);
  private readonly disposables: vscode.Disposable[] = [];
  /** Starts, stops and restarts run one after the other. */
  private queue: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(private readonly context: vscode.ExtensionContext) {
    const run = <T>(command: string, args: unknown[] = []) => this.runServerCommand<T>(command, args);
    const toWire = (uri: vscode.Uri) => this.client?.code2ProtocolConverter.asUri(uri) ?? uri.toString();
    this.disposables.push(
      this.output,
      this.jobsOutput,
      this.statusBar,
      vscode.commands.registerCommand(PALETTE_COMMANDS.showStats, (uri?: vscode.Uri | string) => palette.showStats(run, toWire, uri)),
      vscode.commands.registerCommand(PALETTE_COMMANDS.showJobs, () => palette.showJobs(run, this.jobsOutput)),
      vscode.commands.registerCommand(PALETTE_COMMANDS.clearCache, () => palette.clearCache(run)),
      vscode.commands.registerCommand(PALETTE_COMMANDS.restartServer, () => this.restart(true)),
      vscode.window.onDidChangeActiveTextEditor(() => this.statusBar.render()),
      vscode.workspace.onDidCloseTextDocument((doc) => this.statusBar.forget(doc.uri.toString())),
      vscode.workspace.onDidChangeConfiguration((e) => this.onConfigurationChanged(e)),
      vscode.workspace.onDidGrantWorkspaceTrust(() => this.onTrustGranted()),
    );
  }

  // ---- settings ---------------------------------------------------------------------------

  private shapedSettings(scope?: vscode.Uri): ShapedSettings {
    return shapeSettings(vscode.workspace.getConfiguration(SECTION, scope ?? null), vscode.workspace.isTrusted);
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
      await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { [SECTION]: settings } });
    } catch (e) {
      // a client being stopped or replaced meanwhile gets its settings at the next start
      if (client === this.client && client.state === State.Running) this.log(`didChangeConfiguration failed: ${String(e)}`);
    }
  }

  private onConfigurationChanged(e: vscode.ConfigurationChangeEvent): void {
    if (e.affectsConfiguration(`${SECTION}.server`)) this.restart(false, 'promptTokens.server.command changed');
    // the settings themselves reach the server through the client's configuration sync
  }

  private onTrustGranted(): void {
    this.log('workspace trusted: re-sending settings (URL fetching and outside files as configured)');
    // a restart (new command from the now-honoured workspace settings) sends them anyway
    this.restart(false, 'workspace trusted').then((restarted) => {
      if (!restarted) this.sendSettings();
    });
  }

  private answerConfiguration(items: { section?: string; scopeUri?: string }[], answer: unknown[]): unknown[] {
    return items.map((item, i) => {
      if (item.section && item.section !== SECTION && !item.section.startsWith(SECTION + '.')) return answer[i];
      const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
      return configurationFor(item.section, this.shapedSettings(scope).settings) ?? null;
    });
  }

  // ---- server lifecycle -------------------------------------------------------------------

  private log(msg: string): void {
    this.output.appendLine(`[client ${new Date().toISOString()}] ${msg}`);
  }

  private resolveCommand(): ServerCommand | undefined {
    try {
      return resolveServerCommand({
        configured: vscode.workspace.getConfiguration(SECTION).get('server.command'),
        trusted: vscode.workspace.isTrusted,
        workspaceFolders: (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath),
        pathEnv: process.env.PATH,
        platform: process.platform,
        home: os.homedir(),
        isExecutable,
      });
    } catch (e) {
      if (!(e instanceof InvalidCommandSetting)) throw e;
      this.fail(`Prompt Tokens: ${e.message}.`, true);
      return undefined;
    }
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.then(
      () => undefined,
      (e: unknown) => this.log(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`),
    );
    return run;
  }

  start(): Promise<void> {
    return this.enqueue(() => this.doStart());
  }

  private serverOptions(cmd: ServerCommand): ServerOptions {
    const trusted = vscode.workspace.isTrusted;
    const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath;
    // In an untrusted workspace nothing of the workspace may end up on the server's import path.
    const cwd = trusted && folder ? folder : this.context.extensionPath;
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (!trusted) env.PYTHONSAFEPATH = '1';
    this.log(`starting ${commandLine(cmd)} (from ${cmd.source}; cwd ${cwd}; workspace ${trusted ? 'trusted' : 'untrusted'})`);
    return { command: cmd.command, args: cmd.args, options: { cwd, env } };
  }

  /**
   * The language client's default error handler (restart after a crash; after MAX_RESTARTS + 1
   * crashes in 3 minutes, stop), told apart from a stop of ours or a death before the server
   * ever ran (doStart reports those), with this extension's notification when it gives up.
   */
  private errorHandler(cmd: ServerCommand, started: Started): ErrorHandler {
    let defaults: ErrorHandler | undefined;
    const policy = (): ErrorHandler => (defaults ??= started.client!.createDefaultErrorHandler(MAX_RESTARTS));
    return {
      error: (error, message, count) => policy().error(error, message, count),
      closed: async (): Promise<CloseHandlerResult> => {
        if (this.stopping || !started.client || this.client !== started.client || !started.ran) {
          return { action: CloseAction.DoNotRestart, handled: true };
        }
        const verdict = await policy().closed();
        if (verdict.action === CloseAction.DoNotRestart) {
          this.log(verdict.message ?? 'the server stopped and is not restarted');
          this.fail(serverFailureMessage(cmd, 'crash', 'repeatedly and is not restarted'));
          return { action: CloseAction.DoNotRestart, handled: true };
        }
        this.log('server stopped unexpectedly; restarting');
        this.statusBar.reset();
        return { ...verdict, handled: true };
      },
    };
  }

  private clientOptions(cmd: ServerCommand, started: Started): LanguageClientOptions {
    return {
      documentSelector: this.selector,
      outputChannel: this.output,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      initializationOptions: () => this.shapedSettings().settings,
      markdown: { isTrusted: false, supportHtml: false },
      synchronize: { configurationSection: SECTION },
      middleware: {
        workspace: {
          didChangeConfiguration: () => this.sendSettings(started.client),
          configuration: async (params, token, next) => {
            const answer = await next(params, token);
            return Array.isArray(answer) ? this.answerConfiguration(params.items, answer) : answer;
          },
        },
      },
      errorHandler: this.errorHandler(cmd, started),
      initializationFailedHandler: () => false,
    };
  }

  private async doStart(): Promise<void> {
    this.failed = false;
    const cmd = this.resolveCommand();
    if (!cmd) return;
    this.command = cmd;
    const started: Started = { ran: false };
    const client = new PromptTokensClient(CLIENT_ID, CLIENT_NAME, this.serverOptions(cmd), this.clientOptions(cmd, started));
    started.client = client;
    this.client = client;
    client.onDidChangeState((e) => {
      if (e.newState === State.Running) started.ran = true;
    });
    client.onNotification(STATUS_NOTIFICATION, (p: StatusParams) => {
      if (p && typeof p.uri === 'string') this.statusBar.update(client.protocol2CodeConverter.asUri(p.uri).toString(), p);
    });
    this.statusBar.reset();
    try {
      await client.start();
      const info = client.initializeResult?.serverInfo;
      this.log(`server running: ${info?.name ?? '?'} ${info?.version ?? ''}`);
      await vscode.commands.executeCommand('setContext', 'promptTokens.serverRunning', true);
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      this.log(`start failed: ${detail}`);
      this.fail(serverFailureMessage(cmd, 'start', startErrorDetail(detail)));
      try {
        await client.dispose(2000);
      } catch {
        // already gone
      }
      if (this.client === client) this.client = undefined;
    }
  }

  private fail(message: string, openSettings = false): void {
    this.failed = true;
    vscode.commands.executeCommand('setContext', 'promptTokens.serverRunning', false);
    this.statusBar.setFailure(message);
    const actions = ['Restart server', openSettings || this.command?.source !== 'path' ? 'Open settings' : undefined, 'Show output'];
    vscode.window.showErrorMessage(message, ...actions.filter((x): x is string => !!x)).then((choice) => {
      if (choice === 'Restart server') this.restart(true);
      else if (choice === 'Open settings') vscode.commands.executeCommand('workbench.action.openSettings', `${SECTION}.server.command`);
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
        if (!next || commandLine(next) === commandLine(this.command)) return false;
      }
      this.log(`${why}: restarting the server`);
      await this.stopClient();
      await this.doStart();
      return true;
    });
  }

  // ---- server commands --------------------------------------------------------------------

  private async runServerCommand<T>(command: string, args: unknown[]): Promise<T | undefined> {
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
