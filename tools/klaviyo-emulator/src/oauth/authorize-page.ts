import { html, trusted, type SafeHtml } from '../http/html';
import type { EmulatedAccount } from '../accounts/emulated-account';
import type { OAuthApp } from './oauth-apps';
import type { PendingAuthorization } from './oauth-grants';

const STYLE =
  'body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f7f7f8;color:#1f1f1f}main{max-width:520px;margin:48px auto;background:#fff;border:1px solid #ddd;border-radius:8px;padding:24px 28px}' +
  'h1{font-size:20px;margin:0 0 12px}ul{padding-left:20px}label{display:block;padding:6px 0}.err{border-left:4px solid #b3261e;padding-left:12px}' +
  'code{background:#f1f1f3;padding:1px 4px;border-radius:3px}.actions{display:flex;gap:12px;margin-top:18px}button{padding:8px 18px;font-size:15px;border-radius:6px;border:1px solid #888;background:#fff}' +
  'button.allow{background:#1b1f24;color:#fff;border-color:#1b1f24}.muted{color:#666;font-size:13px}';

function layout(title: string, body: SafeHtml): string {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${title} · Klaviyo (emulator)</title><style>${trusted(STYLE)}</style></head><body><main>${body}</main></body></html>`
    .value;
}

/** A refused authorize request: what is wrong and what to fix, never a redirect to an unchecked URI. */
export function errorPage(title: string, detail: string): string {
  return layout(
    title,
    html`<div class="err"><h1>${title}</h1><p>${detail}</p></div><p class="muted">Klaviyo emulator: the authorization request was refused; nothing was stored.</p>`,
  );
}

/** The consent page: the app, the scopes it asks for, the account to install it in, Allow / Deny. */
export function consentPage(
  app: OAuthApp,
  request: PendingAuthorization,
  accounts: readonly EmulatedAccount[],
): string {
  const options = accounts.map(
    (a, i) =>
      html`<label><input type="radio" name="account_id" value="${a.id}"${i === 0 ? html` checked` : ''} required> ${a.name} <span class="muted">(${a.id})</span></label>`,
  );
  return layout(
    `Install ${app.name}`,
    html`<h1>${app.name} wants to access your Klaviyo account</h1>
<p>It asks for these permissions:</p>
<ul>${request.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul>
<form method="post" action="/oauth/authorize">
<input type="hidden" name="request_id" value="${request.id}">
<fieldset><legend>Install in account</legend>${options}</fieldset>
<div class="actions"><button class="allow" type="submit" name="decision" value="allow">Allow</button><button type="submit" name="decision" value="deny">Deny</button></div>
</form>
<p class="muted">You will be sent back to ${request.redirectUri}.</p>`,
  );
}
