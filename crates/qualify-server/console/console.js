// qualify console: a client of the operator API (/admin/v1), plain JavaScript, no dependencies.
// Its scripts, loaded in this order (index.html): console.js (this one: the API, routing, sign-in,
// the event stream, decisions, the helpers the views share, on `window.qualifyConsole`),
// queue.js, request.js and partner.js (one view each, registered in `qualifyConsole.views`),
// start.js (starts it).
//
// - The admin token lives in sessionStorage only and is sent as the bearer token of every call;
//   it never goes into a URL or a log.
// - Views are URLs (bookmarkable): /console/ (the review queue, filters in the query string),
//   /console/requests/{customerId}/{qualification}, /console/partners/{partnerId}.
// - Live updates come from the event stream (GET /admin/v1/events), read with fetch and a
//   readable stream so that the token travels in a header (EventSource cannot send one).
"use strict";

(function () {
  const C = (window.qualifyConsole = { views: {} });
  const TOKEN_KEY = "qualify.console.token";
  const QUALIFICATIONS = ["Education", "GovernmentCommunityCloud", "StateOwnedEntity"];
  const STATUSES = ["InReview", "Approved", "Denied"];
  // Microsoft's published denial reasons (api.md 4.2, and the two of the REST change log;
  // docs/vetting.md lists them); free text is allowed too.
  const REASONS = [
    "Not an Education Customer",
    "No longer an Education Customer",
    "Not an Academic Domain",
    "Not an eligible Library",
    "Not an eligible Museum",
    "Not an Education Customer - After Review",
    "Restricted being an Education Customer",
  ];
  const CONFLICT = "This request changed since you opened it";

  const $ = (id) => document.getElementById(id);
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY),
    view: null, // the current view: {name, onTransition?, onKey?, dispose?}
    stream: null, // AbortController of the event stream
    lastEventId: null,
    focusReason: false,
  };

  // ---- DOM helpers (text only: nothing from the API is ever parsed as HTML) --------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else if (v === true) el.setAttribute(k, "");
      else el.setAttribute(k, String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  const field = (id, label, control) =>
    h("div", { class: "field" }, h("label", { for: id }, label), control);
  const dl = (pairs) =>
    h("dl", {}, pairs.filter(([, v]) => v !== undefined).flatMap(([k, v]) => [
      h("dt", {}, k),
      h("dd", {}, v === null || v === "" ? h("span", { class: "muted" }, "—") : v),
    ]));
  const pill = (status) => h("span", { class: "pill " + status }, status);
  const unavailable = (what) =>
    h("p", { class: "unavailable" }, what + " is not available on this server yet.");

  function say(text) {
    $("status").textContent = text || "";
  }

  // ---- the API -----------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.description) || "The server answered " + status + ".");
      this.status = status;
      this.body = body;
    }
  }

  async function api(method, path, options) {
    const opts = options || {};
    const headers = { Accept: "application/json" };
    const token = opts.token || state.token;
    if (token) headers.Authorization = "Bearer " + token;
    if (opts.etag) headers["If-Match"] = '"' + opts.etag + '"';
    let body;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    let res;
    try {
      res = await fetch(path, { method, headers, body, cache: "no-store", credentials: "omit" });
    } catch (e) {
      throw new ApiError(0, { description: "The server could not be reached." });
    }
    const text = await res.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch (e) {
      json = null;
    }
    if (!res.ok) {
      if (res.status === 401 && !opts.token) signOut(json && json.description);
      throw new ApiError(res.status, json);
    }
    return { body: json, headers: res.headers, status: res.status };
  }

  // ---- routing -----------------------------------------------------------------------------
  function route() {
    const path = location.pathname.replace(/\/+$/, "");
    const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
    // ["console", ...]
    if (parts[1] === "requests" && parts.length === 4) {
      return { name: "request", customer: parts[2], qualification: parts[3] };
    }
    if (parts[1] === "partners" && parts.length === 3) {
      return { name: "partner", partner: parts[2] };
    }
    return { name: "queue", query: new URLSearchParams(location.search) };
  }

  function navigate(url, replace) {
    say("");
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    render();
  }

  function requestUrl(customer, qualification) {
    return "/console/requests/" + encodeURIComponent(customer) + "/" + encodeURIComponent(qualification);
  }
  function partnerUrl(partner) {
    return "/console/partners/" + encodeURIComponent(partner);
  }

  document.addEventListener("click", (e) => {
    const a = e.target.closest && e.target.closest("a[data-nav]");
    if (!a || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(a.getAttribute("href"));
  });
  window.addEventListener("popstate", render);

  document.addEventListener("keydown", (e) => {
    if (e.metaKey || e.ctrlKey || e.altKey) return;
    const t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName))) return;
    if (state.view && state.view.onKey && state.view.onKey(e)) e.preventDefault();
  });

  function setView(view) {
    if (state.view && state.view.dispose) state.view.dispose();
    state.view = view;
  }

  async function render() {
    const nav = $("nav");
    const root = $("view");
    if (!state.token) {
      nav.hidden = true;
      stopStream();
      setView({ name: "signin" });
      return renderSignIn(root);
    }
    nav.hidden = false;
    startStream();
    const r = route();
    return C.views[r.name](root, r);
  }

  function show(root, ...children) {
    root.replaceChildren(...children);
  }

  // ---- sign in -----------------------------------------------------------------------------
  function signOut(reason) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    stopStream();
    state.signOutReason = reason || null;
    render();
  }

  async function signIn(token) {
    // The token is checked with a call it must be allowed to make.
    await api("GET", "/admin/v1/reviews?limit=1", { token });
    state.token = token;
    sessionStorage.setItem(TOKEN_KEY, token);
    say("Signed in.");
    render();
  }

  async function renderSignIn(root) {
    const error = h("div", { id: "signin-error", role: "alert" });
    if (state.signOutReason) {
      error.className = "alert";
      error.textContent = state.signOutReason;
    }
    const input = h("input", {
      id: "token", name: "token", type: "password", autocomplete: "off", spellcheck: "false", required: true,
      "aria-describedby": "token-help",
    });
    const fail = (e) => {
      error.className = "alert";
      error.textContent = e.message;
    };
    const form = h("form", {
      class: "signin",
      onsubmit: async (e) => {
        e.preventDefault();
        error.textContent = "";
        error.className = "";
        const token = input.value.trim();
        if (!token) return fail(new Error("Enter an admin token."));
        try {
          await signIn(token);
        } catch (err) {
          fail(err);
        }
      },
    },
      h("h1", {}, "Sign in"),
      h("p", { id: "token-help" },
        "A token with the Qualify.Admin role, e.g. from ",
        h("code", {}, "qualify token --tenant <guid> --admin"),
        ". It is kept in this tab's session storage only."),
      field("token", "Admin token", input),
      h("p", {}, h("button", { type: "submit" }, "Sign in")),
      error,
    );
    show(root, form);
    input.focus();
    try {
      const cfg = (await api("GET", "/console/config.json")).body;
      if (cfg && cfg.devTokens) {
        form.insertBefore(
          h("p", {}, h("button", {
            type: "button", class: "secondary",
            onclick: async () => {
              try {
                const minted = await api("POST", "/console/dev-token", { body: {} });
                await signIn(minted.body.token);
              } catch (err) {
                fail(err);
              }
            },
          }, "Use a development token")),
          error,
        );
      }
    } catch (e) {
      /* no dev tokens */
    }
  }

  // ---- the event stream --------------------------------------------------------------------
  function setLive(text) {
    const el = $("live-state");
    if (el) el.textContent = text;
  }

  function stopStream() {
    if (state.stream) state.stream.abort();
    state.stream = null;
  }

  function startStream() {
    if (state.stream) return;
    const controller = new AbortController();
    state.stream = controller;
    (async () => {
      let backoff = 500;
      while (!controller.signal.aborted && state.token) {
        try {
          const headers = { Authorization: "Bearer " + state.token, Accept: "text/event-stream" };
          if (state.lastEventId !== null) headers["Last-Event-ID"] = state.lastEventId;
          const res = await fetch("/admin/v1/events", {
            headers, signal: controller.signal, cache: "no-store", credentials: "omit",
          });
          if (res.status === 401) {
            signOut("The token was refused; sign in again.");
            return;
          }
          if (!res.ok || !res.body) throw new Error("stream answered " + res.status);
          setLive("Live");
          backoff = 500;
          await readEvents(res.body, controller.signal);
        } catch (e) {
          if (controller.signal.aborted) return;
        }
        setLive("Reconnecting…");
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 5000);
      }
    })();
  }

  async function readEvents(body, signal) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    while (!signal.aborted) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let at;
      while ((at = buffer.search(/\r?\n\r?\n/)) >= 0) {
        const block = buffer.slice(0, at);
        buffer = buffer.slice(at).replace(/^\r?\n\r?\n/, "");
        dispatch(block);
      }
    }
  }

  function dispatch(block) {
    let id = null;
    let name = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (!line || line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const key = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (key === "id") id = value;
      else if (key === "event") name = value;
      else if (key === "data") data.push(value);
    }
    if (id !== null) state.lastEventId = id;
    if (name !== "qualification" || !data.length) return;
    let t;
    try {
      t = JSON.parse(data.join("\n"));
    } catch (e) {
      return;
    }
    if (state.view && state.view.onTransition) state.view.onTransition(t);
  }

  // ---- decisions ---------------------------------------------------------------------------
  async function decide(customer, qualification, etag, status, reason) {
    const body = { vettingStatus: status };
    if (reason) body.vettingReason = reason;
    const path = "/admin/v1/customers/" + encodeURIComponent(customer) + "/qualifications/" +
      encodeURIComponent(qualification) + "/decision";
    const res = await api("POST", path, { body, etag });
    const newEtag = (res.headers.get("ETag") || "").replace(/^W\//, "").replace(/"/g, "");
    return { qualification: res.body, etag: newEtag };
  }
  const isConflict = (e) => e instanceof ApiError && (e.status === 409 || e.status === 412);


  Object.assign(C, { "$": $, ApiError, CONFLICT, QUALIFICATIONS, REASONS, STATUSES, api, decide, dl, field, h, isConflict, navigate, partnerUrl, pill, render, requestUrl, say, setView, show, signOut, state, unavailable });
})();
