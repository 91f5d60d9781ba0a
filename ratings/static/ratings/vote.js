// The vote control of a finished debate's page: who argued better, a tie, or both bad; one vote per person,
// changeable. It talks to POST/GET /api/debates/{id}/vote with the page's session (and its CSRF token).
(function () {
  "use strict";
  const section = document.getElementById("vote");
  if (!section) return;
  const api = section.dataset.api;
  const badge = document.getElementById("status-badge");
  const csrf = () => (document.querySelector("input[name=csrfmiddlewaretoken]") || {}).value || "";

  function h(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function seats() {
    return [...document.querySelectorAll("#seats .seat-chip")].map((chip) => ({
      id: Number(chip.dataset.seatId), name: chip.querySelector(".seat-name").textContent }));
  }

  function describe(vote) {
    if (!vote) return "You have not voted on this debate.";
    const how = vote.blind ? " (cast blind)" : "";
    if (vote.choice === "tie") return `Your vote: a tie${how}.`;
    if (vote.choice === "both_bad") return `Your vote: both bad${how}.`;
    const seat = seats().find((s) => s.id === vote.seat_id);
    return `Your vote: ${seat ? seat.name : "a seat"}${how}.`;
  }

  function render(vote, problem) {
    const status = h("p", "vote-status", describe(vote));
    status.id = "vote-status";
    const buttons = h("div", "vote-buttons");
    for (const seat of seats()) {
      const button = h("button", "button", seat.name);
      button.type = "button";
      button.addEventListener("click", () => cast({ choice: "seat", seat_id: seat.id }));
      buttons.append(button);
    }
    for (const [choice, label] of [["tie", "A tie"], ["both_bad", "Both bad"]]) {
      const button = h("button", "button button-secondary", label);
      button.type = "button";
      button.addEventListener("click", () => cast({ choice }));
      buttons.append(button);
    }
    const blind = h("a", "vote-blind", "Vote blind: hide the names and models until you have voted");
    blind.href = section.dataset.blindUrl;
    const parts = [h("h2", null, "Your vote"), h("p", "muted small", "Who argued better?"), buttons, status];
    if (problem) parts.push(h("p", "parse-error", problem));
    if (!vote) parts.push(blind);
    section.replaceChildren(...parts);
    section.hidden = false;
  }

  async function cast(body) {
    const response = await fetch(api, { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() }, body: JSON.stringify(body) });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) return render(null, data.detail || `The vote could not be recorded (${response.status}).`);
    render(data);
  }

  async function load() {
    const response = await fetch(api, { credentials: "same-origin" });
    render(response.ok ? await response.json() : null);
  }

  function completed() {
    return badge && badge.textContent.trim() === "completed";
  }

  if (completed()) load();
  else if (badge) {
    const watch = new MutationObserver(() => { if (completed()) { watch.disconnect(); load(); } });
    watch.observe(badge, { childList: true, characterData: true, subtree: true });
  }
})();
