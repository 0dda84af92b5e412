// The demo's pages, on top of the browser client shipped with django-dualauth. No framework, no
// build step. The client sends the cookies, the CSRF header and the one refresh; this script only
// shows what the API answers. It never sees a token: they are HttpOnly cookies.
import { DualAuthClient, DualAuthError } from "../dualauth/dualauth.js";

const $ = (id) => document.getElementById(id);
const page = document.body.dataset.page;
const client = new DualAuthClient({ baseUrl: document.body.dataset.apiBase || "/auth" });

let signedIn = false; // what this page shows, so that "signed out" is said only after "signed in"
let pendingTempToken = null; // the second step of a sign-in, while it is pending
let pendingSetupToken = null; // the enrolment a sign-in must go through first (2FA_SETUP_REQUIRED)

const MESSAGES = {
  INVALID_CREDENTIALS: "Wrong e-mail or password.",
  INVALID_2FA_CODE: "That code is not right: use the one your app shows now.",
  INVALID_TEMP_TOKEN: "This sign-in took too long or was cancelled: start again.",
  INVALID_MAGIC_LINK: "This link has expired or was already used.",
  INVALID_TOKEN: "This link has expired or was already used.",
  INVALID_LINK_TOKEN: "This link has expired or was already used.",
  REAUTHENTICATION_FAILED: "The password is not right.",
  RATE_LIMITED: "Too many attempts.",
  SESSION_REVOKED: "This session was signed out.",
  NOT_AUTHENTICATED: "You are not signed in.",
  NETWORK_ERROR: "The server cannot be reached.",
  "2FA_ALREADY_ENABLED": "Two-factor authentication is already on.",
  EMAIL_NOT_VERIFIED: "Verify your e-mail address first: the mail with the link is on its way.",
};

function describe(error) {
  if (!(error instanceof DualAuthError)) return `Something went wrong: ${error?.message ?? error}`;
  const body = error.body && typeof error.body === "object" ? error.body : {};
  let text = MESSAGES[error.code] ?? body.error ?? error.message;
  if (body.fields && typeof body.fields === "object") text += " " + Object.values(body.fields).flat().join(" ");
  if (error.retryAfter) text += ` Try again in ${error.retryAfter} s.`;
  return `${text} (${error.code})`;
}

function say(text) {
  $("error").textContent = "";
  $("status").textContent = text;
}

function fail(error) {
  $("status").textContent = "";
  $("error").textContent = typeof error === "string" ? error : describe(error);
}

// Run one user action: its buttons disabled meanwhile, any failure shown.
async function run(element, work) {
  const buttons = element.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  $("error").textContent = "";
  $("status").textContent = ""; // what the last action said is no longer news
  try {
    await work();
  } catch (error) {
    fail(error);
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

function onSubmit(id, work) {
  const form = $(id);
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(form, () => work(new FormData(form), form));
  });
}

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

// ---- the sign-in steps (every page: a magic link can lead to the second step too)

async function afterSignIn(result) {
  if (result.status === "two-factor") {
    pendingTempToken = result.tempToken;
    stopWaitingForMailLink(); // a new challenge: a link mailed for an earlier one cannot finish it
    $("two-factor-mail").hidden = !(result.methods ?? []).includes("magic-link");
    showOnly("two-factor");
    $("two-factor-code").focus();
    return;
  }
  if (result.status === "two-factor-setup") {
    // DUALAUTH_REQUIRE_2FA or the account's own flag: it enrols before it may sign in, under
    // the temp token, and confirming the code starts the session.
    if (page !== "home") {
      fail("This account must set up two-factor authentication first: sign in on the demo page.");
      return;
    }
    pendingSetupToken = result.tempToken;
    const setup = await client.call("POST", "2fa/setup", { tempToken: result.tempToken });
    $("sr-qr").src = setup.qrCode;
    $("sr-secret").textContent = setup.secret;
    showOnly("setup-required");
    $("sr-code").focus();
    return;
  }
  if (page !== "home") {
    location.assign("/");
    return;
  }
  await showAccount();
  say("Signed in.");
  $("main").focus();
}

