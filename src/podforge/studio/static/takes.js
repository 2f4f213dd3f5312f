"use strict";
// Takes per line, in the "what will be spoken" table: play each take (A/B), add one, choose one.
// Lines the render's listening check flagged are listed with the result, each with a one-click new take.
// Uses api()/esc()/S from app.js.

function takesUrl(line) { return `/api/episodes/${encodeURIComponent(S.episode)}/takes/${line}`; }

function decorateTakes() {
  for (const row of document.querySelectorAll("#spoken tr[data-what^=speak]")) {
    const btn = document.createElement("button");
    btn.textContent = "takes"; btn.className = "small"; btn.setAttribute("data-testid", "takes-button");
    btn.setAttribute("aria-label", `takes of line ${row.dataset.line}`);
    btn.onclick = () => toggleTakes(row);
    row.cells[0].append(" ", btn);
  }
}

async function toggleTakes(row) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains("takes-row")) { next.remove(); return; }
  const panel = document.createElement("tr");
  panel.className = "takes-row"; panel.setAttribute("data-testid", "takes-panel"); panel.dataset.line = row.dataset.line;
  panel.innerHTML = `<td colspan="4"></td>`;
  row.after(panel);
  showTakes(panel, await api("GET", takesUrl(row.dataset.line)));
}

function showTakes(panel, found) {
  const cell = panel.cells[0], line = panel.dataset.line;
  cell.innerHTML = found.takes.map((t) => `<span class="take${t.number === found.chosen ? " chosen" : ""}" data-testid="take" data-number="${t.number}">` +
    `<button data-act="play" aria-label="play take ${t.number}">▶ ${t.number}</button>` +
    `<span class="muted">seed ${t.seed}, ×${t.speed}${t.voice ? ", " + esc(t.voice) : ""}</span>` +
    (t.number === found.chosen ? " ✓" : ` <button data-act="choose" data-testid="choose-take">choose</button>`) +
    ` <span class="muted" data-testid="take-heard"></span></span>`).join(" ") +
    ` <button data-act="new" data-testid="new-take">+ new take</button> <span class="muted" data-testid="take-note"></span>`;
  for (const take of cell.querySelectorAll("[data-number]")) {
    const found = HEARD[`${line}/${take.dataset.number}`];
    if (found) showHeard(take, found);
  }
  cell.querySelectorAll("button").forEach((b) => {
    const number = +(b.closest("[data-number]") || {}).dataset?.number;
    b.onclick = async () => {
      try {
        if (b.dataset.act === "play") {
          const a = $("preview-audio"); a.src = `${takesUrl(line)}/${number}.wav`; await a.play();
          showHeard(b.closest("[data-number]"), await api("GET", `${takesUrl(line)}/${number}/check`));  // once voiced
        }
        else if (b.dataset.act === "choose") showTakes(panel, await api("POST", `${takesUrl(line)}/choose`, { take: number }));
        else showTakes(panel, await api("POST", takesUrl(line), {}));
      } catch (err) { cell.querySelector("[data-testid=take-note]").textContent = err.message; }
    };
  });
}

// What the listening check hears in a take, asked while it plays: compare takes by ear and by the check.
// Kept per line and take, so redrawing the takes (after choosing one) shows it again.
const HEARD = {};

function showHeard(take, found) {
  HEARD[`${found.line}/${found.take}`] = found;
  const note = take.querySelector("[data-testid=take-heard]");
  note.textContent = !found.checked ? "not heard: this voice speaks no words"
    : found.flagged ? `flagged: heard “${found.heard}” (WER ${found.wer})` : `heard clean (WER ${found.wer})`;
  note.classList.toggle("flagged", found.flagged);
}

function drawFlagged(metrics) {
  const list = $("flagged"), flagged = (metrics && metrics.lines_flagged) || [];
  list.innerHTML = flagged.map((f) => `<li data-testid="flagged-line" data-line="${f.line}">line ${f.line} ${esc(f.speaker)}: ` +
    `heard “${esc(f.heard)}” (WER ${f.wer}) <button data-testid="flagged-new-take">new take</button></li>`).join("");
  list.querySelectorAll("li").forEach((li) => {
    li.querySelector("button").onclick = async () => {
      await api("POST", takesUrl(li.dataset.line), {});
      li.querySelector("button").replaceWith("new take recorded: render again");
    };
  });
}
