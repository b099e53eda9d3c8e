// qualify console: a client of the operator API (/admin/v1), plain JavaScript, no dependencies.
//
// - The admin token lives in sessionStorage only and is sent as the bearer token of every call;
//   it never goes into a URL or a log.
// - Views are URLs (bookmarkable): /console/ (the review queue, filters in the query string),
//   /console/requests/{customerId}/{qualification}, /console/partners/{partnerId}.
// - Live updates come from the event stream (GET /admin/v1/events), read with fetch and a
//   readable stream so that the token travels in a header (EventSource cannot send one).
"use strict";

(function () {
  const TOKEN_KEY = "qualify.console.token";
  const QUALIFICATIONS = ["Education", "GovernmentCommunityCloud", "StateOwnedEntity"];
  const STATUSES = ["InReview", "Approved", "Denied"];
  // Microsoft's published denial reasons (api.md 4.2); free text is allowed too.
  const REASONS = [
    "Not an Education Customer",
    "No longer an Education Customer",
    "Not an Academic Domain",
    "Not an eligible Library",
    "Not an eligible Museum",
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
    if (r.name === "request") return renderRequest(root, r);
    if (r.name === "partner") return renderPartner(root, r);
    return renderQueue(root, r);
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

  // ---- the review queue --------------------------------------------------------------------
  async function renderQueue(root, r) {
    const q = r.query;
    const filters = {
      status: q.get("status") || "InReview",
      qualification: q.get("qualification") || "",
      partner: q.get("partner") || "",
      after: q.get("after") || "",
      limit: q.get("limit") || "50",
    };
    const view = { name: "queue", rows: [], selected: -1, timer: null };
    setView(view);

    const statusSel = h("select", { id: "f-status", name: "status" },
      STATUSES.map((s) => h("option", { value: s, selected: s === filters.status }, s)));
    const qualSel = h("select", { id: "f-qualification", name: "qualification" },
      h("option", { value: "" }, "Any"),
      QUALIFICATIONS.map((s) => h("option", { value: s, selected: s === filters.qualification }, s)));
    const partnerIn = h("input", {
      id: "f-partner", name: "partner", value: filters.partner, size: 38, autocomplete: "off",
      spellcheck: "false", placeholder: "any partner",
    });
    const form = h("form", {
      class: "filters", role: "search", "aria-label": "Filters",
      onsubmit: (e) => {
        e.preventDefault();
        const p = new URLSearchParams();
        if (statusSel.value !== "InReview") p.set("status", statusSel.value);
        if (qualSel.value) p.set("qualification", qualSel.value);
        if (partnerIn.value.trim()) p.set("partner", partnerIn.value.trim());
        navigate("/console/" + (p.toString() ? "?" + p : ""));
      },
    },
      field("f-status", "Status", statusSel),
      field("f-qualification", "Qualification", qualSel),
      field("f-partner", "Partner", partnerIn),
      h("button", { type: "submit" }, "Apply filters"),
    );
    const tableHolder = h("div", { id: "queue-table" }, h("p", {}, "Loading the queue…"));
    const pager = h("div", { class: "pager" });
    show(root,
      h("h1", {}, "Review queue"),
      form,
      h("p", { class: "keys" }, "Keys: ", h("kbd", {}, "j"), " / ", h("kbd", {}, "k"), " move, ",
        h("kbd", {}, "Enter"), " opens, ", h("kbd", {}, "a"), " approves, ", h("kbd", {}, "d"),
        " denies (with a reason)."),
      tableHolder,
      pager,
    );

    const load = async () => {
      const p = new URLSearchParams({ status: filters.status, limit: filters.limit });
      if (filters.qualification) p.set("qualification", filters.qualification);
      if (filters.partner) p.set("partner", filters.partner);
      if (filters.after) p.set("after", filters.after);
      let res;
      try {
        res = await api("GET", "/admin/v1/reviews?" + p);
      } catch (e) {
        tableHolder.replaceChildren(h("div", { class: "alert", role: "alert" }, e.message));
        return;
      }
      if (state.view !== view) return;
      const previous = view.rows[view.selected];
      view.rows = res.body || [];
      const key = (row) => row && row.customerId + "/" + row.qualification;
      view.selected = previous ? view.rows.findIndex((x) => key(x) === key(previous)) : -1;
      drawTable();
      const next = res.headers.get("MS-ContinuationToken");
      const items = [];
      if (filters.after) {
        const first = new URLSearchParams(location.search);
        first.delete("after");
        items.push(h("a", { href: "/console/" + (first.toString() ? "?" + first : ""), "data-nav": true }, "First page"));
      }
      if (next) {
        const more = new URLSearchParams(location.search);
        more.set("after", next);
        items.push(h("a", { href: "/console/?" + more, "data-nav": true }, "Next page"));
      }
      pager.replaceChildren(...items);
    };

    const drawTable = () => {
      if (!view.rows.length) {
        tableHolder.replaceChildren(h("p", {}, "No requests " +
          (filters.status === "InReview" ? "waiting for a decision" : "with status " + filters.status) + "."));
        return;
      }
      const rows = view.rows.map((row, i) => h("tr", {
        "data-index": i,
        class: i === view.selected ? "selected" : null,
        "aria-current": i === view.selected ? "true" : null,
        onclick: (e) => {
          if (e.target.closest("a")) return;
          navigate(requestUrl(row.customerId, row.qualification));
        },
      },
        h("td", {},
          h("a", { href: requestUrl(row.customerId, row.qualification), "data-nav": true },
            row.companyName || "(no company name)"),
          h("span", { class: "id mono" }, row.customerId)),
        h("td", {}, h("a", { href: partnerUrl(row.partnerId), "data-nav": true, class: "mono" }, row.partnerId)),
        h("td", {}, row.qualification),
        h("td", {}, h("time", { datetime: row.vettingCreateDate }, row.vettingCreateDate)),
        h("td", {}, row.website || row.domain || ""),
        h("td", {}, pill(row.vettingStatus)),
      ));
      tableHolder.replaceChildren(h("table", { id: "queue" },
        h("caption", {}, view.rows.length + " request" + (view.rows.length === 1 ? "" : "s") + ", oldest first"),
        h("thead", {}, h("tr", {},
          ["Customer", "Partner", "Qualification", "Requested at", "Website or domain", "Status"]
            .map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows)));
    };

    const select = (i) => {
      if (!view.rows.length) return;
      view.selected = Math.max(0, Math.min(view.rows.length - 1, i));
      const trs = tableHolder.querySelectorAll("tbody tr");
      trs.forEach((tr, j) => {
        tr.classList.toggle("selected", j === view.selected);
        if (j === view.selected) tr.setAttribute("aria-current", "true");
        else tr.removeAttribute("aria-current");
      });
      const link = trs[view.selected] && trs[view.selected].querySelector("a");
      if (link) link.focus();
    };

    view.onKey = (e) => {
      const row = view.rows[view.selected];
      switch (e.key) {
        case "j": select(view.selected + 1); return true;
        case "k": select(view.selected < 0 ? 0 : view.selected - 1); return true;
        case "Enter":
          if (!row) return false;
          navigate(requestUrl(row.customerId, row.qualification));
          return true;
        case "a":
          if (!row) return false;
          decide(row.customerId, row.qualification, row.etag, "Approved")
            .then(() => say("Approved: " + (row.companyName || row.customerId) + " (" + row.qualification + ")."))
            .catch((err) => say(isConflict(err) ? CONFLICT + ": " + err.message : err.message))
            .finally(load);
          return true;
        case "d":
          if (!row) return false;
          state.focusReason = true;
          navigate(requestUrl(row.customerId, row.qualification));
          return true;
        default:
          return false;
      }
    };
    view.onTransition = () => {
      clearTimeout(view.timer);
      view.timer = setTimeout(load, 150);
    };
    view.dispose = () => clearTimeout(view.timer);
    await load();
  }

  // ---- a request ---------------------------------------------------------------------------
  function address(a) {
    if (!a) return null;
    const lines = [
      [a.firstName, a.middleName, a.lastName].filter(Boolean).join(" "),
      a.addressLine1, a.addressLine2, a.addressLine3,
      [a.postalCode, a.city].filter(Boolean).join(" "),
      [a.district, a.state, a.region].filter(Boolean).join(", "),
      a.country,
      a.emailAddress, a.phoneNumber,
    ].filter(Boolean);
    return h("address", {}, lines.flatMap((l, i) => (i ? [h("br"), l] : [l])));
  }

  async function loadRequest(customer, qualification) {
    const c = (await api("GET", "/admin/v1/customers/" + encodeURIComponent(customer))).body;
    const wanted = qualification.toLowerCase();
    const mine = (c.qualifications || []).filter((x) => x.qualification.toLowerCase() === wanted);
    const latest = mine[mine.length - 1] || null;
    return { customer: c, request: latest };
  }

  async function renderRequest(root, r) {
    const view = { name: "request", etag: null, status: null };
    setView(view);
    const region = h("section", { "aria-label": "Request", id: "request" }, h("p", {}, "Loading the request…"));
    show(root, h("p", {}, h("a", { href: "/console/", "data-nav": true }, "← Review queue")), region);
    let loaded;
    try {
      loaded = await loadRequest(r.customer, r.qualification);
    } catch (e) {
      region.replaceChildren(h("h1", {}, "Request"), h("div", { class: "alert", role: "alert" }, e.message));
      return;
    }
    if (state.view !== view) return;
    const { customer: c, request: q } = loaded;
    if (!q) {
      region.replaceChildren(h("h1", {}, "Request"),
        h("div", { class: "alert", role: "alert" }, "This customer has no " + r.qualification + " request."));
      return;
    }
    view.etag = q.etag;
    view.status = q.vettingStatus;
    const cp = c.companyProfile || {};
    const bp = c.billingProfile || {};
    const conflict = h("div", { id: "conflict", role: "alert" });
    const current = h("div", { id: "current-state" });
    const drawCurrent = (req) => current.replaceChildren(dl([
      ["Status", pill(req.vettingStatus)],
      ["Reason", req.vettingReason || null],
      ["Requested at", h("time", { datetime: req.vettingCreateDate }, req.vettingCreateDate)],
      ["Etag", h("span", { class: "mono" }, req.etag)],
    ]));
    drawCurrent(q);

    const showConflict = async () => {
      conflict.className = "notice";
      conflict.replaceChildren(h("strong", {}, CONFLICT), ". The current state is shown below; the page will not decide it with the old state. ",
        h("button", { type: "button", class: "secondary", onclick: () => render() }, "Reload request"));
      try {
        const fresh = await loadRequest(r.customer, r.qualification);
        if (fresh.request) drawCurrent(fresh.request);
        refreshHistory();
      } catch (e) {
        /* the notice stands */
      }
    };

    let decision = null;
    if (q.vettingStatus === "InReview") {
      const reason = h("input", { id: "reason", name: "reason", list: "reasons", autocomplete: "off", size: 40 });
      const approve = h("button", { type: "button", id: "approve" }, "Approve");
      const deny = h("button", { type: "submit", id: "deny", class: "danger" }, "Deny");
      const error = h("div", { id: "decision-error", role: "alert" });
      const send = async (status) => {
        error.textContent = "";
        error.className = "";
        const why = reason.value.trim();
        if (status === "Denied" && !why) {
          error.className = "alert";
          error.textContent = "A denial needs a reason.";
          reason.focus();
          return;
        }
        approve.disabled = deny.disabled = true;
        try {
          const done = await decide(r.customer, q.qualification, view.etag, status, status === "Denied" ? why : null);
          view.etag = done.etag || view.etag;
          view.status = done.qualification.vettingStatus;
          say(status === "Approved" ? "Request approved." : "Request denied: " + why + ".");
          decisionBox.replaceChildren(h("p", {}, "Decided: ", pill(done.qualification.vettingStatus),
            done.qualification.vettingReason ? " — " + done.qualification.vettingReason : ""));
          drawCurrent(Object.assign({}, q, done.qualification, { etag: view.etag }));
          refreshHistory();
        } catch (err) {
          if (isConflict(err)) {
            await showConflict();
          } else {
            error.className = "alert";
            error.textContent = err.message;
          }
          approve.disabled = deny.disabled = false;
        }
      };
      approve.addEventListener("click", () => send("Approved"));
      const decisionBox = h("form", {
        class: "decision", "aria-label": "Decision",
        onsubmit: (e) => {
          e.preventDefault();
          send("Denied");
        },
      },
        h("h2", {}, "Decision"),
        h("div", { class: "row" },
          h("div", {}, approve),
          field("reason", "Reason", reason),
          h("datalist", { id: "reasons" }, REASONS.map((x) => h("option", { value: x }))),
          h("div", {}, deny)),
        h("p", { class: "keys" }, "Keys: ", h("kbd", {}, "a"), " approves, ", h("kbd", {}, "d"),
          " goes to the reason, ", h("kbd", {}, "Enter"), " in the reason denies, ", h("kbd", {}, "Escape"), " back to the queue."),
        error);
      decision = decisionBox;
      view.onKey = (e) => {
        if (e.key === "a" && view.status === "InReview" && !approve.disabled) { send("Approved"); return true; }
        if (e.key === "d") { reason.focus(); return true; }
        if (e.key === "Escape") { navigate("/console/"); return true; }
        return false;
      };
      view.focusReason = () => reason.focus();
    } else {
      view.onKey = (e) => {
        if (e.key === "Escape") { navigate("/console/"); return true; }
        return false;
      };
    }

    const history = h("div", { id: "history" }, h("p", {}, "Loading…"));
    const refreshHistory = async () => {
      try {
        const path = "/admin/v1/customers/" + encodeURIComponent(r.customer) + "/qualifications/" +
          encodeURIComponent(q.qualification) + "/history";
        const events = (await api("GET", path)).body || [];
        history.replaceChildren(h("table", {},
          h("caption", {}, "Audit history, oldest first"),
          h("thead", {}, h("tr", {}, ["At", "Actor", "From", "To", "Reason", "Profile etag"].map((x) => h("th", { scope: "col" }, x)))),
          h("tbody", {}, events.map((ev) => h("tr", {},
            h("td", {}, h("time", { datetime: ev.at }, ev.at)),
            h("td", {}, ev.actor),
            h("td", {}, ev.from || ""),
            h("td", {}, ev.to),
            h("td", {}, ev.reason || ""),
            h("td", { class: "mono" }, ev.profileEtag || ""))))));
      } catch (e) {
        history.replaceChildren(h("p", { class: "alert" }, e.message));
      }
    };

    // Webhook deliveries (events.md section 2): shown once the server has them.
    const deliveries = h("div", { id: "deliveries" }, h("p", {}, "Loading…"));
    const refreshDeliveries = async () => {
      try {
        const path = "/admin/v1/partners/" + encodeURIComponent(c.partnerId) + "/deliveries";
        const all = (await api("GET", path)).body || [];
        const mine = all.filter((d) => d.customerId === c.id && (!d.qualification || d.qualification === q.qualification));
        if (!mine.length) {
          deliveries.replaceChildren(h("p", { class: "muted" }, "No webhook deliveries for this request."));
          return;
        }
        deliveries.replaceChildren(h("table", {},
          h("caption", {}, "Webhook deliveries, oldest first"),
          h("thead", {}, h("tr", {}, ["Event", "Status", "Attempts", "Last answer", "Next attempt"].map((x) => h("th", { scope: "col" }, x)))),
          h("tbody", {}, mine.map((d) => {
            const last = (d.attempts || [])[(d.attempts || []).length - 1];
            return h("tr", {},
              h("td", {}, d.eventName || ""),
              h("td", {}, d.status || ""),
              h("td", {}, String((d.attempts || []).length)),
              h("td", {}, last ? (last.responseCode || last.error || "") + " at " + last.at : ""),
              h("td", {}, d.nextAttemptAt || ""));
          }))));
      } catch (e) {
        deliveries.replaceChildren(e.status === 404 ? unavailable("Webhook delivery") : h("p", { class: "alert" }, e.message));
      }
    };

    const vs = c.validationStatus;
    region.replaceChildren(
      h("h1", {}, (cp.companyName || "(no company name)") + " — " + q.qualification),
      conflict,
      h("div", { class: "grid" },
        h("div", {},
          h("h2", {}, "Current state"),
          current,
          dl([
            ["Customer", h("span", { class: "mono" }, c.id)],
            ["Partner", h("a", { href: partnerUrl(c.partnerId), "data-nav": true, class: "mono" }, c.partnerId)],
            ["Website", q.website || null],
            ["Education segment", q.educationSegment || null],
          ]),
          decision),
        h("div", {},
          h("h2", {}, "Company profile"),
          dl([
            ["Company name", cp.companyName || null],
            ["Domain", cp.domain || null],
            ["Email", cp.email || null],
            ["Address", address(cp.address)],
            ["Profile etag", h("span", { class: "mono" }, (cp.attributes && cp.attributes.etag) || "")],
          ]),
          h("h2", {}, "Billing address"),
          dl([
            ["Contact", [bp.firstName, bp.lastName].filter(Boolean).join(" ") || null],
            ["Email", bp.email || null],
            ["Address", address(bp.defaultAddress)],
          ]),
          h("h2", {}, "Access"),
          dl([
            ["GDAP roles", (c.gdapRoles || []).join(", ") || null],
            ["Account validation status", vs ? vs.status + " (" + vs.lastUpdateDateTime + ")" : null],
          ]))),
      h("h2", {}, "History"),
      history,
      h("h2", {}, "Webhook deliveries"),
      deliveries,
    );
    refreshHistory();
    refreshDeliveries();
    if (state.focusReason && view.focusReason) view.focusReason();
    state.focusReason = false;

    view.onTransition = async (t) => {
      if (t.customerId !== c.id || t.qualification.toLowerCase() !== q.qualification.toLowerCase()) return;
      try {
        const fresh = await loadRequest(r.customer, r.qualification);
        if (state.view !== view) return;
        if (fresh.request && fresh.request.etag !== view.etag) await showConflict();
        else refreshHistory();
        refreshDeliveries();
      } catch (e) {
        /* shown on the next action */
      }
    };
  }

  // ---- a partner ---------------------------------------------------------------------------
  async function renderPartner(root, r) {
    const p = r.partner;
    const base = "/admin/v1/partners/" + encodeURIComponent(p);
    const view = { name: "partner", timers: [] };
    setView(view);
    view.dispose = () => view.timers.forEach(clearInterval);
    view.onKey = (e) => {
      if (e.key === "Escape") { navigate("/console/"); return true; }
      return false;
    };
    const section = (id, title, ...body) =>
      h("section", { "aria-labelledby": id + "-title", id }, h("h2", { id: id + "-title" }, title), ...body);
    const errorBox = (id) => h("div", { id: id + "-error", role: "alert" });
    const fail = (box, e) => {
      box.className = "alert";
      box.textContent = e.message;
    };
    const clear = (box) => {
      box.className = "";
      box.textContent = "";
    };

    // Validation codes.
    const codes = h("div", {}, h("p", {}, "Loading…"));
    const codesError = errorBox("codes");
    const loadCodes = async () => {
      try {
        const list = (await api("GET", base + "/validations")).body || [];
        codes.replaceChildren(list.length ? h("table", {},
          h("caption", {}, list.length + " code" + (list.length === 1 ? "" : "s")),
          h("thead", {}, h("tr", {}, ["Validation id", "Organization", "Max creates", "Remaining"].map((x) => h("th", { scope: "col" }, x)))),
          h("tbody", {}, list.map((c) => h("tr", {},
            h("td", { class: "mono" }, c.validationId), h("td", {}, c.organizationName),
            h("td", {}, String(c.maxCreates)), h("td", {}, String(c.remainingCreates))))))
          : h("p", { class: "muted" }, "No validation codes."));
      } catch (e) {
        fail(codesError, e);
      }
    };
    const org = h("input", { id: "code-org", name: "organizationName", required: true, autocomplete: "off" });
    const max = h("input", { id: "code-max", name: "maxCreates", type: "number", min: 1, value: 1, required: true });
    const codeForm = h("form", {
      class: "filters", "aria-label": "Issue a validation code",
      onsubmit: async (e) => {
        e.preventDefault();
        clear(codesError);
        try {
          const made = (await api("POST", base + "/validations", {
            body: { organizationName: org.value.trim(), maxCreates: Number(max.value) },
          })).body;
          say("Code " + made.validationId + " issued to " + made.organizationName + ".");
          org.value = "";
          loadCodes();
        } catch (err) {
          fail(codesError, err);
        }
      },
    }, field("code-org", "Organization name", org), field("code-max", "Max creates", max),
      h("button", { type: "submit" }, "Issue code"));

    // Vetting scenario (control.md 3).
    const scenario = h("div", {}, h("p", {}, "Loading…"));
    const loadScenario = async () => {
      const box = errorBox("scenario");
      try {
        const current = (await api("GET", base + "/vetting")).body;
        const text = h("textarea", { id: "scenario-json", rows: 8 }, JSON.stringify(current, null, 2));
        scenario.replaceChildren(
          field("scenario-json", "Scenario (JSON)", text),
          h("p", {},
            h("button", { type: "button", onclick: async () => {
              clear(box);
              try {
                await api("PUT", base + "/vetting", { body: JSON.parse(text.value) });
                say("Scenario saved.");
                loadScenario();
              } catch (err) { fail(box, err); }
            } }, "Save scenario"), " ",
            h("button", { type: "button", class: "secondary", onclick: async () => {
              clear(box);
              try {
                await api("DELETE", base + "/vetting");
                say("Scenario removed.");
                loadScenario();
              } catch (err) { fail(box, err); }
            } }, "Remove scenario")),
          box);
      } catch (e) {
        scenario.replaceChildren(e.status === 404 ? unavailable("The vetting scenario") : h("p", { class: "alert" }, e.message));
      }
    };

    // The clock (control.md 4).
    const clock = h("div", {}, h("p", {}, "Loading…"));
    const loadClock = async () => {
      const box = errorBox("clock");
      try {
        const c = (await api("GET", base + "/clock")).body;
        const at = h("input", { id: "clock-at", name: "frozenAt", placeholder: "2030-01-01T00:00:00Z", value: c.now || "", size: 26 });
        const by = h("input", { id: "clock-by", name: "by", placeholder: "72h", value: "1h", size: 8 });
        const applied = h("div", { id: "clock-applied" });
        const act = (method, path, body, done) => async () => {
          clear(box);
          try {
            const res = (await api(method, base + path, body === undefined ? {} : { body })).body;
            say(done);
            await loadClock();
            if (res && res.applied) {
              applied.replaceChildren(h("p", {}, res.applied.length + " transition(s) applied."));
            }
          } catch (err) { fail(box, err); }
        };
        clock.replaceChildren(
          dl([["Now", c.now], ["Mode", c.mode], ["Scope", c.scope]]),
          h("div", { class: "filters" },
            field("clock-at", "Freeze at", at),
            h("button", { type: "button", onclick: () => act("PUT", "/clock", { frozenAt: at.value.trim() }, "Clock frozen.")() }, "Freeze"),
            field("clock-by", "Advance by", by),
            h("button", { type: "button", onclick: () => act("POST", "/clock/advance", { by: by.value.trim() }, "Clock advanced.")() }, "Advance"),
            h("button", { type: "button", class: "secondary", onclick: act("POST", "/clock/resume", {}, "Clock running.") }, "Resume"),
            h("button", { type: "button", class: "secondary", onclick: act("DELETE", "/clock", undefined, "The partner follows the global clock again.") }, "Follow the global clock")),
          applied, box);
      } catch (e) {
        clock.replaceChildren(e.status === 404 ? unavailable("The virtual clock") : h("p", { class: "alert" }, e.message));
      }
    };

    // Faults (control.md 5).
    const faults = h("div", {}, h("p", {}, "Loading…"));
    const loadFaults = async () => {
      const box = errorBox("faults");
      try {
        const list = (await api("GET", "/admin/v1/faults?partner=" + encodeURIComponent(p))).body || [];
        const text = h("textarea", { id: "fault-json", rows: 6 }, JSON.stringify({
          match: { method: "POST", path: "/v1/customers/*/qualifications", partner: p },
          response: { status: 503, code: 900503, description: "Service unavailable", retryAfter: 2 },
          times: 1,
        }, null, 2));
        faults.replaceChildren(
          list.length ? h("table", {},
            h("caption", {}, list.length + " fault" + (list.length === 1 ? "" : "s") + ", in evaluation order"),
            h("thead", {}, h("tr", {}, ["Id", "Match", "Response", "Hits", "Remaining", ""].map((x) => h("th", { scope: "col" }, x)))),
            h("tbody", {}, list.map((f) => h("tr", {},
              h("td", { class: "mono" }, String(f.id)),
              h("td", { class: "mono" }, JSON.stringify(f.match || {})),
              h("td", { class: "mono" }, JSON.stringify(f.response || {})),
              h("td", {}, String(f.hits ?? "")),
              h("td", {}, String(f.remaining ?? "")),
              h("td", {}, h("button", { type: "button", class: "secondary", "aria-label": "Remove fault " + f.id, onclick: async () => {
                try { await api("DELETE", "/admin/v1/faults/" + encodeURIComponent(f.id)); loadFaults(); } catch (err) { fail(box, err); }
              } }, "Remove"))))))
            : h("p", { class: "muted" }, "No faults."),
          field("fault-json", "Fault (JSON)", text),
          h("p", {},
            h("button", { type: "button", onclick: async () => {
              clear(box);
              try {
                await api("POST", "/admin/v1/faults", { body: JSON.parse(text.value) });
                say("Fault added.");
                loadFaults();
              } catch (err) { fail(box, err); }
            } }, "Add fault"), " ",
            h("button", { type: "button", class: "secondary", onclick: async () => {
              try { await api("DELETE", "/admin/v1/faults?partner=" + encodeURIComponent(p)); say("Faults removed."); loadFaults(); } catch (err) { fail(box, err); }
            } }, "Remove all faults")),
          box);
      } catch (e) {
        faults.replaceChildren(e.status === 404 ? unavailable("Fault injection") : h("p", { class: "alert" }, e.message));
      }
    };

    // The journal (control.md 6), tailed while the page is open.
    const journal = h("div", {}, h("p", {}, "Loading…"));
    let journalAfter = 0;
    let journalRows = [];
    const loadJournal = async () => {
      try {
        const res = (await api("GET", "/admin/v1/journal?partner=" + encodeURIComponent(p) +
          "&after=" + journalAfter + "&limit=100")).body || {};
        const entries = res.entries || [];
        if (entries.length) journalAfter = entries[entries.length - 1].seq;
        journalRows = journalRows.concat(entries).slice(-200);
        journal.replaceChildren(journalRows.length ? h("table", {},
          h("caption", {}, "Latest requests of this partner (live)" + (res.evicted ? ", " + res.evicted + " evicted" : "")),
          h("thead", {}, h("tr", {}, ["Seq", "At", "Method", "Path", "Status", "Request id"].map((x) => h("th", { scope: "col" }, x)))),
          h("tbody", {}, journalRows.map((j) => h("tr", {},
            h("td", {}, String(j.seq)), h("td", {}, j.at || ""), h("td", {}, j.method || ""),
            h("td", { class: "mono" }, (j.path || "") + (j.query ? "?" + j.query : "")),
            h("td", {}, String(j.status ?? "")), h("td", { class: "mono" }, j.requestId || "")))))
          : h("p", { class: "muted" }, "No requests recorded for this partner."));
        return true;
      } catch (e) {
        journal.replaceChildren(e.status === 404 ? unavailable("The request journal") : h("p", { class: "alert" }, e.message));
        return false;
      }
    };

    // Client checks (control.md 7).
    const checks = h("div", {}, h("p", {}, "Loading…"));
    const loadChecks = async () => {
      try {
        const res = (await api("GET", base + "/checks")).body || {};
        const v = res.violations || [];
        checks.replaceChildren(
          h("p", {}, (res.requests ?? 0) + " requests judged; " + v.length + " violation" + (v.length === 1 ? "" : "s") + "."),
          v.length ? h("ul", {}, v.map((x) => h("li", {}, h("strong", {}, x.check), ": " + (x.detail || "") +
            (x.seq && x.seq.length ? " (requests " + x.seq.join(", ") + ")" : "")))) : null,
          h("p", {}, h("button", { type: "button", class: "secondary", onclick: loadChecks }, "Run checks")));
      } catch (e) {
        checks.replaceChildren(e.status === 404 ? unavailable("Client checks") : h("p", { class: "alert" }, e.message));
      }
    };

    show(root,
      h("p", {}, h("a", { href: "/console/?partner=" + encodeURIComponent(p), "data-nav": true }, "← This partner's review queue")),
      h("h1", {}, "Partner ", h("span", { class: "mono" }, p)),
      section("codes", "Validation codes", codes, codeForm, codesError),
      section("scenario", "Vetting scenario", scenario),
      section("clock", "Clock", clock),
      section("faults", "Faults", faults),
      section("journal", "Journal", journal),
      section("checks", "Client checks", checks),
    );
    loadCodes();
    loadScenario();
    loadClock();
    loadFaults();
    loadChecks();
    if (await loadJournal()) {
      view.timers.push(setInterval(() => { if (state.view === view) loadJournal(); }, 2000));
    }
  }

  // ---- start -------------------------------------------------------------------------------
  function boot() {
    $("sign-out").addEventListener("click", () => {
      say("Signed out.");
      signOut(null);
    });
    $("open-partner").addEventListener("submit", (e) => {
      e.preventDefault();
      const id = $("open-partner-id").value.trim();
      if (id) navigate(partnerUrl(id));
    });
    render();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