onSubmit("two-factor-form", async (data, form) => {
  const code = String(data.get("code")).trim();
  const proof = data.get("recovery") ? { recoveryCode: code } : { totpCode: code };
  try {
    const result = await client.verifyTwoFactor(pendingTempToken, proof);
    pendingTempToken = null;
    stopWaitingForMailLink();
    form.reset();
    await afterSignIn(result);
  } catch (error) {
    if (challengeIsDead(error)) endChallenge();
    throw error;
  }
});

function challengeIsDead(error) {
  return error instanceof DualAuthError && (error.code === "INVALID_TEMP_TOKEN" || error.status === 429);
}

// The challenge is dead (or cancelled): back to the first step.
function endChallenge() {
  pendingTempToken = null;
  stopWaitingForMailLink();
  $("two-factor-form").reset();
  showOnly(page === "home" ? "signed-out" : "token-page");
}

// ---- a magic link as the second step (mode 2fa)
//
// Finishing needs the link's token and this challenge's temp token, which lives only in this
// tab's memory: never in a URL, never in storage. So this tab waits, and the page the link
// opens hands the link's token to it through a BroadcastChannel, which only pages of this
// origin in this browser can hear; the token never goes to a server in a URL. Any same-origin
// tab may hear it, which gives it nothing: the link is single use, bound to this challenge, and
// worthless without the temp token.
const HANDOFF = "dualauth-demo-magic-link-2fa";
let mailLinkChannel = null;

function stopWaitingForMailLink() {
  mailLinkChannel?.close();
  mailLinkChannel = null;
}

function waitForMailLink() {
  if (mailLinkChannel || typeof BroadcastChannel !== "function") return;
  const channel = new BroadcastChannel(HANDOFF);
  mailLinkChannel = channel;
  let busy = false;
  channel.addEventListener("message", async ({ data }) => {
    if (data?.type !== "token" || typeof data.token !== "string" || typeof data.id !== "string") return;
    if (busy || !pendingTempToken) return; // the link's page hears no "received" and says what to do
    busy = true;
    channel.postMessage({ type: "received", id: data.id });
    try {
      await client.call("POST", "magic-link/verify", { mode: "2fa", token: data.token, tempToken: pendingTempToken });
    } catch (error) {
      channel.postMessage({ type: "result", id: data.id, ok: false, message: describe(error) });
      // A link of another challenge, or a spent one: this challenge still waits for its own.
      if (challengeIsDead(error)) endChallenge();
      fail(error);
      return;
    } finally {
      busy = false;
    }
    channel.postMessage({ type: "result", id: data.id, ok: true });
    pendingTempToken = null;
    stopWaitingForMailLink();
    $("two-factor-form").reset();
    await afterSignIn({ status: "signed-in" }).catch(fail);
  });
}

$("two-factor-mail-send")?.addEventListener("click", () => run($("two-factor-mail"), async () => {
  try {
    await client.call("POST", "magic-link/send", { mode: "2fa", tempToken: pendingTempToken });
  } catch (error) {
    if (challengeIsDead(error)) endChallenge();
    throw error;
  }
  waitForMailLink();
  say("A sign-in link is on its way (the demo prints mails on the server console). Open it in this browser"
    + " and keep this tab open: it finishes here. Or enter a code.");
}));

