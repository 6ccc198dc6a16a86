// The responder's console. Plain JS, no build, nothing fetched from anywhere but this server.
// Everything an event or a client said is shown as text (textContent), never parsed as HTML.
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = "dnsrace.adminToken";       // sessionStorage: this tab only, gone when it closes
  let status = null;
  let skew = 0;                                  // browser clock minus the server's, in seconds
  let shownSeq = null;
  let shownAlert = null;
  let chainSeqs = new Set();

  // --- small helpers ----------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.setAttribute(key, String(value));
      else node[key] = value;
    }
    for (const child of children.flat(Infinity)) {   // an array child is its items
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function clock(t) {
    if (t === null || t === undefined) return "—";
    return new Date(t * 1000).toISOString().slice(11, 23);
  }
  function age(t) {
    if (t === null || t === undefined) return "";
    const seconds = Math.max(0, Date.now() / 1000 - skew - t);
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s ago`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.floor(seconds % 60)} s ago`;
    return `${(seconds / 3600).toFixed(1)} h ago`;
  }
  function ago(t) {                              // a span whose text the ticker keeps current
    return el("span", { class: "age", "data-t": t }, age(t));
  }
  function replace(node, ...children) {
    node.replaceChildren(...children.filter((c) => c !== null && c !== undefined));
  }

  // --- the status -------------------------------------------------------------------------------------
  function renderStatus(next) {
    status = next;
    skew = Date.now() / 1000 - next.t;
    $("endpoint").textContent = next.endpoint;
    $("modes").textContent = next.modes.length ? `mode: ${next.modes.join(", ")}` : "mode: unknown";
    renderAlert(next);
    renderCascade(next.cascade);
    renderNetwork(next.network);
    renderGraph(next.graph || []);
    renderNow(next);
    renderEnactors(next.enactors);
    const lastSeq = next.history.last_seq;
    const alertKey = JSON.stringify(next.alert && next.alert.chain_seqs);
    if (lastSeq !== shownSeq || alertKey !== shownAlert) {
      shownSeq = lastSeq;
      shownAlert = alertKey;
      refreshTimeline();
      refreshPlans();
    }
  }

  // The second impact window (EC2's lease manager): its own root alert, its cause the DNS one.
  function renderCascade(cascade) {
    const box = $("cascade-alert");
    if (!cascade) {
      box.hidden = true;
      replace(box);
      return;
    }
    box.hidden = false;
    box.dataset.state = cascade.state === "recovering" ? "recovering" : "open";
    box.dataset.kind = cascade.kind;
    const launches = cascade.launches;
    replace(box,
      el("div", { class: "alert-title root-alert" }, cascade.state === "recovering" ? "RECOVERING · " : "ALERT · ", cascade.title),
      el("div", { class: "alert-summary" }, cascade.summary),
      el("div", { class: "alert-meta" }, "cause: ", cascade.cause),
      launches ? el("div", { class: "alert-meta" }, `launches in the last second: ${launches.ok} ok, `,
        `${launches.insufficient_capacity} insufficient capacity, ${launches.throttled} throttled`) : null,
      el("div", { class: "way-out" }, cascade.way_out));
  }

  // The third impact window (Network Manager, the load balancer, its clients): a root alert of its own,
  // its cause the lease manager's.
  function renderNetwork(network) {
    const box = $("network-alert");
    if (!network) {
      box.hidden = true;
      replace(box);
      return;
    }
    box.hidden = false;
    box.dataset.state = "open";
    box.dataset.kind = network.kind;
    replace(box,
      el("div", { class: "alert-title root-alert" }, "ALERT · ", network.title),
      el("div", { class: "alert-summary" }, network.summary),
      el("div", { class: "alert-meta" }, "cause: ", network.cause),
      el("div", { class: "way-out" }, network.way_out));
  }

  // The blast radius now: DNS → DynamoDB → DWFM → launches → Network Manager → NLB → clients.
  function renderGraph(nodes) {
    const box = $("graph");
    box.hidden = nodes.length === 0;
    replace(box, nodes.map((n, k) => [
      k ? el("span", { class: "arrow" }, "→") : null,
      el("span", { class: "node", "data-state": n.state, title: n.state }, n.node)]));
  }

  function renderAlert(s) {
    const box = $("alert");
    const alert = s.alert;
    if (!alert) {
      box.dataset.state = "none";
      box.dataset.kind = "";
      const answer = s.now.resolver;
      const parts = [el("div", { class: "alert-title" }, "No alert: ", s.endpoint, " answers ",
        `${answer.addresses.length} address${answer.addresses.length === 1 ? "" : "es"}`,
        s.now.endpoint ? ` (plan ${s.now.endpoint.plan})` : "")];
      if (s.resolved) {
        parts.push(el("div", { class: "alert-meta" }, "The last alert was resolved: ", s.resolved.summary,
          "; cleared by ", s.resolved.cleared_by, " at ", clock(s.resolved.cleared_at), " (", ago(s.resolved.cleared_at), ")."));
      }
      replace(box, ...parts);
      return;
    }
    box.dataset.state = alert.state;
    box.dataset.kind = alert.kind;
    const chain = el("ol", { class: "chain" }, ...alert.chain.map((link) =>
      el("li", { "data-seq": link.seq }, el("span", { class: "role" }, link.role), " ", clock(link.t), " ",
        el("strong", {}, link.service), " ", link.sentence, link.seq !== null ? `  #${link.seq}` : "")));
    const followOns = alert.follow_ons.length ? [
      el("h3", {}, "Grouped under it (follow-on symptoms, not raised on their own)"),
      el("ul", { class: "follow-ons" }, ...alert.follow_ons.map((group) =>
        el("li", {}, group.what, ` (from ${clock(group.first_t)} to ${clock(group.last_t)})`)))] : [];
    replace(box,
      el("div", { class: "alert-title root-alert" }, alert.state === "recovering" ? "RECOVERING · " : "ALERT · ", alert.title),
      el("div", { class: "alert-summary" }, alert.summary),
      el("div", { class: "alert-meta" }, alert.since ? ["since ", clock(alert.since), " (", ago(alert.since), ")"]
        : "cause not in the events kept"),
      alert.chain.length ? el("h3", {}, "How it happened (the causal chain, highlighted in the timeline)") : null,
      alert.chain.length ? chain : null,
      ...followOns,
      el("div", { class: "way-out" }, alert.way_out));
  }

  function planCell(plan, label, missing) {
    if (!plan) return el("span", { class: "bad" }, "nothing");
    const exists = plan.exists
      ? el("span", { class: "good" }, "exists")
      : missing ? el("span", { class: "hint" }, missing) : el("span", { class: "bad" }, "DOES NOT EXIST");
    return el("span", {}, el("strong", {}, plan.plan), " · ", exists,
      plan.created ? [" · created ", ago(plan.created)] : "",
      label || "");
  }

  function renderNow(s) {
    const now = s.now;
    const answerCell = (answer, summary) => el("span", { class: answer.empty || answer.rcode === null ? "bad" : "good" },
      summary, el("span", { class: "hint" }, ` (${answer.server})`));
    replace($("now"),
      el("dt", {}, "resolver (clients)"), el("dd", {}, answerCell(now.resolver, now.resolver_summary)),
      el("dt", {}, "authoritative"), el("dd", {}, answerCell(now.authoritative, now.authoritative_summary)),
      el("dt", {}, "endpoint →"), el("dd", {}, planCell(now.endpoint)),
      el("dt", {}, "rollback →"), el("dd", {}, now.rollback ? planCell(now.rollback) : el("span", { class: "hint" }, "no rollback record")),
      el("dt", {}, "newest plan"), el("dd", {}, now.newest_published ? planCell(now.newest_published, " (published by the planner)", "not in the zone yet") : "—"),
      el("dt", {}, "newest existing"), el("dd", {}, now.newest_existing ? planCell(now.newest_existing, " (what a repair points at)") : el("span", { class: "bad" }, "none")),
      el("dt", {}, "zone serial"), el("dd", {}, String(now.serial)),
      el("dt", {}, "history"), el("dd", {}, `${s.history.kept} events kept (at most ${s.history.kept_max})`,
        s.history.error ? el("span", { class: "bad" }, ` · ${s.history.error}`) : "",
        s.history.unreadable ? el("span", { class: "bad" }, ` · ${s.history.unreadable} unreadable`) : ""));
  }

  function renderEnactors(rows) {
    const body = $("enactors").tBodies[0];
    replace(body, ...rows.map((row) => el("tr", { "data-service": row.service },
      el("td", { class: "mono" }, row.service),
      el("td", {}, row.mode || "?"),
      el("td", { class: `state-${row.state}` }, row.state),
      el("td", {}, row.last_seen ? ago(row.last_seen) : "—"),
      el("td", { class: "nowrap" }, row.last_applied ? [row.last_applied, el("div", { class: "hint" }, ago(row.last_applied_t))] : "—"),
      el("td", {}, String(row.crashes)),
      el("td", {}, String(row.restarts)),
      el("td", { class: "exception" }, row.last_exception ? [row.last_exception.exception,
        el("div", { class: "hint mono" }, row.last_exception.at)] : "—"))));
  }

  // --- plans and the timeline -------------------------------------------------------------------------
  async function getJson(path) {
    const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
    const body = await response.json();
    if (!response.ok) throw new Error(`${response.status} ${body.error}: ${body.message}`);
    return body;
  }

  async function refreshPlans() {
    try {
      const body = await getJson("/api/plans?limit=25");
      replace($("plans").tBodies[0], ...body.plans.map((p) => {
        const zone = p.live ? (p.exists ? "LIVE" : "LIVE, but DELETED") : p.rollback ? (p.exists ? "rollback" : "rollback, deleted")
          : p.exists ? "exists" : p.deleted_by ? "deleted" : "not in the zone";
        return el("tr", { class: p.live ? (p.exists ? "live" : "gone-live") : "", "data-plan": p.plan },
          el("td", { class: "mono" }, p.plan),
          el("td", {}, p.created ? clock(p.created) : "—"),
          el("td", {}, p.applied_by ? `${p.applied_by} ${clock(p.applied_at)}` : "—"),
          el("td", {}, p.deleted_by ? `${p.deleted_by} ${clock(p.deleted_at)}` : "—",
            p.deleted_how ? el("div", { class: "hint" }, p.deleted_how) : null),
          el("td", { class: p.live && !p.exists ? "bad" : "" }, zone));
      }));
    } catch (error) {
      replace($("plans").tBodies[0], el("tr", {}, el("td", { class: "error", colSpan: 5 }, String(error.message))));
    }
  }

  async function refreshTimeline() {
    const params = new URLSearchParams({ limit: "400" });
    const service = $("filter-service").value;
    const plan = $("filter-plan").value.trim();
    if (service) params.set("service", service);
    if (plan) params.set("plan", plan);
    let body;
    try {
      body = await getJson(`/api/timeline?${params}`);
      $("filter-error").textContent = "";
    } catch (error) {
      $("filter-error").textContent = error.message;
      return;
    }
    chainSeqs = new Set(body.chain);
    const select = $("filter-service");
    const chosen = select.value;
    replace(select, el("option", { value: "" }, "all"), ...body.services.map((name) => el("option", { value: name }, name)));
    select.value = body.services.includes(chosen) ? chosen : "";
    const onlyChain = $("filter-chain").checked;
    const rows = body.events.filter((e) => !onlyChain || e.chain).reverse();   // newest first
    $("timeline-count").textContent = `${rows.length} shown of ${body.matching} matching, ${body.kept} kept`;
    replace($("timeline"), ...rows.map((e) => el("li", { class: e.chain ? "event chain" : "event", "data-seq": e.seq },
      el("span", {}, clock(e.t)), el("span", { class: "svc" }, e.service), el("span", { class: "text" }, e.sentence),
      el("span", { class: "seq" }, e.seq !== null ? `#${e.seq}` : ""))));
  }

  // --- the repair -------------------------------------------------------------------------------------
  function showResult(state, text) {
    const box = $("repair-result");
    box.dataset.state = state;
    box.textContent = text;
  }

  function askToRepair(event) {
    event.preventDefault();
    const target = status && status.now.newest_existing;
    if (!target) {
      showResult("refused", "Nothing to point the endpoint at: no plan record set exists.");
      return;
    }
    const rollback = status.now.rollback ? ` and clear the rollback record (→ ${status.now.rollback.plan})` : "";
    $("confirm-text").textContent = `Point ${status.endpoint} at ${target.plan}, the newest plan that exists` +
      ` (or a newer one, if the planner publishes one meanwhile; never an older one)${rollback}?` +
      ` The batch is refused if an enactor moves the endpoint meanwhile.`;
    $("confirm").dataset.target = target.plan;
    $("confirm").showModal();
  }

  async function repair() {
    const dialog = $("confirm");
    const target = dialog.dataset.target;
    dialog.close();
    const token = $("token").value.trim();
    const headers = { "Content-Type": "application/json", Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    showResult("working", `Repairing: endpoint -> ${target}…`);
    let response, body;
    try {
      response = await fetch("/api/repair", { method: "POST", headers, body: JSON.stringify({ expect_target: target }),
        cache: "no-store" });
      body = await response.json();
    } catch (error) {
      showResult("refused", `No answer from dns-admin: ${error.message}. The repair may or may not have happened: read the status.`);
      return;
    }
    if (!response.ok) {
      const hint = response.status === 401 ? " Paste the token (DNSRACE_ADMIN_TOKEN in .env) and try again."
        : response.status === 403 ? " Check the token." : "";
      showResult("refused", `Refused (${response.status} ${body.error}): ${body.message}.${hint}`);
      return;
    }
    const audit = body.audit;
    showResult("done", `Repaired: ${body.message}.` + (audit ? `\nAudit #${audit.seq}: ${audit.outcome} ${audit.change_id} ` +
      `from ${audit.client} at ${clock(audit.t)}: "${audit.comment}"` : ""));
  }

  // --- wiring -----------------------------------------------------------------------------------------
  function follow() {
    const link = $("link");
    const stream = new EventSource("/api/stream");
    stream.addEventListener("open", () => { link.dataset.state = "live"; link.textContent = "live"; });
    stream.addEventListener("error", () => { link.dataset.state = "down"; link.textContent = "reconnecting…"; });
    stream.addEventListener("status", (message) => {
      link.dataset.state = "live";
      link.textContent = "live";
      renderStatus(JSON.parse(message.data));
    });
  }

  function start() {
    const token = $("token");
    token.value = sessionStorage.getItem(TOKEN_KEY) || "";
    token.addEventListener("input", () => {
      if (token.value) sessionStorage.setItem(TOKEN_KEY, token.value.trim());
      else sessionStorage.removeItem(TOKEN_KEY);
    });
    $("repair-form").addEventListener("submit", askToRepair);
    $("confirm-yes").addEventListener("click", repair);
    $("confirm-no").addEventListener("click", () => $("confirm").close());
    $("filter").addEventListener("submit", (event) => { event.preventDefault(); refreshTimeline(); });
    $("filter-service").addEventListener("change", refreshTimeline);
    $("filter-plan").addEventListener("change", refreshTimeline);
    $("filter-chain").addEventListener("change", refreshTimeline);
    setInterval(() => {
      for (const span of document.querySelectorAll("span.age")) span.textContent = age(Number(span.dataset.t));
    }, 1000);
    follow();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
