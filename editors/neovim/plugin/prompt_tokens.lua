-- Loaded at startup when editors/neovim is on 'runtimepath'. Cheap: no server is started here;
-- that is vim.lsp.enable("prompt_tokens") or require("prompt_tokens").setup{}.
if vim.g.loaded_prompt_tokens or vim.fn.has('nvim-0.11') == 0 then
  return
end
vim.g.loaded_prompt_tokens = 1

require('prompt_tokens.register').register()