// The link's page: hand the token to the tab that waits for it; what came of it.
// "nobody": no tab of this browser waits (closed, another browser, or the sign-in ended).
function handOffMailLink(token) {
  return new Promise((resolve) => {
    const channel = new BroadcastChannel(HANDOFF);
    const id = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, "0")).join("");
    let heard = 0;
    let failure = null;
    let results = 0;
    let timer;
    const finish = (outcome) => {
      clearTimeout(timer);
      channel.close();
      resolve(outcome);
    };
    const wait = (ms, outcome) => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(outcome()), ms);
    };
    channel.addEventListener("message", ({ data }) => {
      if (data?.id !== id) return;
      if (data.type === "received") {
        heard += 1;
        wait(60000, () => failure ? { status: "failed", ...failure } : { status: "nobody" }); // the API's answer
      } else if (data.type === "result") {
        results += 1;
        if (data.ok) finish({ status: "ok" });
        else {
          failure = { message: data.message };
          if (results >= heard) finish({ status: "failed", ...failure });
        }
      }
    });
    wait(5000, () => ({ status: "nobody" })); // a waiting tab says "received" at once
    channel.postMessage({ type: "token", token, id });
  });
}

async function finishMailLinkElsewhere(token, form) {
  const outcome = typeof BroadcastChannel === "function" ? await handOffMailLink(token) : { status: "nobody" };
  if (outcome.status === "ok") {
    form.hidden = true;
    $("token-done").hidden = false;
    say("Signed in: your first tab finished the sign-in. You can close this tab.");
  } else if (outcome.status === "failed") {
    fail(outcome.message);
  } else {
    fail("No tab of this browser is waiting for this link. Go back to the tab where you started signing in,"
      + " keep it open, and press this button again; or finish there with a code.");
  }
}

$("two-factor-cancel")?.addEventListener("click", () => run($("two-factor"), async () => {
  const tempToken = pendingTempToken;
  endChallenge();
  if (tempToken) await client.cancelTwoFactor(tempToken);
  say("Sign-in cancelled.");
}));

const VIEWS = ["loading", "signed-out", "setup-required", "signed-in", "two-factor", "token-page"];

const TITLES = {
  "signed-out": "Sign in", "signed-in": "Your account", "two-factor": "Sign in: second step",
  "setup-required": "Sign in: set up two-factor",
};

function showOnly(id) {
  for (const view of VIEWS) {
    const element = $(view);
    if (element) element.hidden = view !== id;
  }
  if (page === "home" && TITLES[id]) {
    $("title").textContent = TITLES[id];
    document.title = `${TITLES[id]} · django-dualauth demo`;
  }
}

client.addEventListener("signedout", (event) => {
  if (!signedIn || page !== "home") return;
  signedIn = false;
  $("who").textContent = "";
  showOnly("signed-out");
  const reason = event.detail?.reason;
  say(reason === "logout" ? "Signed out."
    : reason === "logout-all" ? "Signed out everywhere."
      : "Your session has ended (signed out elsewhere, or expired). Sign in again.");
});

// ---- the home page

async function showAccount() {
  const me = await client.me();
  signedIn = true;
  $("who").textContent = `Signed in as ${me.email}`;
  const facts = [["E-mail", me.email], ["User id (sub)", me.sub], ["Signed up with", me.loginProvider],
    ["E-mail verified", me.isEmailVerified === undefined ? "–" : me.isEmailVerified ? "yes" : "no"],
    ["Two-factor", me.isTotpEnabled ? "on" : "off"]];
  $("me").replaceChildren(...facts.flatMap(([term, value]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value ?? "–";
    return [dt, dd];
  }));
  showTwoFactorState(Boolean(me.isTotpEnabled));
  $("verify-send").hidden = me.isEmailVerified !== false;
  showOnly("signed-in");
  await loadSessions();
}

function showTwoFactorState(enabled) {
  $("tf-state").textContent = enabled
    ? "On: signing in asks for a code from your authenticator app."
    : "Off: a password alone signs you in.";
  $("tf-start").hidden = enabled;
  $("tf-disable-form").hidden = !enabled;
  if (enabled) $("tf-setup").hidden = true;
}

async function loadSessions() {
  const { sessions } = await client.call("GET", "sessions");
  $("sessions").tBodies[0].replaceChildren(...sessions.map(sessionRow));
}

