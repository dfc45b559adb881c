/**
 * The offline inspector page `ipsec-es inspect` serves: it reads Stately inspection events
 * (`@xstate.actor`, `@xstate.event`, `@xstate.snapshot`) from `/events` and shows each actor's
 * current state and the events that moved it. No script from elsewhere, no build step.
 */
export const INSPECTOR_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ipsec-es inspector</title>
<style>
 body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; }
 table { border-collapse: collapse; margin-bottom: 1.5em; }
 td, th { border-bottom: 1px solid #ddd; padding: 0.3em 0.8em; text-align: left; }
 .state { font-weight: 600; } .dead { color: #a33; } .mature { color: #275; } .rekeying, .dying { color: #a60; }
 #log { font-family: ui-monospace, monospace; font-size: 12px; white-space: pre; max-height: 40em; overflow: auto; }
</style></head>
<body>
<h1>ipsec-es inspector</h1>
<p id="status" data-testid="status">connecting…</p>
<table><thead><tr><th>machine</th><th>actor</th><th>state</th><th>facts</th><th>last fact</th></tr></thead><tbody id="actors"></tbody></table>
<div id="log" data-testid="log"></div>
<script>
const actors = new Map();
const tbody = document.getElementById('actors');
const logEl = document.getElementById('log');
let count = 0;
const valueText = (v) => typeof v === 'string' ? v : Object.entries(v || {}).map(([k, s]) => k + '.' + valueText(s)).join(',');
function row(id) {
  let a = actors.get(id);
  if (!a) {
    const tr = document.createElement('tr');
    tr.dataset.actor = id;
    tr.innerHTML = '<td class="name"></td><td></td><td class="state" data-testid="state"></td><td class="n">0</td><td class="last"></td>';
    tr.children[1].textContent = id;
    tbody.appendChild(tr);
    a = { tr, n: 0 };
    actors.set(id, a);
  }
  return a;
}
const source = new EventSource('/events');
source.onopen = () => { document.getElementById('status').textContent = 'replaying…'; };
source.addEventListener('done', () => { document.getElementById('status').textContent = 'replay done: ' + count + ' inspection events'; });
source.onmessage = (m) => {
  const e = JSON.parse(m.data);
  count++;
  const a = row(e.sessionId);
  if (e.type === '@xstate.actor') a.tr.querySelector('.name').textContent = e.name;
  if (e.type === '@xstate.actor' || e.type === '@xstate.snapshot') {
    const text = valueText(e.snapshot.value);
    const cell = a.tr.querySelector('.state');
    cell.textContent = text;
    cell.className = 'state ' + (e.snapshot.context && e.snapshot.context.status || '');
    a.tr.dataset.state = text;
  }
  if (e.type === '@xstate.event') {
    a.n++;
    a.tr.querySelector('.n').textContent = a.n;
    a.tr.querySelector('.last').textContent = e.event.type;
    logEl.textContent += (e.event.at || '') + '  ' + e.sessionId + '  ' + (e.event.summary || e.event.type) + '\\n';
  }
};
</script>
</body></html>
`;
