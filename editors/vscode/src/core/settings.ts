// The `promptTokens` settings object the extension sends to the server (no `vscode` here).

export const SECTION = 'promptTokens';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** Keys of the `promptTokens` section that only the extension uses (never sent to the server). */
export const CLIENT_ONLY_KEYS = ['server', 'trace'] as const;

export interface ShapedSettings {
  settings: JsonObject;
  /** Dotted keys whose value was forced because the workspace is untrusted. */
  forced: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toJson(v: unknown): Json | undefined {
  if (v === null) return null;
  if (typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (Array.isArray(v)) return v.map((x) => toJson(x)).filter((x): x is Json => x !== undefined);
  if (isObject(v)) {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) {
      const j = toJson(x);
      if (j !== undefined) out[k] = j;
    }
    return out;
  }
  return undefined; // functions (WorkspaceConfiguration.get …), undefined
}

function section(obj: JsonObject, key: string): JsonObject {
  const cur = obj[key];
  if (isObject(cur)) return cur as JsonObject;
  const fresh: JsonObject = {};
  obj[key] = fresh;
  return fresh;
}

/**
 * The `promptTokens` settings object sent to the server (initializationOptions,
 * didChangeConfiguration and workspace/configuration answers).
 *
 * - client-only keys (`server`, `trace`) are dropped;
 * - "unset" values are dropped so the server applies its own default: `model: ""`,
 *   `budget: null`, `cache.path: ""` (while `cache.path: null` means "no persistence" and is kept);
 * - untrusted workspace (SPEC "Trust"): `http.enabled: false`, `references.allowOutsideWorkspace: false`.
 */
export function shapeSettings(raw: unknown, trusted: boolean): ShapedSettings {
  const j = toJson(raw);
  const settings: JsonObject = isObject(j) ? (j as JsonObject) : {};
  for (const k of CLIENT_ONLY_KEYS) delete settings[k];
  if (settings.model === '' || settings.model === null || (typeof settings.model === 'string' && !settings.model.trim())) {
    delete settings.model;
  }
  if (settings.budget === null) delete settings.budget;
  if (isObject(settings.cache) && (settings.cache as JsonObject).path === '') {
    delete (settings.cache as JsonObject).path;
  }
  const forced: string[] = [];
  if (!trusted) {
    section(settings, 'http').enabled = false;
    section(settings, 'references').allowOutsideWorkspace = false;
    forced.push('http.enabled', 'references.allowOutsideWorkspace');
  }
  return { settings, forced };
}

/** The part of the shaped settings asked for by a workspace/configuration item section. */
export function configurationFor(sectionName: string | undefined, settings: JsonObject): Json | undefined {
  if (!sectionName || sectionName === SECTION) return settings;
  if (!sectionName.startsWith(SECTION + '.')) return undefined;
  let cur: Json | undefined = settings;
  for (const part of sectionName.slice(SECTION.length + 1).split('.')) {
    if (!isObject(cur)) return null;
    cur = (cur as JsonObject)[part];
  }
  return cur === undefined ? null : cur;
}