function sessionRow(session) {
  const row = document.createElement("tr");
  row.dataset.handle = session.sessionHandle;
  const device = session.userAgent || "Unknown device";
  const cells = [device, session.ipAddress || "–", when(session.createdAt), when(session.lastActiveAt)];
  cells.forEach((text, i) => {
    const cell = document.createElement("td");
    cell.textContent = text;
    if (i === 0) {
      cell.className = "device";
      const kind = document.createElement("div");
      kind.className = "muted";
      kind.textContent = session.deliveryMode === "bearer" ? "app (bearer tokens)" : "browser (cookies)";
      cell.append(kind);
      if (session.current) {
        const badge = document.createElement("span");
        badge.className = "badge";
        badge.textContent = "This device";
        kind.append(" ", badge);
      }
    }
    row.append(cell);
  });
  const action = document.createElement("td");
  if (session.current) {
    action.textContent = "–";
    action.className = "muted";
  } else {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "danger revoke";
    button.textContent = "Revoke";
    button.setAttribute("aria-label", `Revoke the session of ${device}, signed in ${when(session.createdAt)}`);
    button.addEventListener("click", () => run(row, async () => {
      await client.call("DELETE", `sessions/${encodeURIComponent(session.sessionHandle)}`);
      await loadSessions();
      say("That session is signed out.");
      $("sessions-reload").focus(); // its button is gone
    }));
    action.append(button);
  }
  row.append(action);
  return row;
}

function showRecoveryCodes(codes) {
  $("tf-codes-list").replaceChildren(...codes.map((code) => {
    const item = document.createElement("li");
    item.textContent = code;
    return item;
  }));
  $("tf-codes").hidden = false;
}

async function startHome() {
  onSubmit("sr-form", async (data, form) => {
    const answer = await client.call("POST", "2fa/verify-setup",
      { token: String(data.get("code")).trim(), tempToken: pendingSetupToken });
    pendingSetupToken = null;
    form.reset();
    $("sr-secret").textContent = "";
    $("sr-qr").removeAttribute("src");
    showRecoveryCodes(answer.recoveryCodes);
    await showAccount();
    say("Two-factor authentication is on, and you are signed in.");
    $("main").focus();
  });
  onSubmit("login-form", async (data) => {
    const result = await client.login(String(data.get("email")), String(data.get("password")));
    $("login-form").reset();
    await afterSignIn(result);
  });
  onSubmit("magic-form", async (data, form) => {
    await client.sendMagicLink(String(data.get("email")));
    form.reset();
    say("If the address has an account, a sign-in link is on its way (the demo prints mails on the server console).");
  });
  onSubmit("forgot-form", async (data, form) => {
    await client.call("POST", "forgot-password", { email: String(data.get("email")) });
    form.reset();
    say("If the address has an account, a reset link is on its way (the demo prints mails on the server console).");
  });
  onSubmit("register-form", async (data, form) => {
    const email = String(data.get("email"));
    await client.call("POST", "register", { email, password: String(data.get("password")) });
    form.reset();
    $("login-email").value = email;
    say("Account created: sign in with it.");
    $("login-password").focus();
  });
  $("logout").addEventListener("click", () => run($("signed-in"), () => client.logout()));
  $("logout-all").addEventListener("click", () => run($("signed-in"), async () => {
    const revoked = await client.logoutAll();
    say(`Signed out everywhere (${revoked} session${revoked === 1 ? "" : "s"}).`);
  }));
  $("verify-send").addEventListener("click", () => run($("verify-send").parentElement, async () => {
    await client.call("POST", "send-verification-email");
    say("A verification link is on its way (the demo prints mails on the server console).");
  }));
  $("sessions-reload").addEventListener("click", () => run($("sessions-reload").parentElement, loadSessions));
  $("tf-start").addEventListener("click", () => run($("tf-start").parentElement, async () => {
    const setup = await client.call("POST", "2fa/setup");
    $("tf-qr").src = setup.qrCode; // a data: URL drawn by the server (segno)
    $("tf-secret").textContent = setup.secret;
    $("tf-codes").hidden = true;
    $("tf-setup").hidden = false;
    $("tf-start").hidden = true;
    $("tf-confirm-code").focus();
  }));
  onSubmit("tf-confirm-form", async (data, form) => {
    const answer = await client.call("POST", "2fa/verify-setup", { token: String(data.get("code")).trim() });
    form.reset();
    $("tf-setup").hidden = true;
    $("tf-secret").textContent = "";
    $("tf-qr").removeAttribute("src");
    showRecoveryCodes(answer.recoveryCodes);
    await showAccount();
    say("Two-factor authentication is on. Your other sessions were signed out.");
  });
  onSubmit("tf-disable-form", async (data, form) => {
    await client.call("POST", "2fa/disable", { password: String(data.get("password")) });
    form.reset();
    $("tf-codes").hidden = true;
    await showAccount();
    say("Two-factor authentication is off.");
  });
  onSubmit("email-form", async (data, form) => {
    await client.call("POST", "change-email/request", {
      newEmail: String(data.get("newEmail")), password: String(data.get("password")),
    });
    form.reset();
    say("A confirmation link is on its way to the new address (the demo prints mails on the server console).");
  });
  onSubmit("password-form", async (data, form) => {
    await client.call("POST", "change-password", {
      currentPassword: String(data.get("currentPassword")), newPassword: String(data.get("newPassword")),
    });
    form.reset();
    await loadSessions();
    say("Password changed. Your other sessions were signed out.");
  });

  try {
    await showAccount();
  } catch (error) {
    showOnly("signed-out");
    if (!(error instanceof DualAuthError && error.status === 401)) fail(error);
  }
}

