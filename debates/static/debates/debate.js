// The live debate page: one WebSocket, a snapshot to start from, then numbered events applied in order.
// Everything a model wrote goes into the page through textContent, never as HTML, but for the `*_html` fields:
// the server rendered those from Markdown and sanitised them (debates/markdown.py), and sanitised() alone sets
// them as innerHTML. A turn has its text_html once completed; while it streams it is plain text.
(function () {
  "use strict";

  const root = document.getElementById("debate");
  if (!root) return;

  const ACTIVE = ["running", "judging"];
  const REFUSED = [4401, 4403, 4404]; // the server said why and closed: reconnecting will not help
  const $ = (id) => document.getElementById(id);

  const state = {
    seq: null, // null until the first snapshot: events before it are meaningless
    debate: null,
    seats: [],
    turns: new Map(), // turn id -> turn dict
    verdict: null,
    resyncing: false,
  };

  // ---- small DOM helpers ------------------------------------------------------------------------
  function h(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  // `html` must be a `*_html` field of a server message, never model text itself.
  function sanitised(tag, className, html) {
    const node = h(tag, className);
    node.innerHTML = html || "";
    return node;
  }

  function seatById(id) {
    return state.seats.find((seat) => seat.id === id) || null;
  }

  function sortedTurns() {
    const position = (turn) => (seatById(turn.seat_id) || { position: 0 }).position;
    return [...state.turns.values()].sort((a, b) => a.round - b.round || position(a) - position(b));
  }

  function plural(n, word) {
    return `${n} ${word}${n === 1 ? "" : "s"}`;
  }

  // ---- what the page says, computed as debates/views.py computes it for the first render ---------
  function progressLine() {
    const d = state.debate;
    const status = d.display_status;
    const where = d.current_round ? `in round ${d.current_round} of ${d.rounds}` : "before round 1";
    if (status === "draft") return `Not started · ${plural(d.rounds, "round")}`;
    if (status === "running") {
      if (!d.current_round) return "Starting…";
      const speaking = sortedTurns().find((t) => t.status === "streaming");
      const seat = speaking && seatById(speaking.seat_id);
      return `Round ${d.current_round} of ${d.rounds}` + (seat ? ` · ${seat.display_name} speaking` : "");
    }
    if (status === "judging") return "All rounds done · the judge is deciding";
    if (status === "completed" && d.stopped_after_round) {
      return `Finished early after round ${d.stopped_after_round} of ${d.rounds}: the seats agreed`;
    }
    if (status === "completed") return `Finished after ${plural(d.rounds, "round")}`;
    if (status === "interrupted") return `Interrupted ${where}: the server running it stopped`;
    return `${status.charAt(0).toUpperCase()}${status.slice(1)} ${where}`;
  }

  function seatState(seat) {
    const d = state.debate;
    if (state.verdict && state.verdict.winner_seat_id === seat.id) return "winner";
    const current = sortedTurns().find((t) => t.seat_id === seat.id && t.round === d.current_round);
    if (current && current.status === "streaming" && d.display_status === "running") return "speaking";
    if (current && current.status === "failed") return "failed";
    if (d.status === "draft") return "ready";
    if (d.status === "completed") return "done";
    if (current && current.status === "completed") return "spoke";
    return d.display_status === "running" ? "waiting" : "idle";
  }

  function turnMeta(turn) {
    if (turn.status === "streaming") return "speaking…";
    if (turn.status === "failed") return "failed";
    const parts = [];
    if (turn.completion_tokens) parts.push(`${turn.completion_tokens} tokens`);
    if (turn.latency_ms) parts.push(`${(turn.latency_ms / 1000).toFixed(1)} s`);
    parts.push(turn.cost_usd === null || turn.cost_usd === undefined ? "cost unknown" : `$${turn.cost_usd.toFixed(4)}`);
    return parts.join(" · ");
  }

  // As debates/transcripts.py cost_text says it: a call that could not be priced is never shown as free.
  function costText(spent, unpriced) {
    if (!unpriced) return `$${spent.toFixed(4)}`;
    const calls = `${unpriced} call${unpriced === 1 ? "" : "s"} could not be priced`;
    return spent ? `at least $${spent.toFixed(4)} (${calls})` : `unknown (${calls})`;
  }

  function applySpend(spend) {
    if (!spend) return;
    state.debate.spent_usd = spend.spent_usd;
    state.debate.unpriced_calls = spend.unpriced_calls;
    for (const entry of spend.seats || []) {
      const seat = seatById(entry.seat_id);
      if (seat) Object.assign(seat, { spent_usd: entry.spent_usd, unpriced_calls: entry.unpriced_calls });
    }
  }

  // ---- rendering ---------------------------------------------------------------------------------
  function renderHeader() {
    const d = state.debate;
    const badge = $("status-badge");
    badge.textContent = d.display_status;
    badge.className = `badge status-${d.display_status}`;
    $("progress").textContent = progressLine();
    const budget = d.budget_usd === null || d.budget_usd === undefined ? "" : ` of a $${d.budget_usd.toFixed(4)} budget`;
    $("spend").textContent = `Cost: ${costText(d.spent_usd, d.unpriced_calls)}${budget}`;
    for (const form of root.querySelectorAll("form[data-action]")) {
      form.hidden = !d[`can_${form.dataset.action}`];
    }
    $("failure").hidden = !d.failure_reason;
    $("failure-reason").textContent = d.failure_reason || "";
    $("early-stop").hidden = !d.early_stop_reason;
    $("early-stop").textContent = d.early_stop_reason || "";
  }

  function renderSeats() {
    const chips = state.seats.map((seat) => {
      const chipState = seatState(seat);
      const chip = h("div", `seat-chip seat-${seat.position} chip-${chipState}`);
      chip.dataset.seatId = seat.id;
      const meta = [seat.stance, seat.model_display_name, seat.persona_name].filter(Boolean);
      chip.append(h("span", "seat-name", seat.display_name), h("span", "seat-meta", meta.join(" · ")),
        h("span", "seat-cost", costText(seat.spent_usd, seat.unpriced_calls)), h("span", "chip-state", chipState));
      return chip;
    });
    $("seats").replaceChildren(...chips);
  }

  function turnElement(turn) {
    const seat = seatById(turn.seat_id) || { position: 0, display_name: "?", stance: "" };
    const article = h("article", `turn seat-${seat.position} turn-${turn.status}`);
    article.dataset.turnId = turn.id;
    article.dataset.seatId = turn.seat_id;
    const head = h("header", "turn-head");
    head.append(h("span", "speaker", seat.display_name), h("span", "stance", seat.stance),
      h("span", "turn-meta", turnMeta(turn)));
    const done = turn.status === "completed" && typeof turn.text_html === "string";
    article.append(head, done ? sanitised("div", "turn-text markdown", turn.text_html)
                              : h("div", "turn-text", turn.text || ""));
    if (turn.status === "streaming" && turn.reset_reason) {
      article.append(h("p", "turn-reset", `The last attempt broke (${turn.reset_reason}); its text was dropped and the turn starts again.`));
    }
    if (turn.status === "completed" && turn.fallback_reason) {
      article.append(h("p", "turn-fallback", fallbackNote(turn.answered_by_model, seat.model, turn.fallback_reason)));
    }
    if (turn.status === "failed") {
      let message = "This turn failed";
      if (turn.error_kind) message += ` (${turn.error_kind})`;
      if (turn.error_message) message += `: ${turn.error_message}`;
      article.append(h("p", "turn-error", message));
    }
    return article;
  }

  function fallbackNote(answeredBy, askedFor, reason) {
    return `Answered by ${answeredBy}, fallback for ${askedFor} (${reason})`;
  }

  function roundSection(number) {
    const transcript = $("transcript");
    let section = transcript.querySelector(`section.round[data-round="${number}"]`);
    if (section) return section;
    section = h("section", "round");
    section.dataset.round = number;
    // As the server's page names it: "Round 2 · Rebuttal" where the format has phases.
    const phase = ((state.debate && state.debate.phases) || []).find((p) => p.round === number);
    section.append(h("h2", "round-title", phase && phase.name ? `Round ${number} · ${phase.name}` : `Round ${number}`));
    const later = [...transcript.querySelectorAll("section.round")].find((s) => Number(s.dataset.round) > number);
    transcript.insertBefore(section, later || null);
    const empty = transcript.querySelector(".transcript-empty");
    if (empty) empty.remove();
    return section;
  }

  function renderTurn(turn) {
    const fresh = turnElement(turn);
    const existing = root.querySelector(`article.turn[data-turn-id="${turn.id}"]`);
    if (existing && Number(existing.closest("section.round").dataset.round) === turn.round) {
      existing.replaceWith(fresh);
      return;
    }
    if (existing) existing.remove();
    const section = roundSection(turn.round);
    const position = (seatById(turn.seat_id) || { position: 0 }).position;
    const after = [...section.querySelectorAll("article.turn")].find(
      (a) => (seatById(Number(a.dataset.seatId)) || { position: 0 }).position > position);
    section.insertBefore(fresh, after || null);
  }

  function renderTranscript() {
    const transcript = $("transcript");
    transcript.replaceChildren();
    const turns = sortedTurns();
    if (!turns.length) transcript.append(h("p", "muted transcript-empty", "Nothing has been said yet."));
    for (const turn of turns) renderTurn(turn);
  }

  function renderVerdict() {
    const section = $("verdict");
    const v = state.verdict;
    if (!v) {
      const judging = state.debate.status === "judging";
      section.hidden = !judging;
      const card = h("div", "verdict-card pending");
      card.append(h("h2", null, "Verdict"), h("p", "muted", "The judge is deciding…"));
      section.replaceChildren(...(judging ? [card] : []));
      return;
    }
    section.hidden = false;
    section.replaceChildren(v.parsed ? parsedVerdict(v) : unparsedVerdict(v));
  }

  function parsedVerdict(v) {
    const card = h("div", "verdict-card");
    card.append(h("h2", null, "Verdict"));
    const winner = seatById(v.winner_seat_id);
    if (winner) {
      const line = h("p", "winner", "Winner: ");
      line.append(h("strong", null, winner.display_name));
      card.append(line);
    }
    card.append(sanitised("div", "summary markdown", v.summary_html));
    card.append(h("p", "labels muted small", labelsText()));
    const scores = h("ol", "scores");
    for (const score of v.scores || []) {
      const seat = seatById(score.seat_id) || { position: 0, display_name: "?" };
      const item = h("li", `score seat-${seat.position}`);
      const head = h("div", "score-head");
      const value = h("span", "score-value", formatScore(score.score));
      value.append(h("small", null, "/10"));
      head.append(h("span", "speaker", seat.display_name), value);
      const bar = h("div", "score-bar");
      const fill = h("span");
      fill.style.width = `${Math.max(0, Math.min(10, Number(score.score) || 0)) * 10}%`;
      bar.append(fill);
      item.append(head, bar);
      if (score.reasoning_html) item.append(sanitised("div", "reasoning markdown", score.reasoning_html));
      if (score.criteria && score.criteria.length) item.append(criteriaList(score.criteria, v.criteria || []));
      scores.append(item);
    }
    card.append(scores);
    if (v.key_arguments_html && v.key_arguments_html.length) {
      const list = h("ul", "key-arguments");
      for (const argument of v.key_arguments_html) list.append(sanitised("li", "markdown", argument));
      card.append(h("h3", null, "Key arguments"), list);
    }
    const panel = panelSection(v);
    if (panel) card.append(panel);
    if (v.swap_note) card.append(h("p", `swap-note swap-${swapClass(v.swap_held)}`, v.swap_note));
    // As debates/transcripts.py self_judging_text says it.
    const selfSeats = (v.judge_seat_ids || []).map(seatById).filter(Boolean).map((seat) => seat.display_name);
    if (selfSeats.length) {
      card.append(h("p", "self-judging", `The judge's model also argues in this debate (${selfSeats.join(", ")}): ` +
                                        "judges tend to favour their own model's words."));
    }
    const by = v.answered_by || v.judge_model || "the judge";
    const consistency = consistencyText(v.judge_consistency);
    card.append(h("p", "muted small", `Judged by ${by}${v.repaired ? " (after one repair request)" : ""}` +
                                      (consistency ? ` · ${consistency}` : "")));
    if (v.fallback_reason) {
      card.append(h("p", "verdict-fallback small", fallbackNote(v.answered_by_model, v.judge_model, v.fallback_reason)));
    }
    return card;
  }

  function criteriaList(given, rubric) {
    const names = Object.fromEntries(rubric.map((c) => [c.key, c.name]));
    const list = h("dl", "criteria");
    for (const c of given) {
      const row = h("div", "criterion");
      const term = h("dt", null, `${names[c.key] || c.key} `);
      term.append(h("span", "criterion-score", formatScore(c.score)));
      row.append(term, sanitised("dd", "reasoning markdown", c.reasoning_html));
      list.append(row);
    }
    return list;
  }

  // As debates/verdict_card.py and debates/transcripts.py (judge_result_text, agreement_text) say it.
  function panelSection(v) {
    const judges = v.judges || [];
    if (judges.length < 2) return null;
    const section = h("div", "panel");
    const list = h("ul", "panel-judges");
    for (const judge of judges) {
      const item = h("li", "panel-judge");
      item.append(h("strong", null, judge.judge_display_name || "a removed model"), ": ",
                  h("span", "judge-result", judgeResult(judge)));
      if ((judge.judge_seat_ids || []).length) {
        const flag = h("span", "self-flag", "also debates");
        flag.title = "This judge's model also has a seat";
        item.append(" ", flag);
      }
      // Each judge's own words, as debates/snapshot.py rendered and sanitised them.
      if (judge.summary_html) item.append(sanitised("div", "judge-summary markdown small", judge.summary_html));
      if (judge.swap_note) item.append(h("p", `swap-note small swap-${swapClass(judge.swap_held)}`, judge.swap_note));
      const consistency = consistencyText(judge.consistency);
      if (consistency) item.append(h("p", "muted small", consistency));
      list.append(item);
    }
    section.append(h("h3", null, "Panel"), list);
    if (v.agreement !== null && v.agreement !== undefined) {
      section.append(h("p", "agreement", `Panel agreement: ${Math.round(100 * v.agreement)}%`));
    }
    if (v.panel_note) section.append(h("p", "panel-note small", v.panel_note));
    return section;
  }

  function judgeResult(judge) {
    if (judge.error) return `gave no verdict: ${judge.error}`;
    if (!judge.parsed) return "gave a verdict that could not be parsed";
    const winner = seatById(judge.winner_seat_id);
    return winner ? `named ${winner.display_name}` : "a tie";
  }

  function swapClass(held) {
    return held === true ? "held" : held === false ? "failed" : "unchecked";
  }

  // As debates/transcripts.py labels_text says it: the judge's labels follow the speaking order.
  function labelsText() {
    const ordered = [...state.seats].sort((a, b) => a.position - b.position);
    return "The judge knew the seats only as " +
      ordered.map((seat, i) => `Speaker ${String.fromCharCode(65 + i)} (${seat.display_name})`).join(", ") + ".";
  }

  // As debates/transcripts.py consistency_text says it.
  function consistencyText(c) {
    if (!c || !c.checked) return "";
    return `This judge's seat-swap checks held in ${c.held} of ${c.checked} debate${c.checked === 1 ? "" : "s"} ` +
           `(${Math.round((100 * c.held) / c.checked)}%)`;
  }

  function unparsedVerdict(v) {
    // Never scores here: an answer that did not parse has none we could trust.
    const card = h("div", "verdict-card unparsed");
    const title = h("p", "unparsed-title");
    title.append(h("strong", null, "The judge's answer could not be parsed."));
    card.append(h("h2", null, "Verdict"), title);
    if (v.parse_error) card.append(h("p", "parse-error", v.parse_error));
    const panel = panelSection(v);
    if (panel) card.append(panel);
    card.append(h("p", "muted small", "The judge's raw answer:"), h("pre", "raw-text", v.raw_text || ""));
    if (v.fallback_reason) {
      card.append(h("p", "verdict-fallback small", fallbackNote(v.answered_by_model, v.judge_model, v.fallback_reason)));
    }
    return card;
  }

  function formatScore(score) {
    const n = Number(score);
    return Number.isInteger(n) ? String(n) : n.toFixed(1);
  }

  function renderChrome() {
    renderHeader();
    renderSeats();
    renderVerdict();
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 80;
  }

  // ---- the protocol --------------------------------------------------------------------------------
  function applySnapshot(payload, seq) {
    state.debate = payload.debate;
    state.seats = payload.seats || [];
    state.turns = new Map((payload.turns || []).map((t) => [t.id, t]));
    state.verdict = payload.verdict || null;
    state.seq = seq;
    state.resyncing = false;
    renderTranscript();
    renderChrome();
  }

  function setStatus(status, failureReason) {
    const d = state.debate;
    d.status = status;
    d.display_status = status;
    d.can_start = status === "draft";
    d.can_cancel = status === "draft" || ACTIVE.includes(status);
    d.can_resume = status === "failed" || status === "cancelled";
    if (failureReason !== undefined) d.failure_reason = failureReason;
  }

  function putTurn(turn) {
    state.turns.set(turn.id, { ...(state.turns.get(turn.id) || {}), ...turn });
    renderTurn(state.turns.get(turn.id));
  }

  // Returns false when the event cannot be applied: the page missed something and needs a snapshot.
  function applyDelta(p) {
    let turn = state.turns.get(p.turn_id);
    if (!turn) {
      if (p.offset !== 0) return false;
      turn = { id: p.turn_id, seat_id: p.seat_id, round: p.round, status: "streaming", text: "" };
      state.turns.set(turn.id, turn);
      renderTurn(turn);
    }
    // Offsets count code points, as the server does; JS string lengths count UTF-16 units (an emoji is two).
    const have = Array.from(turn.text || "");
    const incoming = Array.from(p.text);
    if (p.offset > have.length) return false; // a gap in the text
    if (p.offset + incoming.length <= have.length) return true; // already have all of it
    turn.text = have.join("") + incoming.slice(have.length - p.offset).join("");
    const node = root.querySelector(`article.turn[data-turn-id="${turn.id}"] .turn-text`);
    if (node) node.textContent = turn.text;
    return true;
  }

  const handlers = {
    "debate.started": () => setStatus("running", ""),
    "round.started": (p) => { state.debate.current_round = p.round; },
    "turn.started": (p) => (p.turn ? putTurn(p.turn) : false),
    "turn.completed": (p) => { applySpend(p.spend); putTurn(p); },
    "turn.reset": (p) => {
      const turn = state.turns.get(p.turn_id);
      if (!turn) return false;
      putTurn({ ...turn, text: "", reset_reason: p.reason });
      return true;
    },
    "turn.failed": (p) => {
      const turn = state.turns.get(p.turn_id);
      if (!turn) return false;
      putTurn({ ...turn, status: "failed", text: p.text ?? turn.text, error_kind: p.error_kind,
                error_message: p.error });
      return true;
    },
    "round.checked": (p) => {
      if (p.converged) Object.assign(state.debate, { stopped_after_round: p.round, early_stop_reason: p.reason });
      applySpend(p.spend);
    },
    "judging.started": () => setStatus("judging"),
    verdict: (p) => { state.verdict = p.verdict; applySpend(p.spend); },
    "debate.completed": (p) => setStatus(p.status || "completed"),
    "debate.failed": (p) => setStatus(p.status || "failed", p.reason || ""),
    "debate.cancelled": (p) => setStatus(p.status || "cancelled"),
  };

  function onEvent(event) {
    if (state.seq === null || state.resyncing) return; // a snapshot is on its way and covers this
    // A delta takes no number (its seq is the last numbered event's) and may repeat text: applied by its offset.
    if (event.type === "turn.delta") {
      if (event.seq < state.seq) return; // sent before an event the page has, which supersedes it
      const following = nearBottom();
      if (!applyDelta(event.payload || {})) return resync();
      if (following && ACTIVE.includes(state.debate.status)) window.scrollTo(0, document.body.scrollHeight);
      return;
    }
    if (event.seq <= state.seq) return; // seen it
    if (event.seq > state.seq + 1) return resync();
    const following = nearBottom(); // a reader at the end of the transcript keeps seeing its end
    const handler = handlers[event.type];
    const outcome = handler ? handler(event.payload || {}) : true;
    if (outcome === false) return resync();
    state.seq = event.seq;
    renderChrome();
    if (following && ACTIVE.includes(state.debate.status)) window.scrollTo(0, document.body.scrollHeight);
  }

  // ---- the socket --------------------------------------------------------------------------------
  let socket = null;
  let attempts = 0;

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  let retry = null; // a resync asked again after the server refused one (at most one a second)

  function resync() {
    state.resyncing = true;
    send({ type: "resync" });
  }

  function showConnection(text) {
    const node = $("connection");
    node.textContent = text || "";
    node.hidden = !text;
  }

  function showNotice(text) {
    const node = $("notice");
    node.textContent = text || "";
    node.hidden = !text;
  }

  function onMessage(message) {
    if (!message || typeof message !== "object") return;
    if (message.type === "snapshot") {
      showConnection("");
      showNotice("");
      attempts = 0;
      clearTimeout(retry);
      applySnapshot(message.payload, message.seq);
    } else if (message.type === "error") {
      const p = message.payload || {};
      if (p.code === "rate_limited" && state.resyncing) {
        // Events are ignored until a snapshot comes: without one the page would stay as it is for good.
        clearTimeout(retry);
        retry = setTimeout(resync, 1100);
        return;
      }
      showNotice(p.detail || p.code || "The live channel reported an error.");
    } else {
      onEvent(message);
    }
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}${root.dataset.wsPath}`);
    socket.addEventListener("message", (e) => {
      let message;
      try {
        message = JSON.parse(e.data);
      } catch (err) {
        return;
      }
      onMessage(message);
    });
    socket.addEventListener("close", (e) => {
      socket = null;
      if (REFUSED.includes(e.code)) {
        showConnection("");
        return;
      }
      const delay = Math.min(10000, 500 * 2 ** attempts) + Math.random() * 250;
      attempts += 1;
      showConnection("reconnecting…");
      setTimeout(connect, delay);
    });
  }

  connect();
})();
