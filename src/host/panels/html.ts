/**
 * Every panel's HTML (Explain, Dissection), built in this one place. Pure (no `vscode` import) so the CSP and the
 * escaping are tested in Node. All data reaches the page by postMessage, never by interpolation;
 * the one string from outside (the title, from the image's file name) is escaped.
 */
import { randomBytes } from 'node:crypto';

export interface PanelHtmlOptions {
  /** `webview.cspSource`. */
  cspSource: string;
  /** `asWebviewUri` of the panel's bundle (dist/webview/explain.js, dissect.js). */
  scriptUri: string;
  /** `asWebviewUri` of each stylesheet, in cascade order: media/panel.css, then the panel's own. */
  styleUris: readonly string[];
  nonce: string;
  title: string;
}

/** 128 random bits, base64 (CSP's nonce grammar accepts base64). */
export function makeNonce(): string {
  return randomBytes(16).toString('base64');
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export function contentSecurityPolicy(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data: blob:`,
    `style-src ${cspSource}`,
    `script-src 'nonce-${nonce}'`,
    `font-src ${cspSource}`,
  ].join('; ');
}

export function buildPanelHtml(o: PanelHtmlOptions): string {
  const attr = escapeHtml;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${attr(contentSecurityPolicy(o.cspSource, o.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
${o.styleUris.map((uri) => `<link rel="stylesheet" href="${attr(uri)}">\n`).join('')}<title>${escapeHtml(o.title)}</title>
</head>
<body>
<main id="app" aria-busy="true"><p class="placeholder">Loading…</p></main>
<script nonce="${attr(o.nonce)}" src="${attr(o.scriptUri)}"></script>
</body>
</html>
`;
}
