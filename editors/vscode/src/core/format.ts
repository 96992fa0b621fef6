// Number and Markdown formatting shared by the status bar and the quick pick (no `vscode` here).

/** 1234567 → "1,234,567" (locale-independent, like the server's labels). */
export function formatInt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? '-' : '';
  const digits = String(Math.trunc(Math.abs(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** Escapes Markdown syntax in a value shown in a tooltip (file names, error texts). */
export function mdEscape(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, (c) => '\\' + c);
}
