// django-dualauth's browser client: a plain ES module, no dependencies, no build step.
// The tokens are HttpOnly cookies: this code never sees, reads or stores them (nor uses
// localStorage/sessionStorage). It keeps only the CSRF token, in memory.
// Docs: docs/tutorial-web-spa.md. Types: dualauth.d.ts beside this file.

const SAFE = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);
// A 401 with one of these is an expired or missing access token: refresh once, retry once.
const REFRESHABLE = new Set(["INVALID_ACCESS_TOKEN", "NOT_AUTHENTICATED"]);
const ABSOLUTE = /^[a-z][a-z0-9+.-]*:/i;

/** An answer that is not a success, or a failed network round trip (status 0). */
export class DualAuthError extends Error {
  /** @param {number} status @param {string} code @param {string} [message] @param {unknown} [body] @param {number | null} [retryAfter] */
  constructor(status, code, message, body = null, retryAfter = null) {
    super(message || code);
    this.name = "DualAuthError";
    this.status = status;
    this.code = code;
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

async function readJson(res) {
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function retryAfter(res) {
  const value = res.headers.get("Retry-After");
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

async function errorOf(res) {
  const body = await readJson(res.clone());
  const json = body && typeof body === "object";
  const code = json && typeof body.code === "string" ? body.code : `HTTP_${res.status}`;
  const message = json && typeof body.error === "string" ? body.error : `HTTP ${res.status}`;
  return new DualAuthError(res.status, code, message, body === undefined ? null : body, retryAfter(res));
}

export class DualAuthClient extends EventTarget {
  #base;
  #fetch;
  #csrfHeader;
  /** @type {string | null} the CSRF token from GET <base>/csrf */
  #csrf = null;
  /** @type {Promise<string> | null} the one GET csrf in flight */
  #csrfLoading = null;
  /** @type {Promise<boolean> | null} the one refresh in flight (single-flight) */
  #refreshing = null;
  #state = "unknown"; // "in" | "out" | "unknown": signedout is emitted once per transition
  // Refreshes finished so far, and whether the last one worked: a 401 to a request sent before
  // a refresh finished is answered by that refresh (retry, or give up), not by another one.
  #refreshes = 0;
  #refreshed = false;

  constructor(options = {}) {
    super();
    this.#base = String(options.baseUrl ?? "/auth").replace(/\/+$/, "");
    // Looked up at each call by default, so a fetch wrapped after construction is used too.
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#csrfHeader = options.csrfHeaderName ?? "X-CSRF-Token";
  }

  #url(path) {
    return ABSOLUTE.test(path) || path.startsWith("/") ? path : `${this.#base}/${path}`;
  }

  #isAuthEndpoint(url, name) {
    return url === `${this.#base}/${name}`;
  }

  // The API's origin or the page's own: only there does the CSRF token go, and only from there
  // do a 401 or 403 concern this session.
  #ownOrigin(url) {
    const page = globalThis.location?.href;
    try {
      const origin = new URL(url, page).origin;
      return origin === new URL(this.#base, page).origin || (page !== undefined && origin === new URL(page).origin);
    } catch {
      return false;
    }
  }

  async #send(url, init) {
    try {
      return await this.#fetch(url, init);
    } catch (error) {
      throw new DualAuthError(0, "NETWORK_ERROR", error instanceof Error ? error.message : String(error));
    }
  }

  #loadCsrf() {
    this.#csrfLoading ??= (async () => {
      const res = await this.#send(this.#url("csrf"), { credentials: "include", cache: "no-store" });
      if (!res.ok) throw await errorOf(res);
      const body = await readJson(res);
      if (!body || typeof body.csrfToken !== "string") throw new DualAuthError(res.status, "BAD_RESPONSE", "No csrfToken");
      this.#csrf = body.csrfToken;
      return body.csrfToken;
    })().finally(() => {
      this.#csrfLoading = null;
    });
    return this.#csrfLoading;
  }

  #signedIn(result) {
    this.#state = "in";
    this.dispatchEvent(new CustomEvent("signedin", { detail: { result } }));
  }

  #signedOut(reason, code) {
    if (this.#state === "out") return;
    this.#state = "out";
    const detail = code ? { reason, code } : { reason };
    this.dispatchEvent(new CustomEvent("signedout", { detail }));
  }

  // The request, with credentials and the CSRF header; once more with a new CSRF token after
  // a 403 CSRF_INVALID; once more after one refresh on a refreshable 401 (unless noRefresh).
  async #request(input, init = {}, noRefresh = false) {
    const url = this.#url(String(input));
    const method = String(init.method ?? "GET").toUpperCase();
    const own = this.#ownOrigin(url); // a third party's 401 or 403 says nothing about this session
    const unsafe = own && !SAFE.has(method);
    let csrfRetried = false;
    let refreshed = false;
    for (;;) {
      const headers = new Headers(init.headers);
      if (unsafe) headers.set(this.#csrfHeader, this.#csrf ?? (await this.#loadCsrf()));
      const epoch = this.#refreshes;
      // fetch keeps request headers across a redirect, even to another origin: a request that
      // carries the CSRF token follows none (an open redirect would hand the token on).
      const redirect = unsafe && init.redirect !== "manual" ? "error" : init.redirect;
      const res = await this.#send(url, { ...init, method, headers, credentials: "include", redirect });
      if (res.ok) {
        if (unsafe && url.startsWith(`${this.#base}/`)) await this.#afterSuccess(url, res);
        return res;
      }
      if (!own || (res.status !== 401 && res.status !== 403)) return res;
      const { code } = await errorOf(res);
      if (res.status === 403) {
        if (code !== "CSRF_INVALID" || !unsafe || csrfRetried) return res;
        csrfRetried = true;
        this.#csrf = null; // stale (a sign-in elsewhere rotated it): fetch a new one
        continue;
      }
      if (code === "SESSION_REVOKED") {
        this.#signedOut("session-revoked", code);
        return res;
      }
      if (noRefresh || refreshed || !REFRESHABLE.has(code)) return res;
      refreshed = true;
      if (epoch !== this.#refreshes && !this.#refreshing) {
        if (!this.#refreshed) return res; // sent before a refresh that failed
      } else if (!(await this.refresh())) return res;
    }
  }

  // A sign-in step answered through call() or fetch() (2fa/verify-setup under a setup token,
  // register, ...): a new session means a rotated CSRF token, and a "signedin" event.
  async #afterSuccess(url, res) {
    if (this.#isAuthEndpoint(url, "refresh")) return;
    const body = await readJson(res.clone());
    if (body && typeof body === "object" && typeof body.expiresIn === "number") {
      await this.#newSession({ status: "signed-in", expiresIn: body.expiresIn, body });
    }
  }

  async #newSession(result) {
    this.#csrf = null;
    try {
      await this.#loadCsrf(); // login rotated it; the next unsafe call needs the new one
    } catch {
      // fetched again by the next unsafe request
    }
    this.#signedIn(result);
    return result;
  }

  fetch(input, init = {}) {
    return this.#request(input, init);
  }

  async call(method, path, body, init = {}) {
    return this.#json(method, path, body, init, false);
  }

  async #json(method, path, body, init, noRefresh) {
    const headers = new Headers(init.headers);
    const options = { ...init, method, headers };
    if (body !== undefined) {
      headers.set("Content-Type", "application/json");
      options.body = JSON.stringify(body);
    }
    const res = await this.#request(path, options, noRefresh);
    if (!res.ok) throw await errorOf(res);
    const parsed = await readJson(res);
    if (parsed === undefined) throw new DualAuthError(res.status, "BAD_RESPONSE", "The answer is not JSON");
    return parsed;
  }

  // A sign-in step's answer as a SignInResult; 2FA_SETUP_REQUIRED is a result, not an error.
  async #signIn(path, body) {
    let answer;
    try {
      answer = await this.#json("POST", path, body, {}, true);
    } catch (error) {
      const body = error instanceof DualAuthError && error.code === "2FA_SETUP_REQUIRED" ? /** @type {any} */ (error.body) : null;
      if (typeof body?.tempToken === "string") return { status: "two-factor-setup", tempToken: body.tempToken, body };
      throw error;
    }
    if (answer?.requiresTwoFactor) {
      return { status: "two-factor", tempToken: answer.tempToken, methods: answer.available2faMethods ?? [], body: answer };
    }
    // #afterSuccess already refetched the CSRF token and announced the session.
    return { status: "signed-in", expiresIn: answer?.expiresIn, body: answer };
  }

  login(email, password) {
    return this.#signIn("login", { email, password });
  }

  verifyTwoFactor(tempToken, code = {}) {
    if (code.smsCode !== undefined) return this.#signIn("sms/verify", { mode: "2fa", tempToken, code: code.smsCode });
    const proof = code.recoveryCode !== undefined ? { recoveryCode: code.recoveryCode } : { totpCode: code.totpCode };
    return this.#signIn("2fa/verify", { tempToken, ...proof });
  }

  async cancelTwoFactor(tempToken) {
    await this.#json("POST", "logout", { tempToken }, {}, true);
  }

  async sendMagicLink(email) {
    await this.#json("POST", "magic-link/send", { email }, {}, true);
  }

  verifyMagicLink(token) {
    return this.#signIn("magic-link/verify", { token });
  }

  async me() {
    const me = await this.call("GET", "me");
    this.#state = "in";
    return me;
  }

  // Single-flight within this page; across tabs a Web Lock (where there is one) serialises
  // the refreshes, so two tabs never send the same refresh cookie at once.
  refresh() {
    this.#refreshing ??= this.#refreshLocked().then(
      (ok) => this.#settled(ok),
      (error) => {
        this.#settled(false);
        throw error;
      },
    );
    return this.#refreshing;
  }

  #settled(ok) {
    this.#refreshing = null;
    this.#refreshes += 1;
    this.#refreshed = ok;
    return ok;
  }

  #refreshLocked() {
    const locks = globalThis.navigator?.locks;
    if (!locks?.request) return this.#refreshNow();
    let name = this.#url("refresh");
    try {
      name = new URL(name, globalThis.location?.href).href; // one lock per API, whatever the spelling
    } catch {
      // no page to resolve against: the URL as given
    }
    return locks.request(`dualauth-refresh ${name}`, () => this.#refreshNow());
  }

  async #refreshNow() {
    const res = await this.#request("refresh", { method: "POST" }, true);
    if (res.ok) {
      this.#state = "in";
      return true;
    }
    const error = await errorOf(res);
    if (res.status !== 401) throw error; // 429, 503, ...: the session may still be fine
    this.#signedOut(error.code === "SESSION_REVOKED" ? "session-revoked" : "refresh-failed", error.code);
    return false;
  }

  async logout() {
    try {
      await this.#json("POST", "logout", undefined, {}, true);
    } catch (error) {
      if (!(error instanceof DualAuthError) || error.status === 0) throw error; // the server never answered
    }
    this.#signedOut("logout");
  }

  async logoutAll() {
    const answer = await this.call("POST", "logout-all");
    this.#signedOut("logout-all");
    return answer?.revokedSessions ?? 0;
  }
}
