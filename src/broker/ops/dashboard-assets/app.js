// The relaymesh dashboard: one server-sent event stream (GET /dashboard/stream) feeds every view.
// Cytoscape draws the cluster and the fan-out trees, uPlot the traffic; plain DOM for the rest.
/* global cytoscape, uPlot */
'use strict';

const TOKEN_KEY = 'relaymesh-admin-token';
const $ = (id) => document.getElementById(id);
const view = {
  state: null,
  cy: null,
  treeCy: null,
  liveNodes: new Set(),
  charts: [],
  traffic: [],
  device: null,
  /** The benchmark report shown, and whether the list was fetched. */
  report: '',
  reportsListed: false,
  topicKey: '',
  treeRefreshAt: 0,
};
// For people and tests inspecting the page from the console.
window.relaymeshDashboard = view;

function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

function authHeaders() {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
}

function setStatus(text) {
  $('status').textContent = text;
}

function showLogin(message) {
  $('main').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  $('token').focus();
}

async function getJson(path, init = {}) {
  const res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  const body = await res.json().catch(() => ({}));
  if (res.status === 401) showLogin('The admin token was refused.');
  return { ok: res.ok, status: res.status, body };
}

/** Reads the event stream until it ends, then reconnects after a pause. */
async function stream() {
  for (;;) {
    try {
      const res = await fetch('/dashboard/stream', { headers: authHeaders() });
      if (res.status === 401) {
        showLogin(token() ? 'The admin token was refused.' : '');
        return;
      }
      if (!res.ok || !res.body) throw new Error(`stream answered ${res.status}`);
      $('login').hidden = true;
      $('main').hidden = false;
      $('forget').hidden = !token();
      setStatus('live');
      if (!view.reportsListed) {
        view.reportsListed = true;
        void listReports(true);
      }
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
          const event = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (event.startsWith('data: ')) update(JSON.parse(event.slice(6)));
        }
      }
      setStatus('stream ended: reconnecting…');
    } catch (err) {
      setStatus(`disconnected (${err.message}): reconnecting…`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

function update(state) {
  view.state = state;
  $('node-id').textContent = state.nodeId;
  view.traffic = state.traffic.length > 1 ? state.traffic : [...view.traffic, ...state.traffic].slice(-300);
  renderCluster(state.cluster);
  renderTopics(state.topics);
  renderTraffic();
}

// ---- cluster -------------------------------------------------------------------------------

function renderCluster(cluster) {
  $('cluster-empty').hidden = cluster !== null;
  $('cluster-graph').hidden = cluster === null;
  if (!cluster) return;
  const live = new Set(cluster.nodes.filter((n) => n.live).map((n) => n.nodeId));
  logNodeEvents(live);
  if (!view.cy) {
    view.cy = cytoscape({
      container: $('cluster-graph'),
      style: [
        { selector: 'node', style: { label: 'data(id)', 'background-color': '#1f6feb', color: '#111', 'text-valign': 'center', 'text-halign': 'right', 'text-margin-x': 6 } },
        { selector: 'node.self', style: { 'background-color': '#8250df', 'border-width': 3, 'border-color': '#111' } },
        { selector: 'edge', style: { width: 'data(width)', 'line-color': 'data(colour)', label: 'data(label)', 'font-size': 10, 'text-background-color': '#fff', 'text-background-opacity': 0.8 } },
        { selector: 'edge.tree', style: { 'line-style': 'dashed', 'line-color': '#2e7d32' } },
        { selector: 'edge.on-path', style: { 'line-color': '#d73a49', width: 6 } },
        { selector: 'node.on-path', style: { 'background-color': '#d73a49' } },
      ],
      userZoomingEnabled: false,
    });
    view.cy.on('mouseover', 'node', (e) => highlightPath(e.target.id()));
    view.cy.on('mouseout', 'node', () => highlightPath($('route-to').value));
  }
  const cy = view.cy;
  const elements = clusterElements(cluster, live);
  const wanted = new Set(elements.map((e) => e.data.id));
  cy.batch(() => {
    cy.elements().filter((e) => !wanted.has(e.id())).remove();
    for (const element of elements) {
      const existing = cy.getElementById(element.data.id);
      if (existing.nonempty()) existing.data(element.data);
      else cy.add(element);
    }
    cy.nodes().forEach((n) => n.toggleClass('self', n.id() === cluster.nodeId));
  });
  if (cy.nodes().length !== view.laidOut) {
    view.laidOut = cy.nodes().length;
    cy.layout({ name: 'circle', padding: 40 }).run();
  }
  fillSelect($('route-to'), [...live].filter((n) => n !== cluster.nodeId));
  fillSelect($('tree-origin'), [...live]);
  highlightPath($('route-to').value);
  markTree($('tree-origin').value);
  fillRows($('routes'), Object.entries(cluster.routes).sort().map(([dest, hop]) => [dest, hop, (cluster.paths[dest] ?? []).join(' → ')]));
  fillRows($('links'), cluster.links.map((l) => [l.from, l.to, l.cost.toFixed(2)]));
}

/** Nodes that are live, and one edge per linked pair, sized and coloured by its cost. */
function clusterElements(cluster, live) {
  const nodes = [...live].map((id) => ({ group: 'nodes', data: { id } }));
  const pairs = new Map();
  for (const l of cluster.links) {
    if (!live.has(l.from) || !live.has(l.to)) continue;
    const [a, b] = l.from < l.to ? [l.from, l.to] : [l.to, l.from];
    const key = `${a}~${b}`;
    const pair = pairs.get(key) ?? { a, b, costs: [] };
    pair.costs.push(l.cost);
    pairs.set(key, pair);
  }
  const edges = [...pairs.entries()].map(([id, p]) => {
    const cost = Math.max(...p.costs);
    return {
      group: 'edges',
      data: { id, source: p.a, target: p.b, label: `${cost.toFixed(1)} ms`, width: Math.max(2, Math.min(12, 12 / Math.sqrt(1 + cost))), colour: costColour(cost) },
    };
  });
  return [...nodes, ...edges];
}

function costColour(cost) {
  if (cost < 1) return '#2da44e';
  if (cost < 10) return '#bf8700';
  return '#cf222e';
}

function logNodeEvents(live) {
  const now = new Date().toLocaleTimeString();
  if (view.liveNodes.size > 0) {
    for (const node of live) if (!view.liveNodes.has(node)) addEvent(`${now} ${node} up`, 'up');
    for (const node of view.liveNodes) if (!live.has(node)) addEvent(`${now} ${node} down`, 'down');
  }
  view.liveNodes = live;
}

function addEvent(text, kind) {
  const li = document.createElement('li');
  li.textContent = text;
  li.className = kind;
  $('events').prepend(li);
  while ($('events').children.length > 50) $('events').lastElementChild.remove();
}

function highlightPath(dest) {
  const cluster = view.state?.cluster;
  if (!view.cy || !cluster) return;
  view.cy.elements().removeClass('on-path');
  const path = dest ? cluster.paths[dest] : undefined;
  $('route-path').textContent = path ? `Path to ${dest}: ${path.join(' → ')}` : '';
  if (!path) return;
  for (let i = 0; i < path.length; i++) {
    view.cy.getElementById(path[i]).addClass('on-path');
    if (i > 0) view.cy.getElementById(edgeId(path[i - 1], path[i])).addClass('on-path');
  }
}

function markTree(origin) {
  const cluster = view.state?.cluster;
  if (!view.cy || !cluster) return;
  view.cy.edges().removeClass('tree');
  for (const e of origin ? cluster.trees[origin] ?? [] : []) view.cy.getElementById(edgeId(e.from, e.to)).addClass('tree');
}

function edgeId(x, y) {
  return x < y ? `${x}~${y}` : `${y}~${x}`;
}

// ---- fan-out ---------------------------------------------------------------------------------

function renderTopics(topics) {
  fillRows($('topics'), topics.map((t) => [t.filter, t.qos, t.subscribers, t.leaves, t.height]));
  fillSelect($('topic'), topics.map((t) => `${t.qos}:${t.filter}`), (key) => {
    const [qos, ...filter] = key.split(':');
    return `${filter.join(':')} (QoS ${qos})`;
  });
  if (view.topicKey && Date.now() >= view.treeRefreshAt) void showTree(view.topicKey);
}

async function showTree(key) {
  view.topicKey = key;
  view.treeRefreshAt = Date.now() + 5000;
  if (!key) {
    $('tree-summary').textContent = '';
    view.treeCy?.elements().remove();
    return;
  }
  const [qos, ...rest] = key.split(':');
  const { ok, body } = await getJson(`/dashboard/trees/${qos}/${encodeURIComponent(rest.join(':'))}`);
  if (!ok) {
    $('tree-summary').textContent = body.error ?? 'no tree';
    return;
  }
  const elements = [];
  const totals = { members: 0, leaves: 0, inners: 0, branching: 0 };
  let next = 0;
  const walk = (node, parent) => {
    const id = `n${next++}`;
    if (node.kind === 'leaf') {
      totals.leaves++;
      totals.members += node.members;
      elements.push({ group: 'nodes', data: { id, label: `${node.members}`, kind: 'leaf' } });
    } else {
      totals.inners++;
      totals.branching = Math.max(totals.branching, node.children.length);
      elements.push({ group: 'nodes', data: { id, label: parent ? `inner h${node.height}` : `root h${node.height}`, kind: 'inner' } });
      for (const child of node.children) walk(child, id);
    }
    if (parent) elements.push({ group: 'edges', data: { id: `${parent}-${id}`, source: parent, target: id } });
  };
  walk(body.tree, undefined);
  $('tree-summary').textContent = `${body.filter} (QoS ${body.qos}): ${totals.members} members in ${totals.leaves} leaves, ${totals.inners} inner nodes, widest branching ${totals.branching}, ${(totals.members / Math.max(1, totals.leaves)).toFixed(0)} members per leaf`;
  if (!view.treeCy) {
    view.treeCy = cytoscape({
      container: $('tree-graph'),
      style: [
        { selector: 'node', style: { label: 'data(label)', 'font-size': 10, 'text-valign': 'bottom' } },
        { selector: 'node[kind = "inner"]', style: { 'background-color': '#8250df', shape: 'round-rectangle' } },
        { selector: 'node[kind = "leaf"]', style: { 'background-color': '#2da44e' } },
        { selector: 'edge', style: { width: 1, 'line-color': '#999' } },
      ],
    });
  }
  view.treeCy.elements().remove();
  view.treeCy.add(elements);
  view.treeCy.layout({ name: 'breadthfirst', directed: true, roots: '#n0', spacingFactor: 0.9 }).run();
}

// ---- traffic ---------------------------------------------------------------------------------

const CHARTS = [
  { title: 'Connections', series: [['connections', (s) => s.connections], ['devices', (s) => s.devices]] },
  { title: 'Frames per second', series: [['in', rate((s) => s.framesIn)], ['out', rate((s) => s.framesOut)]] },
  { title: 'Messages accepted per second', series: [['QoS 0', rate((s) => sumBy(s.messages, 'qos0'))], ['QoS 1', rate((s) => sumBy(s.messages, 'qos1'))]] },
  { title: 'Fan-out latency (ms, bucket bound)', series: [['p50', (s) => ms(s.fanoutP50Seconds)], ['p99', (s) => ms(s.fanoutP99Seconds)]] },
  { title: 'Event-loop lag (ms)', series: [['lag', (s) => ms(s.eventLoopLagSeconds)]] },
];
const COLOURS = ['#1f6feb', '#cf222e', '#2da44e'];

function chartWidth() {
  return Math.max(240, Math.min(640, $('charts').clientWidth - 20));
}

function rate(read) {
  return (s, prev) => (prev ? Math.max(0, (read(s) - read(prev)) / Math.max(0.001, (s.t - prev.t) / 1000)) : null);
}

function sumBy(messages, suffix) {
  return Object.entries(messages).reduce((sum, [key, n]) => (key.endsWith(suffix) ? sum + n : sum), 0);
}

function ms(seconds) {
  return seconds === null || seconds === undefined ? null : seconds * 1000;
}

function renderTraffic() {
  const samples = view.traffic;
  if (samples.length === 0) return;
  const width = chartWidth();
  if (view.charts.length === 0) {
    for (const chart of CHARTS) {
      const box = document.createElement('figure');
      box.setAttribute('aria-label', chart.title);
      $('charts').append(box);
      const opts = {
        title: chart.title,
        width,
        height: 200,
        series: [{}, ...chart.series.map(([label], i) => ({ label, stroke: COLOURS[i], width: 2 }))],
        axes: [{}, { size: 60 }],
      };
      view.charts.push(new uPlot(opts, [[]], box));
    }
  }
  const xs = samples.map((s) => s.t / 1000);
  CHARTS.forEach((chart, c) => {
    const ys = chart.series.map(([, read]) => samples.map((s, i) => read(s, samples[i - 1])));
    view.charts[c].setData([xs, ...ys]);
  });
  const now = samples.at(-1);
  fillRows($('counters'), [
    ['connections', now.connections],
    ['devices connected', now.devices],
    ['connects (total)', now.connects],
    ['disconnects (total)', now.disconnects],
    ['frames in (total)', now.framesIn],
    ['frames out (total)', now.framesOut],
    ...Object.entries(now.messages).map(([key, n]) => [`messages ${key} (total)`, n]),
    ...Object.entries(now.protocols ?? {}).flatMap(([protocol, p]) => [
      [`${protocol} connections`, p.connections],
      [`${protocol} messages in / out (total)`, `${p.messagesIn} / ${p.messagesOut}`],
    ]),
    ['QoS 0 dropped (total)', now.dropped],
    ['acks pending', now.acksPending],
    ['LMDB size (bytes)', now.storeBytes],
    ['event-loop lag (ms)', (now.eventLoopLagSeconds * 1000).toFixed(2)],
  ]);
}

// ---- devices ---------------------------------------------------------------------------------

async function lookUpDevice(deviceId) {
  $('device-error').textContent = '';
  const { ok, body } = await getJson(`/dashboard/devices/${encodeURIComponent(deviceId)}`);
  $('device-details').hidden = !ok;
  $('kick').hidden = !(ok && body.connected);
  if (!ok) {
    $('device-error').textContent = body.error ?? 'not found';
    return;
  }
  view.device = deviceId;
  $('device-details').textContent = JSON.stringify(body, null, 2);
}

async function kick() {
  if (!view.device) return;
  const { ok, body } = await getJson(`/admin/devices/${encodeURIComponent(view.device)}/kick`, { method: 'POST' });
  $('device-error').textContent = ok ? `${view.device} kicked` : body.error ?? 'kick refused';
  if (ok) await lookUpDevice(view.device);
}

// ---- benchmarks ------------------------------------------------------------------------------

/** Lists the reports of `relaymesh bench … --html` in the broker's report directory; opens the newest when asked. */
async function listReports(openNewest) {
  const { ok, body } = await getJson('/dashboard/reports');
  if (!ok) {
    $('reports-status').textContent = body.error ?? 'the reports cannot be listed';
    return;
  }
  const list = body.reports;
  $('reports-status').textContent =
    body.dir === null
      ? 'No report directory: start the broker with --ops-bench-reports-dir <dir>.'
      : list.length === 0
        ? `No reports in ${body.dir} yet: run a benchmark with --html.`
        : `${list.length} report${list.length === 1 ? '' : 's'} in ${body.dir}.`;
  $('reports').tBodies[0].innerHTML = list
    .map((r) => `<tr><td><button type="button" data-report="${escapeHtml(r.name)}">${escapeHtml(r.name)}</button></td><td>${escapeHtml(new Date(r.modifiedAt).toLocaleString())}</td><td>${(r.bytes / 1024).toFixed(0)} KB</td></tr>`)
    .join('');
  markShownReport();
  if (openNewest && list.length > 0) await openReport(list[0].name);
}

/** Shows a report in a sandboxed frame (no script, no access to this page or its token). */
async function openReport(name) {
  const res = await fetch(`/dashboard/reports/${encodeURIComponent(name)}`, { headers: authHeaders() });
  if (res.status === 401) return showLogin('The admin token was refused.');
  if (!res.ok) {
    $('reports-status').textContent = `${name}: ${(await res.json().catch(() => ({}))).error ?? res.status}`;
    return;
  }
  const html = await res.text();
  $('report-frame').srcdoc = html;
  $('report-frame').hidden = false;
  view.report = name;
  markShownReport();
  const download = $('download-report');
  if (download.href.startsWith('blob:')) URL.revokeObjectURL(download.href);
  download.href = URL.createObjectURL(new Blob([html], { type: 'text/html' }));
  download.download = name;
  download.hidden = false;
}

function markShownReport() {
  for (const button of $('reports').querySelectorAll('button[data-report]')) button.setAttribute('aria-current', String(button.dataset.report === view.report));
}

// ---- DOM helpers -----------------------------------------------------------------------------

function fillRows(table, rows) {
  const body = table.tBodies[0];
  const html = rows.map((r) => `<tr>${r.map((cell) => `<td>${escapeHtml(String(cell))}</td>`).join('')}</tr>`).join('');
  if (body.dataset.html !== html) {
    body.innerHTML = html;
    body.dataset.html = html;
  }
}

/** Keeps the first option and the current choice; replaces the rest with `values`. */
function fillSelect(select, values, label = (v) => v) {
  const current = select.value;
  const wanted = ['', ...values];
  const have = [...select.options].map((o) => o.value);
  if (have.join('\n') === wanted.join('\n')) return;
  for (const option of [...select.options].slice(1)) option.remove();
  for (const value of values) select.add(new Option(label(value), value));
  select.value = values.includes(current) ? current : '';
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---- start -----------------------------------------------------------------------------------

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $('token').value);
  $('token').value = '';
  void stream();
});
$('forget').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
});
$('route-to').addEventListener('change', (e) => highlightPath(e.target.value));
$('tree-origin').addEventListener('change', (e) => markTree(e.target.value));
$('topic').addEventListener('change', (e) => void showTree(e.target.value));
$('device-search').addEventListener('submit', (e) => {
  e.preventDefault();
  void lookUpDevice($('device-id').value.trim());
});
$('kick').addEventListener('click', () => void kick());
$('refresh-reports').addEventListener('click', () => void listReports(false));
$('reports').addEventListener('click', (e) => {
  const name = e.target.closest('button[data-report]')?.dataset.report;
  if (name) void openReport(name);
});
window.addEventListener('resize', () => {
  for (const chart of view.charts) chart.setSize({ width: chartWidth(), height: 200 });
  for (const cy of [view.cy, view.treeCy]) {
    cy?.resize();
    cy?.fit(undefined, 30);
  }
});
void stream();
