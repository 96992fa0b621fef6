-- prompt-tokens language server: live LLM token counts for prompt files.
-- Used by `vim.lsp.enable("prompt_tokens")` (Neovim 0.11+) when this folder is on 'runtimepath';
-- require("prompt_tokens").setup{...} layers your options on top of it with vim.lsp.config().

---@type vim.lsp.Config
return {
  cmd = { 'prompt-tokens', 'lsp' },
  filetypes = vim.deepcopy(require('prompt_tokens.filetypes').filetypes),
  root_markers = { '.prompt-tokens.toml', '.git' },
  -- answered to workspace/configuration (section "promptTokens") and sent on start
  settings = { promptTokens = vim.empty_dict() },
  init_options = vim.empty_dict(),
  handlers = {
    ['promptTokens/status'] = function(err, result, ctx)
      return require('prompt_tokens.status').on_status(err, result, ctx)
    end,
  },
}
