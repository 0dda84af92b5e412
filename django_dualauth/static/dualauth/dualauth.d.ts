// TypeScript declarations of dualauth.js (django-dualauth's browser client). Docs: docs/tutorial-web-spa.md.

export interface DualAuthClientOptions {
  /** Where `include("django_dualauth.urls")` is mounted; default "/auth". May be absolute (cross-origin). */
  baseUrl?: string;
  /** Default: globalThis.fetch, looked up at each request. */
  fetch?: typeof fetch;
  /** Default "X-CSRF-Token" (Django's CSRF_HEADER_NAME = "HTTP_X_CSRF_TOKEN"). */
  csrfHeaderName?: string;
}

export type SignInResult =
  | { status: "signed-in"; expiresIn: number; body: any }
  | { status: "two-factor"; tempToken: string; methods: string[]; body: any }
  | { status: "two-factor-setup"; tempToken: string; body: any };

export interface Me {
  sub: string;
  email: string;
  loginProvider: string;
  isTotpEnabled: boolean;
  [k: string]: unknown;
}

export type SignedOutReason = "logout" | "logout-all" | "session-revoked" | "refresh-failed";

export interface SignedInDetail {
  result: SignInResult;
}

export interface SignedOutDetail {
  reason: SignedOutReason;
  code?: string;
}

export interface DualAuthClientEventMap {
  signedin: CustomEvent<SignedInDetail>;
  signedout: CustomEvent<SignedOutDetail>;
}

export class DualAuthError extends Error {
  constructor(status: number, code: string, message?: string, body?: unknown, retryAfter?: number | null);
  /** HTTP status, 0 for a network failure. */
  readonly status: number;
  /** The server's "code" ("INVALID_CREDENTIALS", "SESSION_REVOKED", ...), "NETWORK_ERROR", or "HTTP_<status>" for a body without one. */
  readonly code: string;
  /** The parsed JSON body, if any. */
  readonly body: unknown;
  /** Seconds, from Retry-After (429, 503); cross-origin only if the server exposes that header. */
  readonly retryAfter: number | null;
}

export class DualAuthClient extends EventTarget {
  constructor(options?: DualAuthClientOptions);
  /**
   * `path` relative to baseUrl ("sessions", "2fa/setup"), or an absolute URL / a path starting with "/".
   * Resolves to the parsed JSON body (null for an empty body); rejects with DualAuthError.
   */
  call<T = any>(method: string, path: string, body?: unknown, init?: RequestInit): Promise<T>;
  /** As call(), resolving to the raw Response (after the one retry), whatever its status. */
  fetch(input: string, init?: RequestInit): Promise<Response>;
  login(email: string, password: string): Promise<SignInResult>;
  verifyTwoFactor(
    tempToken: string,
    code: { totpCode?: string; recoveryCode?: string; smsCode?: string },
  ): Promise<SignInResult>;
  cancelTwoFactor(tempToken: string): Promise<void>;
  sendMagicLink(email: string): Promise<void>;
  verifyMagicLink(token: string): Promise<SignInResult>;
  me(): Promise<Me>;
  /** Single-flight; true when a new session pair was set, false when the session is gone (401). */
  refresh(): Promise<boolean>;
  /** Resolves once the server answered; emits "signedout" {reason: "logout"}. */
  logout(): Promise<void>;
  /** The number of sessions revoked; emits "signedout" {reason: "logout-all"}. */
  logoutAll(): Promise<number>;

  addEventListener<K extends keyof DualAuthClientEventMap>(
    type: K,
    listener: (this: DualAuthClient, event: DualAuthClientEventMap[K]) => any,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof DualAuthClientEventMap>(
    type: K,
    listener: (this: DualAuthClient, event: DualAuthClientEventMap[K]) => any,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}
