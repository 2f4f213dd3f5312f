"use strict";
// The episode on one zoomable timeline, drawn from <stem>.timeline.json: chapters, each speaker's lines,
// pauses, music beds (their level, and where the voices duck them) and sound effects. Every shape carries
// data-kind, data-start and data-end (seconds) so what is drawn can be checked against the JSON.
// Clicking plays from that moment; the playhead follows the player. Uses player()/seek()/S from app.js.

const TL = { pps: 20, tl: null, svg: null, head: null };
const LANE = 22, LABEL = 90;
const SVGNS = "http://www.w3.org/2000/svg";

function tlEl(tag, attrs, parent) {
  const el = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (parent) parent.appendChild(el);
  return el;
}

function tlLanes(tl) {
  const speakers = [...new Set(tl.segments.filter((s) => s.kind === "speech").map((s) => s.speaker))];
  return ["chapter", ...speakers.map((s) => "speech:" + s), "pause", "music", "sfx"];
}

function tlShape(svg, seg, row, rate, color) {
  const start = seg.start / rate, end = seg.end / rate;
  const x = LABEL + start * TL.pps, w = Math.max(1, (end - start) * TL.pps);
  let h = LANE - 6, y = row * LANE + 3;
  if (seg.kind === "music") { h = Math.max(4, (LANE - 6) * Math.min(1, Math.pow(10, seg.level_db / 20) * 2)); y = row * LANE + LANE - 3 - h; }
  const r = tlEl("rect", { x: x.toFixed(2), y, width: w.toFixed(2), height: h, rx: 2, fill: color,
    "data-kind": seg.kind, "data-start": start.toFixed(3), "data-end": end.toFixed(3), "data-line": seg.line,
    "data-testid": "timeline-" + seg.kind }, svg);
  const what = seg.kind === "speech" ? `${seg.speaker}: ${seg.text}` : seg.kind === "music" ? `music: ${seg.source} (${seg.level_db} dB)`
    : seg.kind === "chapter" ? seg.title : seg.kind === "sfx" ? `sfx: ${seg.path}` : "pause";
  tlEl("title", {}, r).textContent = `${what} · ${fmtTime(start)}–${fmtTime(end)} (line ${seg.line})`;
  return r;
}

function drawTimeline(tl) {
  TL.tl = tl;
  const box = document.getElementById("timeline-view");
  const rate = tl.sample_rate || Number(tl.timebase.split("/")[1]);
  const lanes = tlLanes(tl), seconds = tl.duration / rate;
  box.innerHTML = "";
  const svg = tlEl("svg", { width: LABEL + seconds * TL.pps + 10, height: lanes.length * LANE + 4, role: "img",
    "aria-label": "episode timeline", "data-testid": "timeline-svg", "data-pps": TL.pps, "data-label-width": LABEL }, box);
  lanes.forEach((lane, i) => {
    const name = lane.startsWith("speech:") ? (tl.speakers[lane.slice(7)] || {}).display_name || lane.slice(7) : lane;
    tlEl("text", { x: 4, y: i * LANE + 15, fill: "#aab", "font-size": 11 }, svg).textContent = name;
  });
  const speech = tl.segments.filter((s) => s.kind === "speech");
  for (const seg of tl.segments) {
    const lane = seg.kind === "speech" ? "speech:" + seg.speaker : seg.kind;
    const row = lanes.indexOf(lane);
    if (row < 0) continue;
    const color = seg.kind === "speech" ? ((tl.speakers[seg.speaker] || {}).color || "#ddd")
      : { chapter: "#666b80", pause: "#3a3f4f", music: "#8fbc8f", sfx: "#e0a040" }[seg.kind];
    tlShape(svg, seg, row, rate, color);
    if (seg.kind === "music") tlDucks(svg, seg, speech, row, rate, tl.duck_db);
  }
  TL.head = tlEl("line", { x1: LABEL, x2: LABEL, y1: 0, y2: lanes.length * LANE + 4, stroke: "#ff5050",
    "stroke-width": 2, "data-testid": "timeline-playhead", "data-t": "0" }, svg);
  svg.addEventListener("click", (e) => {
    const x = e.clientX - svg.getBoundingClientRect().left - LABEL;
    if (x >= 0) seek(Math.max(0, x / TL.pps - (S.offset || 0)));
  });
  TL.svg = svg;
}

function tlDucks(svg, bed, speech, row, rate, duckDb) {
  // Where a voice speaks over the bed, the mix lowers it by duck_db: drawn as a dark band over the bed.
  for (const s of speech) {
    const a = Math.max(bed.start, s.start), b = Math.min(bed.end, s.end);
    if (b <= a) continue;
    const r = tlEl("rect", { x: (LABEL + a / rate * TL.pps).toFixed(2), y: row * LANE + 3, width: ((b - a) / rate * TL.pps).toFixed(2),
      height: LANE - 6, fill: "rgba(0,0,0,0.45)", "data-kind": "duck", "data-start": (a / rate).toFixed(3),
      "data-end": (b / rate).toFixed(3), "data-testid": "timeline-duck" }, svg);
    tlEl("title", {}, r).textContent = `music ducked ${duckDb} dB under line ${s.line}`;
  }
}

function timelineFollow() {
  if (!TL.head) return;
  const t = player().currentTime + (S.offset || 0);
  const x = LABEL + t * TL.pps;
  TL.head.setAttribute("x1", x.toFixed(2)); TL.head.setAttribute("x2", x.toFixed(2));
  TL.head.setAttribute("data-t", t.toFixed(3));
}

function timelineZoom(pps) { TL.pps = pps; if (TL.tl) { drawTimeline(TL.tl); timelineFollow(); } }

document.getElementById("timeline-zoom").addEventListener("input", (e) => timelineZoom(+e.target.value));
for (const p of [document.getElementById("result-video"), document.getElementById("result-audio")]) p.addEventListener("timeupdate", timelineFollow);
