// Command ids. The server's (SPEC, fixed) are registered by the language client itself, which
// forwards them to the server; the extension's palette commands have ids of their own, so that
// VS Code never sees one id registered twice.

export const SERVER_COMMANDS = {
  documentStats: 'promptTokens.documentStats',
  jobs: 'promptTokens.jobs',
  clearCache: 'promptTokens.clearCache',
} as const;

export const PALETTE_COMMANDS = {
  showStats: 'promptTokens.showStats',
  showJobs: 'promptTokens.showJobs',
  clearCache: 'promptTokens.clearTokenCache',
  restartServer: 'promptTokens.restartServer',
} as const;
