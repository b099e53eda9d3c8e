// The review queue (/console/): filters in the query string, keys j/k/Enter/a/d, live.
"use strict";

(function () {
  const C = window.qualifyConsole;
  const { CONFLICT, QUALIFICATIONS, STATUSES, api, decide, field, h, isConflict, navigate, partnerUrl, pill, requestUrl, say, setView, show, state } = C;

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


  C.views.queue = renderQueue;
})();
