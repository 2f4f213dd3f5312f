// podforge studio: a view of the JSON API (see README "Studio"). No framework, no build step.
"use strict";
const $ = (id) => document.getElementById(id);
const S = { episode: null, mtime: 0, dirty: false, saving: null, voices: [], check: null, job: null, source: null };
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

async function api(method, url, body, raw) {
  const init = { method, headers: {} };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) { init.body = JSON.stringify(body); init.headers["Content-Type"] = "application/json"; }
  const res = await fetch(url, init);
  if (!res.ok) {
    let lines = [`error: ${res.status} ${res.statusText}`];
    try { lines = (await res.json()).error || lines; } catch (e) { /* not JSON */ }
    throw Object.assign(new Error(lines.join("\n")), { lines });
  }
  return raw ? res : res.json();
}

// ---------- episodes ----------
async function loadEpisodes() {
  const { episodes } = await api("GET", "/api/episodes");
  const list = $("episode-list");
  list.innerHTML = "";
  for (const ep of episodes) {
    const li = document.createElement("li");
    li.dataset.testid = "episode-item"; li.setAttribute("data-testid", "episode-item"); li.dataset.name = ep.name;
    li.tabIndex = 0; li.setAttribute("role", "button"); li.setAttribute("aria-label", `open ${ep.title}`);
    if (ep.name === S.episode) li.classList.add("active");
    const job = ep.last_job;
    const when = job && job.finished ? new Date(job.finished * 1000).toLocaleString() : "";
    const secs = job && job.metrics ? ` · ${fmtTime(job.metrics.audio_seconds)}` : "";
    const state = job ? `${job.state === "done" ? "✓" : job.state}${secs} ${when}` : "not rendered";
    li.innerHTML = (ep.thumbnail ? `<img alt="" src="${esc(ep.thumbnail)}?v=${job ? job.id : 0}">` : "") +
      `<div><div>${esc(ep.title)}</div><div class="meta">${esc(ep.name)} · ${esc(ep.speakers.join(", "))}</div>` +
      `<div class="meta">${esc(state)}</div></div>`;
    li.onclick = () => openEpisode(ep.name);
    li.onkeydown = (e) => { if (e.key === "Enter") openEpisode(ep.name); };
    list.appendChild(li);
    if (ep.name === S.episode && ep.mtime !== S.mtime && !S.dirty && !S.saving) reloadText();
  }
  if (!S.episode && episodes.length) openEpisode((location.hash.slice(1) && decodeURIComponent(location.hash.slice(1))) || episodes[0].name);
}

async function openEpisode(name) {
  if (S.dirty) await save();
  S.episode = name; location.hash = encodeURIComponent(name);
  document.querySelectorAll("#episode-list li").forEach((li) => li.classList.toggle("active", li.dataset.name === name));
  await reloadText();
  renderCheck(await api("GET", `/api/episodes/${encodeURIComponent(name)}/check`));
  showLatestResult();
}

async function reloadText() {
  const ep = await api("GET", `/api/episodes/${encodeURIComponent(S.episode)}`);
  const editor = $("editor");
  if (editor.value !== ep.text) editor.value = ep.text;
  S.mtime = ep.mtime; S.dirty = false;
  paint();
  status("saved");
}

// ---------- editor ----------
let saveTimer = null;
function onEdit() {
  S.dirty = true; status("editing…"); paint();
  clearTimeout(saveTimer); saveTimer = setTimeout(save, 450);
}

async function save() {
  clearTimeout(saveTimer);
  if (!S.episode || !S.dirty) return S.saving;
  S.dirty = false; status("saving…");
  S.saving = api("PUT", `/api/episodes/${encodeURIComponent(S.episode)}`, { text: $("editor").value })
    .then((r) => { S.mtime = r.mtime; status(S.dirty ? "editing…" : "saved"); if (!S.dirty) renderCheck(r.check); })
    .catch((e) => status(e.message))
    .finally(() => { S.saving = null; });
  return S.saving;
}

function status(text) { $("save-status").textContent = text; }

