// Drive code-server (VS Code 1.100.3 in the browser) with Debian's headless Chromium through
// playwright-core and check what a user of the prompt-tokens extension sees.
//
//   node drive.js SPEC.json
//
// SPEC (written by tests/editors/test_vscode.py):
//   { url, out, timeoutMs, chromium,
//     normal: { file, firstLine, totalHint, refLine, refHint, status, typed, totalHintAfter, statusAfter,
//               statsRow, statsDescription },
//     over:   { file, firstLine, problem, status, level: "error"|"warning"|"none" },
//     rule:   { file, firstLine, status } }
// A `status` is the exact text of the extension's status bar item (after its icon).
// Writes OUT/result.json ({ok, steps: [{name, ok, ms, data|error}], ...}) and screenshots.
// Exit 0 = every check passed.
'use strict';
const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const spec = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const OUT = spec.out;
const T = Number(spec.timeoutMs || 30000);
fs.mkdirSync(OUT, { recursive: true });

const result = { url: spec.url, steps: [], ok: false };
const t0 = Date.now();
// Monaco renders hint labels and spaces with \u00a0 / \u200a: normalise before matching.
const norm = (s) => (s || '').replace(/[\s\u00a0\u200a\u200b]+/g, ' ');

async function step(name, fn) {
  const s = Date.now();
  try {
    const data = await fn();
    result.steps.push({ name, ok: true, ms: Date.now() - s, data });
    console.error(`[${Date.now() - t0} ms] ${name}: ok`);
    return data;
  } catch (e) {
    result.steps.push({ name, ok: false, ms: Date.now() - s, error: String((e && e.message) || e) });
    console.error(`[${Date.now() - t0} ms] ${name}: FAILED ${e && e.message}`);
    throw e;
  }
}

