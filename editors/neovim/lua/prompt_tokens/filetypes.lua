-- The files the server attaches to: the filetypes of its LSP config and the detection of the
-- prompt and agent file kinds Neovim does not know (SPEC "Agent dialects").
local M = {}

--- Filetypes the server is started for (lsp/prompt_tokens.lua, setup()).
M.filetypes = { 'markdown', 'text', 'prompt', 'jinja' }

--- Detection added to Neovim's own. Already known: *.md (SKILL.md, AGENTS.md, CLAUDE.md,
--- CLAUDE.local.md, .claude/**/*.md, *.prompt.md, *.instructions.md, *.agent.md,
--- *.chatmode.md, .github/copilot-instructions.md) -> markdown; *.jinja -> jinja.
M.detect = {
  extension = {
    prompt = 'prompt', -- dotprompt
    prompty = 'prompt', -- Prompty (YAML front matter + Markdown)
    j2 = 'jinja',
    mdc = 'markdown', -- Cursor rules: Markdown with front matter
  },
  filename = { ['.cursorrules'] = 'markdown' },
  -- any other file under .cursor/rules/, unless Neovim knows better (lowest priority)
  pattern = { ['.*/%.cursor/rules/.*'] = { 'markdown', { priority = -math.huge } } },
}

function M.register()
  vim.filetype.add(M.detect)
  -- `prompt` buffers are highlighted as Markdown
  pcall(vim.treesitter.language.register, 'markdown', 'prompt')
end

return M