function highlightLine(line, inFront) {
  const t = esc(line);
  if (inFront) return `<span class="hl-fm">${t.replace(/^(\s*)([\w-]+)(:)/, '$1<span class="hl-key">$2</span>$3')}</span>`;
  if (/^#{1,2}\s/.test(line)) return `<span class="hl-chapter">${t}</span>`;
  let out = t.replace(/\[[^\]]*\]/g, (m) => `<span class="hl-cue">${m}</span>`);
  out = out.replace(/^([A-Z][A-Z0-9 _.'-]*?)(\s*\([^)]*\))?(:)/, (m, label, dir, colon) =>
    `<span class="hl-label">${label}</span>${dir ? `<span class="hl-dir">${dir}</span>` : ""}${colon}`);
  if (/^\s*\([^)]*\)\s*$/.test(line)) out = `<span class="hl-dir">${out}</span>`;
  return out;
}

function paint() {
  const lines = $("editor").value.split("\n");
  const bad = new Set(((S.check && S.check.problems) || []).map((p) => p.line));
  let front = lines[0] && lines[0].trim() === "---", html = [], gutter = [];
  lines.forEach((line, i) => {
    const n = i + 1;
    const fenced = front && (i === 0 || line.trim() === "---");
    let h = highlightLine(line, front) || " ";
    if (bad.has(n)) h = `<span class="hl-bad">${h}</span>`;
    html.push(h);
    gutter.push(`<div class="${bad.has(n) ? "bad" : ""}" data-line="${n}">${n}</div>`);
    if (fenced && i > 0) front = false;
  });
  $("highlight").innerHTML = html.join("\n") + "\n";
  $("gutter").innerHTML = gutter.join("");
  syncScroll();
}

function syncScroll() {
  const ed = $("editor");
  $("highlight").scrollTop = ed.scrollTop; $("highlight").scrollLeft = ed.scrollLeft; $("gutter").scrollTop = ed.scrollTop;
}

function goToLine(line, col) {
  const ed = $("editor"), lines = ed.value.split("\n");
  let pos = 0;
  for (let i = 0; i < Math.min(line - 1, lines.length); i++) pos += lines[i].length + 1;
  pos += Math.max(0, (col || 1) - 1);
  ed.focus(); ed.setSelectionRange(pos, pos);
  ed.scrollTop = Math.max(0, (line - 5) * 20); syncScroll();
}

// ---------- check report: problems, spoken table, cast ----------
function renderCheck(report) {
  S.check = report;
  $("episode-title").textContent = report.title || "";
  const list = $("problems");
  list.innerHTML = "";
  $("problem-count").textContent = report.problems.length || "";
  if (!report.problems.length) list.innerHTML = `<li class="ok" data-testid="no-problems">✓ no problems: ready to render</li>`;
  for (const p of report.problems) {
    const li = document.createElement("li");
    li.setAttribute("data-testid", "problem"); li.dataset.line = p.line; li.dataset.col = p.col;
    li.textContent = p.text; li.tabIndex = 0;
    li.onclick = () => goToLine(p.line, p.col);
    list.appendChild(li);
  }
  const body = $("spoken").tBodies[0];
  body.innerHTML = report.rows.map((r) => `<tr data-testid="spoken-row" data-line="${r.line}" data-what="${esc(r.what)}"><td>${r.line}</td>` +
    `<td class="${r.what.startsWith("speak") ? "what-speak" : r.what.startsWith("skipped") ? "what-skip" : ""}">${esc(r.what)}</td>` +
    `<td>${esc(r.who)}</td><td>${esc(r.text)}</td></tr>`).join("");
  decorateTakes();
  renderCast(report.speakers);
  paint();
}

function avatarKind(avatar) {
  if (!avatar || avatar === "none") return { kind: "none", file: "" };
  const m = /^([a-z][a-z0-9_-]+):(.*)$/.exec(avatar);
  if (m) return { kind: m[1], file: m[2] };
  if (avatar === "illustrated" || avatar === "photo") return { kind: avatar, file: "" };
  return { kind: "photo", file: avatar };
}

function renderCast(speakers) {
  const box = $("cast");
  const focused = document.activeElement && document.activeElement.closest(".cast-row");
  if (focused && box.contains(focused)) return;  // do not rebuild under the user's hands
  box.innerHTML = "";
  for (const sp of speakers) box.appendChild(castRow(sp));
}

function voiceOptions(current) {
  const ids = new Set(S.voices.map((v) => v.id));
  const opts = ids.has(current) || !current ? [] : [`<option value="${esc(current)}">${esc(current)}</option>`];
  for (const v of S.voices) {
    const label = `${v.id}${v.gender ? " · " + v.gender : ""}${v.installed ? "" : " — not installed: " + v.install_hint}`;
    opts.push(`<option value="${esc(v.id)}" ${v.installed ? "" : "disabled"} ${v.id === current ? "selected" : ""} title="${esc(v.description)}">${esc(label)}</option>`);
  }
  return opts.join("");
}

function castRow(sp) {
  const row = document.createElement("div");
  const av = avatarKind(sp.avatar);
  row.className = "cast-row"; row.setAttribute("data-testid", "cast-row"); row.dataset.speaker = sp.label;
  row.innerHTML = `<span class="swatch" style="background:${esc(sp.color)}"></span><span class="name">${esc(sp.name)}</span>
    <span class="muted">line ${sp.line || "–"}</span>
    <div class="controls">
      <select class="voice" data-testid="voice-select" aria-label="voice for ${esc(sp.label)}">${voiceOptions(sp.voice)}</select>
      <button data-testid="preview-button" aria-label="play a preview of ${esc(sp.label)}'s voice">▶ Play</button>
      <input type="color" data-testid="color-input" aria-label="colour for ${esc(sp.label)}" value="${esc(sp.color.length === 4 ? "#" + [...sp.color.slice(1)].map((c) => c + c).join("") : sp.color)}">
      <select data-testid="avatar-select" aria-label="avatar for ${esc(sp.label)}">
        ${["none", "illustrated", "still", "photo"].map((k) => `<option ${k === av.kind ? "selected" : ""}>${k}</option>`).join("")}
      </select>
      <label class="file">Portrait <input type="file" data-testid="portrait-input" accept="image/jpeg,image/png,image/webp" aria-label="portrait image for ${esc(sp.label)}"></label>
    </div>
    <div class="note" data-testid="cast-note">${av.file ? "portrait: " + esc(av.file) : ""}</div>`;
  const [voice, play, color, avatar, file] = ["voice-select", "preview-button", "color-input", "avatar-select", "portrait-input"]
    .map((t) => row.querySelector(`[data-testid=${t}]`));
  voice.onchange = () => castChange(sp.label, { voice: voice.value });
  color.onchange = () => castChange(sp.label, { color: color.value });
  avatar.onchange = () => {
    const kind = avatar.value;
    if ((kind === "photo" || kind === "still") && !av.file) { note(row, "choose a portrait image for this avatar"); file.click(); return; }
    castChange(sp.label, { avatar: kind === "none" || kind === "illustrated" ? kind : `${kind}:${av.file}` });
  };
  play.onclick = () => previewVoice(sp, voice.value, play, row);
  file.onchange = () => uploadPortrait(sp.label, file.files[0], avatar.value === "still" ? "still" : "photo", row);
  if (av.kind === "photo" && av.file) addMouths(row, av.file);
  return row;
}

function note(row, text, bad) {
  const n = row.querySelector("[data-testid=cast-note]");
  n.textContent = text; n.style.color = bad ? "#ffb4b4" : "";
}

function addMouths(row, file) {
  const img = document.createElement("img");
  img.className = "mouths"; img.setAttribute("data-testid", "mouth-strip");
  img.alt = "the mouth shapes on this portrait"; img.src = `/api/mouths.png?path=${encodeURIComponent(file)}`;
  img.onerror = () => img.remove();
  row.appendChild(img);
}

async function castChange(label, changes) {
  await save();
  try {
    const r = await api("PATCH", `/api/episodes/${encodeURIComponent(S.episode)}/speakers/${encodeURIComponent(label)}`, changes);
    document.activeElement && document.activeElement.blur();
    applyText(r);
  } catch (e) { status(e.message); }
}

function applyText(r) {
  if (!S.dirty) { $("editor").value = r.text; S.mtime = r.mtime || S.mtime; }
  renderCheck(r.check); status("saved");
}

async function previewVoice(sp, voice, button, row) {
  await save();
  button.disabled = true; note(row, "synthesising…");
  try {
    const res = await api("POST", "/api/preview", { voice, episode: S.episode, speaker: sp.label }, true);
    const blob = await res.blob();
    const audio = $("preview-audio");
    audio.src = URL.createObjectURL(blob);
    await audio.play();
    note(row, `playing: “${decodeURIComponent(res.headers.get("X-Preview-Text") || "")}”`);
  } catch (e) { note(row, e.message, true); }
  finally { button.disabled = false; }
}

async function uploadPortrait(label, file, kind, row) {
  if (!file) return;
  await save();
  const form = new FormData(); form.append("file", file);
  note(row, "checking the portrait…");
  try {
    const r = await api("POST", `/api/episodes/${encodeURIComponent(S.episode)}/speakers/${encodeURIComponent(label)}/portrait?kind=${kind}`, form);
    document.activeElement && document.activeElement.blur();
    applyText(r);
  } catch (e) { note(row, e.message, true); }
}

// ---------- render queue ----------
async function startRender(quick) {
  if (!S.episode) return;
  await save();
  const body = { episode: S.episode, audio_only: $("audio-only").checked, size: $("render-size").value || null, layout: $("render-layout").value || null };
  if (quick === true) Object.assign(body, { audio_only: false, preview_start: +$("preview-start").value, preview_end: +$("preview-end").value });
  try { attach(await api("POST", "/api/jobs", body)); } catch (e) { showJobError(e.lines || [e.message]); }
}

function attach(job) {
  if (S.source) S.source.close();
  S.job = job; showJob(job);
  if (["done", "failed", "cancelled"].includes(job.state)) return;
  S.source = new EventSource(`/api/jobs/${job.id}/events`);
  S.source.addEventListener("job", (ev) => {
    const j = JSON.parse(ev.data); S.job = j; showJob(j);
    if (["done", "failed", "cancelled"].includes(j.state)) {
      S.source.close(); S.source = null; loadEpisodes();
      setTimeout(reattach, 400);  // the next queued job, if any
    }
  });
}

function showJob(j) {
  const pct = Math.round((j.fraction || 0) * 100);
  const at = j.progress[j.stage];
  const stage = j.stage ? ` · ${j.stage}${at && at[1] > 1 ? ` ${at[0]}/${at[1]}` : ""}` : "";
  const text = { queued: "queued", running: `rendering${stage}`, done: "done", failed: "failed", cancelled: "cancelled" }[j.state] || j.state;
  $("job-status").textContent = `${j.episode} · ${text}${j.cancelling ? " (cancelling…)" : ""}`;
  $("job-status").dataset.state = j.state;
  $("progress-bar").setAttribute("aria-valuenow", pct);
  $("progress-fill").style.width = pct + "%";
  const eta = j.eta_seconds != null ? ` · ~${fmtTime(j.eta_seconds)} left` : "";
  $("job-eta").textContent = j.state === "running" ? `${pct} %${eta}` : "";
  $("cancel-button").disabled = !["queued", "running"].includes(j.state);
  if (j.state === "failed" || j.state === "cancelled") showJobError(j.error.split("\n")); else $("job-error").hidden = true;
  if (j.state === "done" && j.episode === S.episode) showResult(j);
}

function showJobError(lines) { $("job-error").hidden = false; $("job-error").textContent = lines.join("\n"); }

async function refreshJobs() {
  const { jobs } = await api("GET", "/api/jobs");
  $("job-list").innerHTML = jobs.slice(0, 12).map((j) => `<li data-testid="job-item" data-state="${j.state}">#${j.id} ${esc(j.episode)} · ${j.state}` +
    `${j.options.audio_only ? " · audio only" : j.options.size ? " · " + esc(j.options.size) : ""}</li>`).join("");
  return jobs;
}

async function reattach() {
  const jobs = await refreshJobs();
  const live = jobs.find((j) => j.state === "running") || [...jobs].reverse().find((j) => j.state === "queued");
  if (live) attach(live);
}

async function addSpeaker(event) {
  event.preventDefault();
  const label = $("new-speaker").value.trim().toUpperCase();
  if (!label) return;
  const palette = ["#e4572e", "#3b82f6", "#22a06b", "#8b5cf6", "#f59e0b", "#14b8a6"];
  const color = palette[((S.check && S.check.speakers.length) || 0) % palette.length];
  $("new-speaker").value = "";
  await castChange(label, { color });
}

async function showLatestResult() {
  if (S.job && ["queued", "running"].includes(S.job.state)) return;
  const { jobs } = await api("GET", "/api/jobs");
  const last = jobs.find((j) => j.episode === S.episode && j.state === "done");
  $("result").hidden = true;
  if (last) showResult(last);
}

// ---------- results ----------
let words = [];
async function showResult(job) {
  if (S.shown === job.id && !$("result").hidden) return;
  S.shown = job.id;
  const out = job.outputs, video = $("result-video"), audio = $("result-audio");
  $("result").hidden = false;
  video.hidden = !out.mp4; if (out.mp4) video.src = out.mp4;
  audio.hidden = !!out.mp4 || !out.mp3; if (out.mp3 && !out.mp4) audio.src = out.mp3;
  $("downloads").innerHTML = Object.entries(out).map(([k, url]) => `<li><a href="${esc(url)}" download data-testid="download">${esc(url.split("/").pop())}</a> <span class="muted">${k}</span></li>`).join("");
  drawMetrics(job.metrics);
  drawFlagged(job.metrics);
  const o = job.options;
  const quick = o.preview_start != null && o.preview_end != null && !o.audio_only;
  S.offset = quick ? o.preview_start : 0;
  S.until = quick ? o.preview_end : Infinity;
  $("result-kind").textContent = quick ? `Quick preview: ${fmtTime(o.preview_start)}–${fmtTime(o.preview_end)} at ${o.size || "640x360"} (job #${job.id})`
    : `Render #${job.id}${o.size ? " at " + o.size : ""}${o.audio_only ? " · audio only" : ""}`;
  const [timeline, chapters, transcript] = await Promise.all([
    out.timeline ? fetch(out.timeline).then((r) => r.json()) : null,
    out.chapters ? fetch(out.chapters).then((r) => r.json()) : null,
    out.timeline ? fetch(`/api/jobs/${job.id}/transcript`).then((r) => r.json()) : null]);
  if (timeline) drawTimeline(timeline);
  if (transcript) drawTranscript(transcript);
  $("chapters").innerHTML = ((chapters && chapters.chapters) || []).filter((c) => c.startTime >= S.offset && c.startTime < S.until).map((c) =>
    `<li data-t="${c.startTime - S.offset}">${esc(c.title)} <span class="muted">${fmtTime(c.startTime)}</span></li>`).join("");
  $("chapters").querySelectorAll("li").forEach((li) => { li.onclick = () => seek(+li.dataset.t); });
}

function player() { return $("result-video").hidden ? $("result-audio") : $("result-video"); }
function seek(t) { const p = player(); p.currentTime = t; p.play(); }

// The written words, timed as the captions time them: the library's written_words, not a copy of it here.
function drawTranscript(transcript) {
  const box = $("transcript");
  box.innerHTML = ""; words = [];
  for (const line of transcript.lines) {
    const p = document.createElement("p");
    p.innerHTML = `<span class="who" style="color:${esc(line.color)}">${esc(line.name)}</span>`;
    for (let [text, start, end] of line.words) {
      if (end <= S.offset || start >= S.until) continue;
      start -= S.offset; end -= S.offset;
      const span = document.createElement("span");
      span.className = "w"; span.textContent = text; span.setAttribute("data-testid", "transcript-word");
      span.dataset.start = start.toFixed(3);
      span.onclick = () => seek(start + 0.001);
      p.append(span, " ");
      words.push({ start, end, span });
    }
    if (p.childElementCount > 1) box.appendChild(p);
  }
}

let lit = null;
function follow() {
  const t = player().currentTime;
  let lo = 0, hi = words.length - 1, found = null;
  while (lo <= hi) { const mid = (lo + hi) >> 1; if (words[mid].start <= t) { found = words[mid]; lo = mid + 1; } else hi = mid - 1; }
  const now = found && t <= found.end + 0.25 ? found.span : null;
  if (now !== lit) {
    if (lit) lit.classList.remove("now");
    if (now) { now.classList.add("now"); now.scrollIntoView({ block: "nearest" }); }
    lit = now;
  }
}

function drawMetrics(m) {
  const box = $("metrics");
  if (!m || !m.stages) { box.innerHTML = ""; return; }
  const stages = m.stages, maxWall = Math.max(...stages.map((s) => s.wall_seconds), 0.001);
  const rowH = 22, w = 360, barX = 64, barW = 120;
  const rows = stages.map((s, i) => {
    const y = i * rowH + 4, bw = Math.max(2, (s.wall_seconds / maxWall) * barW);
    const rtf = m.audio_seconds ? (s.wall_seconds / m.audio_seconds).toFixed(3) : "–";
    return `<text x="0" y="${y + 13}" fill="#8a93a6" font-size="12">${esc(s.name)}</text>
      <rect x="${barX}" y="${y + 3}" width="${bw.toFixed(1)}" height="13" rx="3" fill="#3b82f6"><title>${esc(s.name)}: ${s.wall_seconds} s, realtime factor ${rtf}, peak ${s.peak_rss_mb} MB</title></rect>
      <text x="${barX + bw + 6}" y="${y + 13}" fill="#e6e9ef" font-size="11">${s.wall_seconds.toFixed(2)} s · ×${rtf} · ${Math.round(s.peak_rss_mb)} MB</text>`;
  }).join("");
  box.innerHTML = `<div class="muted">${fmtTime(m.audio_seconds)} of audio in ${m.wall_seconds.toFixed(1)} s (realtime factor ${m.realtime_factor.toFixed(3)})</div>
    <svg data-testid="metrics-svg" role="img" aria-label="wall time, realtime factor and peak memory per stage" width="${w}" height="${stages.length * rowH + 8}">${rows}</svg>`;
}

function fmtTime(s) {
  s = Math.max(0, Math.round(s || 0));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// ---------- wiring ----------
function init() {
  const ed = $("editor");
  ed.addEventListener("input", onEdit);
  ed.addEventListener("scroll", syncScroll);
  ed.addEventListener("keydown", (e) => {
    if (e.key === "Tab") { e.preventDefault(); document.execCommand("insertText", false, "  "); }
  });
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "s") { e.preventDefault(); S.dirty = true; save(); }
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") { e.preventDefault(); startRender(); }
  });
  $("render-button").onclick = () => startRender(false);
  $("add-speaker-form").onsubmit = addSpeaker;
  $("preview-render-button").onclick = () => startRender(true);
  $("cancel-button").onclick = () => S.job && api("POST", `/api/jobs/${S.job.id}/cancel`).then(showJob);
  $("new-episode-form").onsubmit = async (e) => {
    e.preventDefault();
    const r = await api("POST", "/api/episodes", { title: $("new-title").value || "New episode" });
    $("new-title").value = ""; await loadEpisodes(); openEpisode(r.name);
  };
  $("new-demo").onclick = async () => {
    const r = await api("POST", "/api/episodes", { template: "demo" });
    await loadEpisodes(); openEpisode(r.name);
  };
  $("rename-form").onsubmit = async (e) => {
    e.preventDefault();
    try { const r = await api("POST", `/api/episodes/${encodeURIComponent(S.episode)}/rename`, { to: $("rename-to").value });
      S.episode = r.name; $("rename-to").value = ""; location.hash = encodeURIComponent(r.name); loadEpisodes();
    } catch (err) { status(err.message); }
  };
  for (const p of [$("result-video"), $("result-audio")]) p.addEventListener("timeupdate", follow);
  const tick = () => { if (!player().paused) follow(); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  api("GET", "/api/voices").then((r) => { S.voices = r.voices; if (S.check) renderCast(S.check.speakers); });
  loadEpisodes().then(reattach);
  setInterval(() => loadEpisodes().catch(() => {}), 3000);
}
init();
