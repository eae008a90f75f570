// Passkeys (WebAuthn) for the admins' second factor: runs navigator.credentials.create / get
// for the two-factor screen (`form[data-passkey-register]`) and the second sign-in step
// (`form[data-passkey-sign-in]`), talking to the portal's server functions. A static file, so
// the page's Content-Security-Policy (script-src 'self', no inline script) allows it.
(() => {
  "use strict";
  if (window.__portalPasskeys) return;
  window.__portalPasskeys = true;

  const fromB64url = (s) => {
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((s.length + 3) % 4);
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  };
  const toB64url = (buf) => {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };
  // The server's JSON may carry `null` for absent options; WebIDL dictionaries want them absent.
  const dropNulls = (v) => {
    if (Array.isArray(v)) return v.map(dropNulls);
    if (v && typeof v === "object") {
      const out = {};
      for (const [k, x] of Object.entries(v)) if (x !== null && x !== undefined) out[k] = dropNulls(x);
      return out;
    }
    return v;
  };

  const GENERIC = "Something went wrong. Reload the page and try again.";
  async function call(name, params) {
    const res = await fetch("/api/" + name, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams(params),
    });
    const text = await res.text();
    let body = null;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      body = null;
    }
    if (!res.ok) throw new Error((body && body.message) || GENERIC);
    return body;
  }

  function say(form, status, error) {
    const s = form.querySelector("[data-passkey-status]");
    const e = form.querySelector("[data-passkey-error]");
    if (s) s.textContent = status || "";
    if (e) {
      e.textContent = error || "";
      e.hidden = !error;
    }
  }

  function browserError(err) {
    if (err && err.name === "NotAllowedError") return "The passkey request was cancelled or timed out. Try again.";
    if (err && err.name === "InvalidStateError") return "This passkey is already registered on your account.";
    return (err && err.message) || GENERIC;
  }

  async function register(form) {
    const button = form.querySelector("button[type=submit]");
    const name = (form.querySelector("input[name=name]") || {}).value || "";
    button.disabled = true;
    say(form, "Follow your browser's prompt…", "");
    try {
      const options = dropNulls(JSON.parse(await call("passkey_register_begin", { name })));
      const pk = options.publicKey;
      pk.challenge = fromB64url(pk.challenge);
      pk.user.id = fromB64url(pk.user.id);
      for (const c of pk.excludeCredentials || []) c.id = fromB64url(c.id);
      const cred = await navigator.credentials.create({ publicKey: pk });
      const credential = {
        id: cred.id,
        rawId: toB64url(cred.rawId),
        type: cred.type,
        response: {
          attestationObject: toB64url(cred.response.attestationObject),
          clientDataJSON: toB64url(cred.response.clientDataJSON),
        },
        extensions: {},
      };
      say(form, "Saving…", "");
      await call("passkey_register_finish", { credential: JSON.stringify(credential) });
      say(form, "Passkey added.", "");
      window.location.reload();
    } catch (err) {
      say(form, "", browserError(err));
      button.disabled = false;
    }
  }

  async function signIn(form) {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    say(form, "Follow your browser's prompt…", "");
    try {
      const options = dropNulls(JSON.parse(await call("passkey_sign_in_begin", {})));
      const pk = options.publicKey;
      pk.challenge = fromB64url(pk.challenge);
      for (const c of pk.allowCredentials || []) c.id = fromB64url(c.id);
      const a = await navigator.credentials.get({ publicKey: pk });
      const credential = {
        id: a.id,
        rawId: toB64url(a.rawId),
        type: a.type,
        response: {
          authenticatorData: toB64url(a.response.authenticatorData),
          clientDataJSON: toB64url(a.response.clientDataJSON),
          signature: toB64url(a.response.signature),
          userHandle: a.response.userHandle ? toB64url(a.response.userHandle) : null,
        },
        extensions: {},
      };
      say(form, "Checking…", "");
      await call("passkey_sign_in_finish", { credential: JSON.stringify(credential) });
      window.location.assign("/admin");
    } catch (err) {
      say(form, "", browserError(err));
      button.disabled = false;
    }
  }

  document.addEventListener(
    "submit",
    (ev) => {
      const form = ev.target;
      if (!(form instanceof HTMLFormElement)) return;
      const kind = form.hasAttribute("data-passkey-register")
        ? register
        : form.hasAttribute("data-passkey-sign-in")
          ? signIn
          : null;
      if (!kind) return;
      ev.preventDefault();
      if (!window.PublicKeyCredential || !navigator.credentials) {
        say(form, "", "This browser does not support passkeys. Use another method.");
        return;
      }
      kind(form);
    },
    true,
  );
})();