(async () => {
  const browser = await chromium.launch({
    executablePath: spec.chromium || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  let code = 1;

  // ---- helpers (run in the page) ----------------------------------------------------------
  const editorLines = () => page.evaluate(() => {
    const vl = document.querySelector('.editor-instance .view-lines');
    if (!vl) return [];
    return [...vl.querySelectorAll('.view-line')]
      .map((l) => ({ top: parseFloat(l.style.top), text: l.textContent }))
      .sort((a, b) => a.top - b.top)
      .map((l) => l.text.replace(/[\s\u00a0\u200a\u200b]+/g, ' '));
  });
  const waitEditorText = (want) => page.waitForFunction((w) => {
    const vl = document.querySelector('.editor-instance .view-lines');
    return !!vl && vl.textContent.replace(/[\s\u00a0\u200a\u200b]+/g, ' ').includes(w);
  }, want, { timeout: T });
  const statusbarText = () => page.locator('.statusbar').innerText().then(norm).catch(() => '');
  const waitStatus = (want) => page.waitForFunction((w) => {
    const sb = document.querySelector('.statusbar');
    return !!sb && sb.innerText.replace(/[\s\u00a0\u200a\u200b]+/g, ' ').includes(w);
  }, want, { timeout: T });
  // the status bar entry of this extension (its id contains promptTokens.status)
  const ourItemClass = () => page.evaluate(() => {
    const el = [...document.querySelectorAll('.statusbar-item')].find((e) => (e.id || '').includes('promptTokens.status'));
    return el ? { id: el.id, className: el.className, text: el.innerText } : null;
  });
  // wait until the item's text (its icon aside) is exactly `want`
  const waitItem = async (want) => {
    try {
      await page.waitForFunction((w) => {
        const el = [...document.querySelectorAll('.statusbar-item')].find((e) => (e.id || '').includes('promptTokens.status'));
        return !!el && el.innerText.replace(/[\s\u00a0\u200a\u200b]+/g, ' ').trim() === w;
      }, want, { timeout: T });
    } catch (e) {
      throw new Error(`status item is ${JSON.stringify(await ourItemClass())}, want ${JSON.stringify(want)}`);
    }
    return ourItemClass();
  };
  const openFile = async (file, firstLine) => {
    await page.keyboard.press('Control+P');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible', timeout: T });
    await page.keyboard.type(file);
    // wait until the list is filtered to the typed name, then click the row (Enter can race
    // with the filtering and open the most recent editor instead)
    await page.waitForFunction((f) => {
      const input = document.querySelector('.quick-input-widget input');
      const rows = [...document.querySelectorAll('.quick-input-list .monaco-list-row')];
      return input && input.value === f && rows.length > 0 && rows[0].textContent.includes(f);
    }, file, { timeout: T });
    await page.locator('.quick-input-list .monaco-list-row', { hasText: file }).first().click();
    await page.waitForFunction((f) => {
      const tab = document.querySelector('.tabs-container .tab.active');
      return !!tab && tab.textContent.includes(f);
    }, file, { timeout: T });
    await waitEditorText(firstLine);
  };

  // run a command from the palette (F1), by its title
  const runCommand = async (title) => {
    await page.keyboard.press('F1');
    await page.waitForSelector('.quick-input-widget input', { state: 'visible', timeout: T });
    await page.keyboard.type(title);
    await page.waitForFunction((w) => {
      const rows = [...document.querySelectorAll('.quick-input-list .monaco-list-row')];
      return rows.length > 0 && rows[0].textContent.includes(w);
    }, title, { timeout: T });
    await page.keyboard.press('Enter');
  };

  try {
    await step('load workbench', async () => {
      await page.goto(spec.url, { waitUntil: 'domcontentloaded', timeout: T });
      await page.waitForSelector('.monaco-workbench .part.editor', { timeout: T });
      await page.waitForSelector('.explorer-folders-view .monaco-list-row', { timeout: T });
      await page.locator('.monaco-workbench').click({ position: { x: 640, y: 380 } }).catch(() => {});
    });

    const n = spec.normal;
    await step(`open ${n.file}`, () => openFile(n.file, n.firstLine));

    if (spec.mode === 'crash') {
      // every server process dies after a while (spec.crash.counter counts the launches): the
      // language client restarts it, and after its limit gives up with our notification
      const launches = () => { try { return Number(fs.readFileSync(spec.crash.counter, 'utf8')) || 0; } catch { return 0; } };
      const waitLaunches = async (n) => {
        const end = Date.now() + 4 * T;
        while (launches() < n) {
          if (Date.now() > end) throw new Error(`${launches()} launches, want ${n}`);
          await page.waitForTimeout(100);
        }
        return launches();
      };
      await step('status bar item (first server)', () => waitItem(n.status));
      await step('server restarted by the client after a crash', () => waitLaunches(2));
      await step('status bar item (restarted server)', () => waitItem(n.status));
      await step('notification: the server keeps crashing', async () => {
        await page.waitForFunction((w) => [...document.querySelectorAll('.notifications-toasts .notification-toast')]
          .some((t) => t.textContent.includes(w)), spec.crash.message, { timeout: 6 * T });
        return page.evaluate(() => [...document.querySelectorAll('.notifications-toasts .notification-toast')]
          .map((t) => t.textContent.replace(/[\s\u00a0]+/g, ' ')));
      });
      await step('status bar says the server is not running', () => waitStatus('server not running'));
      await page.screenshot({ path: path.join(OUT, 'crash.png') });
      result.launches = launches();
      result.ok = true;
      code = 0;
      return;
    }

    if (spec.mode === 'broken') {
      // the server command does not exist: a clear notification with the fix and a restart action
      const toast = await step('notification: server cannot start', async () => {
        await page.waitForFunction((w) => [...document.querySelectorAll('.notifications-toasts .notification-toast')]
          .some((t) => t.textContent.includes(w)), spec.broken.message, { timeout: T });
        return page.evaluate(() => [...document.querySelectorAll('.notifications-toasts .notification-toast')]
          .map((t) => ({ text: t.textContent.replace(/[\s\u00a0]+/g, ' '),
            buttons: [...t.querySelectorAll('.monaco-button')].map((b) => b.textContent) })));
      });
      await step('notification offers "Restart server"', async () => {
        const t = toast.find((x) => x.text.includes(spec.broken.message));
        if (!t.buttons.includes('Restart server')) throw new Error(JSON.stringify(t));
        return t;
      });
      await step('status bar says the server is not running', () => waitStatus('server not running'));
      await page.screenshot({ path: path.join(OUT, 'broken.png') });
      result.ok = true;
      code = 0;
      return;
    }

    if (spec.mode === 'quick') {
      // A short run (Restricted Mode, default command): hints + status bar, then grant trust if untrusted.
      // In Restricted Mode the extension still counts (limited support), with the server command
      // from the user's settings (the workspace's own is a restricted setting and ignored).
      await step('quick: total inlay hint', () => waitEditorText(n.totalHint));
      await step('quick: status bar item', async () => {
        const item = await waitItem(n.status);
        return { statusbar: await statusbarText(), item };
      });
      await page.mouse.move(5, 5);
      await page.screenshot({ path: path.join(OUT, 'quick.png') });
      if (!/Restricted Mode/.test(await statusbarText())) {
        result.ok = true; // a trusted workspace: nothing to grant
        code = 0;
        return;
      }
      // grant trust: the extension re-sends the real settings (checked in the trace by the test)
      await step('grant workspace trust', async () => {
        await runCommand('Manage Workspace Trust');
        const btn = page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust/ }).first();
        await btn.waitFor({ state: 'visible', timeout: T });
        await btn.click();
        await page.waitForFunction(() => !/Restricted Mode/.test(document.querySelector('.statusbar').innerText), null, { timeout: T });
        await page.waitForTimeout(1500); // let the settings reach the server
        return statusbarText();
      });
      result.ok = true;
      code = 0;
      return;
    }

    await step('total inlay hint on line 1', async () => {
      await waitEditorText(n.totalHint);
      const lines = await editorLines();
      if (!lines[0].includes(n.totalHint)) throw new Error(`line 1 is ${JSON.stringify(lines[0])}`);
      return lines;
    });

    await step('reference inlay hint', async () => {
      await waitEditorText(n.refHint);
      const lines = await editorLines();
      const line = lines.find((l) => l.includes(n.refLine));
      if (!line || !line.includes(n.refHint)) throw new Error(`reference line is ${JSON.stringify(line)}`);
      return line;
    });

    await step('status bar item', async () => {
      const item = await waitItem(n.status);
      if (/(error|warning)-kind/.test(item.className)) throw new Error(`coloured: ${JSON.stringify(item)}`);
      return { statusbar: await statusbarText(), item };
    });
    await page.mouse.move(5, 5);
    await page.screenshot({ path: path.join(OUT, '1_prompt.png') });
    // the status bar tooltip (text / references / budget / encoding): a picture, not a check
    try {
      await page.locator('.statusbar-item', { hasText: n.status }).first().hover();
      await page.waitForFunction(() => [...document.querySelectorAll('.workbench-hover, .monaco-hover')]
        .some((h) => h.offsetParent !== null && /references/.test(h.textContent)), null, { timeout: 5000 });
      await page.waitForTimeout(300);
      result.tooltip = norm(await page.evaluate(() => [...document.querySelectorAll('.workbench-hover, .monaco-hover')]
        .filter((h) => h.offsetParent !== null).map((h) => h.textContent).join(' ')));
      await page.screenshot({ path: path.join(OUT, '1b_tooltip.png') });
    } catch (e) {
      result.tooltip_error = String(e && e.message);
    }
    await page.mouse.move(5, 5);

    await step('status bar click -> per-reference quick pick', async () => {
      await page.locator('.statusbar-item', { hasText: n.status }).first().click();
      await page.waitForFunction((w) => {
        const q = document.querySelector('.quick-input-widget');
        return !!q && q.style.display !== 'none' && q.textContent.replace(/[\s\u00a0]+/g, ' ').includes(w);
      }, n.statsRow, { timeout: T });
      const rows = await page.evaluate(() => [...document.querySelectorAll('.quick-input-list .monaco-list-row')]
        .map((r) => r.textContent.replace(/[\s\u00a0]+/g, ' ')));
      await page.screenshot({ path: path.join(OUT, '2_stats.png') });
      await page.keyboard.press('Escape');
      const row = rows.find((r) => r.includes(n.statsRow));
      if (!row || !row.includes(n.statsDescription)) throw new Error(`quick pick rows: ${JSON.stringify(rows)}`);
      return rows;
    });

    const o = spec.over;
    await step(`open ${o.file} (over budget)`, () => openFile(o.file, o.firstLine));
    await step("over-budget status bar item: the server's verdict's colour", async () => {
      const item = await waitItem(o.status);
      const kind = (/(error|warning)-kind/.exec(item.className) || [null, 'none'])[1];
      if (kind !== o.level) throw new Error(`colour ${kind}, want ${o.level}: ${JSON.stringify(item)}`);
      return item;
    });
    await step('Problems panel shows the budget error', async () => {
      await page.keyboard.press('Control+Shift+M');
      await page.waitForFunction((w) => {
        const p = document.querySelector('.markers-panel');
        return !!p && p.textContent.replace(/[\s\u00a0]+/g, ' ').includes(w);
      }, o.problem, { timeout: T });
      const rows = await page.evaluate(() => [...document.querySelectorAll('.markers-panel .monaco-list-row')]
        .map((r) => ({ text: r.textContent.replace(/[\s\u00a0]+/g, ' '), aria: r.getAttribute('aria-label') })));
      const row = rows.find((r) => r.text.includes(o.problem));
      if (!row) throw new Error(`problems: ${JSON.stringify(rows)}`);
      if (!/prompt-tokens/.test(row.text)) throw new Error(`source missing: ${JSON.stringify(row)}`);
      if (!/error/i.test(row.aria || '') && !/codicon-error/.test(await page.evaluate(() =>
        document.querySelector('.markers-panel .monaco-list-row .marker-icon')?.className || ''))) {
        throw new Error(`not an Error: ${JSON.stringify(row)}`);
      }
      return rows;
    });
    await page.screenshot({ path: path.join(OUT, '3_problems.png') });

    await step(`live edit in ${n.file}`, async () => {
      await openFile(n.file, n.firstLine);
      await page.locator('.editor-instance .view-lines').click();
      await page.keyboard.press('Control+End');
      await page.keyboard.type(n.typed, { delay: 15 });
      await waitEditorText(n.totalHintAfter);
      await waitItem(n.statusAfter);
      return { lines: await editorLines(), statusbar: await statusbarText() };
    });
    await page.mouse.move(5, 5);
    await page.screenshot({ path: path.join(OUT, '4_after_edit.png') });

    await step('command: Show Server Jobs -> JSON output channel', async () => {
      await runCommand('Prompt Tokens: Show Server Jobs');
      await page.waitForFunction(() => {
        // the JSON is scrolled to its end: its last keys are the ones rendered
        const panel = document.querySelector('.part.panel');
        return !!panel && /Prompt Tokens: Jobs/.test(panel.textContent) && /"documents"/.test(panel.textContent);
      }, null, { timeout: T });
      return norm(await page.locator('.part.panel').innerText()).slice(0, 400);
    });
    await step('command: Clear the Token Count Cache -> notification', async () => {
      await runCommand('Prompt Tokens: Clear the Token Count Cache');
      await page.waitForFunction(() => [...document.querySelectorAll('.notifications-toasts .notification-toast')]
        .some((t) => t.textContent.includes('Prompt Tokens: cache cleared')), null, { timeout: T });
      return page.evaluate(() => [...document.querySelectorAll('.notifications-toasts .notification-toast')]
        .map((t) => t.textContent));
    });

    // a Cursor rule: plain text to VS Code, selected by the extension's file patterns
    const r = spec.rule;
    await step(`open ${r.file} (Cursor rule)`, () => openFile(r.file, r.firstLine));
    await step('Cursor rule status bar item', () => waitItem(r.status));
    await page.mouse.move(5, 5);
    await page.screenshot({ path: path.join(OUT, '5_cursor_rule.png') });
    result.ok = true;
    code = 0;
  } catch (e) {
    result.error = String((e && e.stack) || e);
    result.lines_at_failure = await editorLines().catch(() => null);
    result.statusbar_at_failure = await statusbarText().catch(() => null);
    await page.screenshot({ path: path.join(OUT, 'failure.png') }).catch(() => {});
  } finally {
    result.console_errors = consoleErrors.slice(0, 20);
    result.elapsed_ms = Date.now() - t0;
    fs.writeFileSync(path.join(OUT, 'result.json'), JSON.stringify(result, null, 1));
    await browser.close().catch(() => {});
    process.exit(code);
  }
})();
