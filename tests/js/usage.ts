// Compiled (never run) by tests/test_webclient_declarations.py with `tsc -p tests/js`: code a
// TypeScript app writes against dualauth.d.ts. Each @ts-expect-error line must fail to compile:
// declarations that accepted it would be too loose.
import { DualAuthClient, DualAuthError, type Me, type SignInResult, type SignedOutDetail } from
  "../../django_dualauth/static/dualauth/dualauth.js";

const auth = new DualAuthClient({ baseUrl: "https://api.example.com/auth", csrfHeaderName: "X-CSRF-Token" });
new DualAuthClient();
new DualAuthClient({ fetch: (input, init) => fetch(input, init) });

async function signIn(email: string, password: string, code: () => Promise<string>): Promise<Me> {
  let result: SignInResult = await auth.login(email, password);
  if (result.status === "two-factor") {
    const methods: string[] = result.methods;
    if (methods.includes("totp")) result = await auth.verifyTwoFactor(result.tempToken, { totpCode: await code() });
    else await auth.cancelTwoFactor(result.tempToken);
  } else if (result.status === "two-factor-setup") {
    await auth.call("POST", "2fa/setup", { tempToken: result.tempToken });
  }
  if (result.status === "signed-in") {
    const seconds: number = result.expiresIn;
    void seconds;
  }
  const me = await auth.me();
  const flags: [string, string, string, boolean] = [me.sub, me.email, me.loginProvider, me.isTotpEnabled];
  void flags;
  return me;
}

async function calls(): Promise<void> {
  const sessions = await auth.call<{ sessions: { sessionHandle: string }[] }>("GET", "sessions");
  const handle: string = sessions.sessions[0].sessionHandle;
  await auth.call("DELETE", `sessions/${handle}`, undefined, { headers: { "X-Request-Id": "1" } });
  const res: Response = await auth.fetch("/api/report.csv", { method: "GET" });
  void res;
  const renewed: boolean = await auth.refresh();
  const count: number = await auth.logoutAll();
  await auth.logout();
  await auth.sendMagicLink("ada@example.com");
  await auth.verifyMagicLink("token");
  await auth.verifyTwoFactor("temp", { recoveryCode: "abcd-efgh" });
  await auth.verifyTwoFactor("temp", { smsCode: "123456" });
  void renewed;
  void count;
}

function errors(error: unknown): string {
  if (error instanceof DualAuthError) {
    const fields: [number, string, unknown, number | null, string] = [
      error.status, error.code, error.body, error.retryAfter, error.message];
    return fields.join();
  }
  const made = new DualAuthError(401, "SESSION_REVOKED", "Session has been revoked", { code: "SESSION_REVOKED" }, null);
  return made instanceof Error ? made.code : "";
}

auth.addEventListener("signedout", (event) => {
  const detail: SignedOutDetail = event.detail;
  const reason: "logout" | "logout-all" | "session-revoked" | "refresh-failed" = detail.reason;
  const code: string | undefined = detail.code;
  void reason;
  void code;
});
auth.addEventListener("signedin", (event) => {
  const status: "signed-in" | "two-factor" | "two-factor-setup" = event.detail.result.status;
  void status;
});
auth.addEventListener("other", (event: Event) => void event);

// @ts-expect-error: login needs the password
void auth.login("ada@example.com");
// @ts-expect-error: a second-factor code is an object
void auth.verifyTwoFactor("temp", "123456");
// @ts-expect-error: the error's fields are read-only
new DualAuthError(0, "NETWORK_ERROR").status = 1;
// @ts-expect-error: there is no such option
new DualAuthClient({ baseURL: "/auth" });
// @ts-expect-error: a signed-out reason is one of four
const wrong: SignedOutDetail = { reason: "expired" };
void wrong;
auth.addEventListener("signedout", (event) => {
  // @ts-expect-error: signedout's detail has no result
  void event.detail.result;
});

export { calls, errors, signIn };
