// A partner (/console/partners/{partner}): codes, scenario, clock, faults, journal, checks.
"use strict";

(function () {
  const C = window.qualifyConsole;
  const { api, dl, field, h, navigate, say, setView, show, state, unavailable } = C;

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


  C.views.partner = renderPartner;
})();
