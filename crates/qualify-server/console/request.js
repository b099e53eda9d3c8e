// A request (/console/requests/{customer}/{qualification}): profile, history, deliveries, decide.
"use strict";

(function () {
  const C = window.qualifyConsole;
  const { CONFLICT, REASONS, api, decide, dl, field, h, isConflict, navigate, partnerUrl, pill, render, say, setView, show, state, unavailable } = C;

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


  C.views.request = renderRequest;
})();
