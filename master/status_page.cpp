#include "master/status_page.h"

#include "common/http_util.h"
#include "common/log.h"
#include "master/replication_api.h"

namespace dfs::master {

namespace {

// Plain HTML, CSS and JS, no build step: the page polls /api/v1/status.
constexpr const char* kStatusPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dfs cluster</title>
<style>
  :root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --muted: #57606a; --line: #d0d7de; }
  body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
  header { background: #24292f; color: #fff; padding: 12px 24px; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 18px; margin: 0; }
  header .sub { color: #afb8c1; font-size: 12px; }
  main { padding: 16px 24px; max-width: 1200px; }
  #banner { display: none; background: #ffebe9; border: 1px solid var(--bad); color: var(--bad);
            padding: 8px 12px; margin-bottom: 12px; border-radius: 6px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 12px; }
  .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
  .card .label { color: var(--muted); font-size: 12px; }
  .card .value { font-size: 20px; font-weight: 600; }
  .card.alert .value { color: var(--bad); }
  h2 { font-size: 15px; margin: 20px 0 8px; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { background: #f6f8fa; font-weight: 600; font-size: 12px; color: var(--muted); }
  .state { padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 12px; }
  .state.up { background: var(--ok); } .state.down { background: var(--bad); } .state.draining { background: var(--warn); }
  .bar { width: 160px; height: 10px; background: #eaeef2; border-radius: 5px; overflow: hidden; display: inline-block;
         vertical-align: middle; margin-right: 6px; }
  .bar span { display: block; height: 100%; background: #0969da; }
  .bar span.high { background: var(--bad); }
  #problems { background: #fff; border: 1px solid var(--line); padding: 8px 12px; font: 12px/1.5 monospace;
              white-space: pre-wrap; max-height: 260px; overflow: auto; margin: 0; }
  .muted { color: var(--muted); }
</style>
</head>
<body>
<header><h1>dfs cluster</h1><span class="sub" id="updated">loading…</span></header>
<main>
  <div id="banner"></div>
  <div class="cards">
    <div class="card"><div class="label">Files</div><div class="value" id="files">–</div></div>
    <div class="card"><div class="label">Data (one copy)</div><div class="value" id="bytes">–</div></div>
    <div class="card"><div class="label">Nodes up</div><div class="value" id="nodes-up">–</div></div>
    <div class="card"><div class="label">Free / capacity (up nodes)</div><div class="value" id="space">–</div></div>
    <div class="card" id="under-card"><div class="label">Under-replicated files</div><div class="value" id="under">–</div></div>
    <div class="card"><div class="label">Queue (pending)</div><div class="value" id="queue">–</div></div>
    <div class="card" id="dead-card"><div class="label">Dead-letter jobs</div><div class="value" id="dead">–</div></div>
    <div class="card"><div class="label">Jobs not yet in Redis</div><div class="value" id="unpublished">–</div></div>
  </div>
  <h2>Storage nodes</h2>
  <table>
    <thead><tr><th>Node</th><th>URL</th><th>State</th><th>Capacity used</th><th>Free</th><th>Blobs</th><th>Last heartbeat</th></tr></thead>
    <tbody id="nodes"><tr><td colspan="7" class="muted">loading…</td></tr></tbody>
  </table>
  <h2>Recent errors and warnings (master)</h2>
  <pre id="problems" class="muted">none</pre>
</main>
<script>
"use strict";
const REFRESH_MS = 2000;
const $ = (id) => document.getElementById(id);

function human(bytes) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = Number(bytes) || 0, i = 0;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return (i === 0 ? v.toFixed(0) : v.toFixed(1)) + " " + units[i];
}

function ago(seconds, now) {
  if (!seconds) return "never";
  const d = Math.max(0, now - seconds);
  if (d < 120) return d.toFixed(0) + " s ago";
  if (d < 7200) return (d / 60).toFixed(0) + " min ago";
  return (d / 3600).toFixed(1) + " h ago";
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function renderNodes(nodes, now) {
  const body = $("nodes");
  body.replaceChildren();
  if (nodes.length === 0) {
    const tr = document.createElement("tr");
    cell(tr, "no storage node has registered yet", "muted").colSpan = 7;
    body.appendChild(tr);
    return;
  }
  for (const n of nodes) {
    const tr = document.createElement("tr");
    tr.dataset.node = n.node_id;
    tr.dataset.state = n.state;
    cell(tr, n.node_id);
    cell(tr, n.url, "muted");
    const state = document.createElement("span");
    state.className = "state " + n.state;
    state.textContent = n.state;
    cell(tr, "").appendChild(state);
    const used = cell(tr, "");
    // The bar is how full the node is (its disk may hold other data too).
    const pct = n.capacity > 0 ? Math.min(100, Math.max(0, 100 * (n.capacity - n.free) / n.capacity)) : 0;
    const bar = document.createElement("span");
    bar.className = "bar";
    bar.title = pct.toFixed(1) + "% of " + human(n.capacity);
    const fill = document.createElement("span");
    fill.style.width = pct.toFixed(1) + "%";
    if (pct > 90) fill.className = "high";
    bar.appendChild(fill);
    used.appendChild(bar);
    used.appendChild(document.createTextNode(pct.toFixed(0) + "% full, " + human(n.used) + " in blobs"));
    cell(tr, human(n.free));
    cell(tr, String(n.blobs));
    cell(tr, ago(n.last_heartbeat, now));
    body.appendChild(tr);
  }
}

function render(s) {
  const c = s.cluster, r = s.replication;
  $("files").textContent = c.files;
  $("bytes").textContent = human(c.bytes);
  $("nodes-up").textContent = c.nodes_up + " / " + c.nodes_total;
  $("space").textContent = human(c.free) + " / " + human(c.capacity);
  $("under").textContent = r.under_replicated;
  $("under-card").classList.toggle("alert", r.under_replicated > 0);
  $("unpublished").textContent = r.unpublished_jobs;
  if (r.redis === "") {
    $("queue").textContent = "no Redis";
    $("dead").textContent = "–";
  } else if (!r.redis_reachable) {
    $("queue").textContent = "Redis down";
    $("dead").textContent = "?";
  } else {
    $("queue").textContent = r.queue_length + " (" + r.pending + ")";
    $("dead").textContent = r.dead;
  }
  $("dead-card").classList.toggle("alert", (r.dead || 0) > 0);
  renderNodes(s.nodes, s.time);
  $("problems").textContent = s.problems.length ? s.problems.slice().reverse().join("\n") : "none";
  $("updated").textContent = "updated " + new Date(s.time * 1000).toLocaleTimeString();
  $("banner").style.display = "none";
  document.body.dataset.loaded = "true";
}

// A cluster with a token: open the page as http://master/#token=TOKEN. The
// fragment never reaches the server; the token stays in this tab only.
function token() {
  const m = location.hash.match(/token=([^&]+)/);
  if (m) {
    sessionStorage.setItem("dfs-token", decodeURIComponent(m[1]));
    history.replaceState(null, "", location.pathname);
  }
  return sessionStorage.getItem("dfs-token");
}

async function refresh() {
  try {
    const t = token();
    const res = await fetch("/api/v1/status", { cache: "no-store", headers: t ? { Authorization: "Bearer " + t } : {} });
    if (res.status === 401) throw new Error("this cluster wants a token: open " + location.origin + "/#token=YOUR_TOKEN");
    if (!res.ok) throw new Error("HTTP " + res.status);
    render(await res.json());
  } catch (e) {
    $("banner").textContent = "Cannot reach the master: " + e.message + " (retrying)";
    $("banner").style.display = "block";
  } finally {
    setTimeout(refresh, REFRESH_MS);
  }
}
refresh();
</script>
</body>
</html>
)HTML";

}  // namespace

Result<nlohmann::json> ClusterStatus(FileService& files, replication::ReplicationQueue* queue) {
  auto cluster = files.ClusterInfo();
  if (!cluster.ok()) return cluster.status();
  auto nodes = files.store().ListNodes();
  if (!nodes.ok()) return nodes.status();
  auto replication = ReplicationStatus(files, queue);
  if (!replication.ok()) return replication.status();
  nlohmann::json node_list = nlohmann::json::array();
  for (const auto& n : *nodes) node_list.push_back(NodeToJson(n));
  return nlohmann::json{{"cluster", *cluster},   {"nodes", node_list},
                        {"replication", *replication}, {"problems", RecentProblems(20)},
                        {"time", NowSeconds()}};
}

void RegisterStatusRoutes(httplib::Server& server, FileService& files, replication::ReplicationQueue* queue) {
  server.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(kStatusPage, "text/html; charset=utf-8");
  });
  server.Get("/api/v1/status", [&files, queue](const httplib::Request&, httplib::Response& res) {
    auto status = ClusterStatus(files, queue);
    if (!status.ok()) return SendError(res, status.status());
    SendJson(res, 200, *status);
  });
}

}  // namespace dfs::master
