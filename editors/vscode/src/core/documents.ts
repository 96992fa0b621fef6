// Which documents the language server is started for (no `vscode` here). The lists live in
// documents.json so that the Python manifest test checks the very same data.
//
// Language ids: VS Code's own prompt files are `prompt` (*.prompt.md, copilot-instructions.md),
// `instructions` (*.instructions.md), `chatmode` (*.chatmode.md) and `chatagent` (*.agent.md) —
// microsoft/vscode src/vs/workbench/contrib/chat/common/promptSyntax/promptTypes.ts (read
// 2026-12-02); `prompt-template` is contributed by this extension (*.prompt, *.prompty, *.jinja,
// *.j2); `prompty`, `jinja`, `jinja-md` are those of other common extensions.
// Patterns: every agent file kind of SPEC "Agent dialects", whatever language another extension
// gives it (Cursor rules *.mdc and .cursorrules are plain text in VS Code).

import documents from './documents.json';

/** Language ids the server is started for (plus the file patterns in FILE_PATTERNS). */
export const LANGUAGE_IDS: readonly string[] = documents.languages;

/** Glob patterns (matched against the whole path) of the prompt and agent files. */
export const FILE_PATTERNS: readonly string[] = documents.patterns;