// ---- the pages the mails link to: each POSTs the token from its URL, on a press of its button

const TOKEN_ACTIONS = {
  "magic-link": async (token) => afterSignIn(await client.verifyMagicLink(token)),
  "reset-password": async (token, data) => {
    await client.call("POST", "reset-password", { token, password: String(data.get("password")) });
    say("Your new password is set, and every session was signed out: sign in with it.");
  },
  "verify-email": async (token) => {
    await client.call("POST", "verify-email", { token });
    say("Your e-mail address is verified.");
  },
  "confirm-email": async (token) => {
    await client.call("POST", "change-email/confirm", { token });
    say("Your account's e-mail address is changed.");
  },
  "link-verify": async (token, data) => {
    const loginAfterLinking = data.get("loginAfterLinking") === "on";
    const answer = await client.call("POST", "link-verify", { token, loginAfterLinking });
    if (answer?.requiresTwoFactor) {
      await afterSignIn({ status: "two-factor", tempToken: answer.tempToken, methods: answer.available2faMethods });
    } else if (loginAfterLinking) {
      location.assign("/");
    } else {
      say("Linked.");
    }
  },
};

function startTokenPage() {
  const params = new URLSearchParams(location.search);
  const token = params.get("token");
  // The token leaves the address bar (and the history); the page also answers no-referrer.
  if (location.search) history.replaceState(null, "", location.pathname);
  const form = $("token-form");
  if (!token) {
    fail("This page opens from the link in a mail, and this address has no token.");
    form.querySelectorAll("button, input").forEach((e) => { e.disabled = true; });
    return;
  }
  if (page === "magic-link" && params.get("mode") === "2fa") {
    $("magic-2fa-text").hidden = false;
    $("magic-login-text").hidden = true;
    form.querySelector("button").textContent = "Finish signing in";
    onSubmit("token-form", () => finishMailLinkElsewhere(token, form));
    return;
  }
  onSubmit("token-form", async (data) => {
    await TOKEN_ACTIONS[page](token, data);
    if (page !== "magic-link") {
      form.hidden = true; // the token is spent
      $("token-done").hidden = false;
    }
  });
}

if (page === "home") startHome();
else startTokenPage();
