// "Add seat" and "Remove" for the seat formset. Without JavaScript the page still posts its two seats.
(function () {
  "use strict";

  const list = document.getElementById("seat-list");
  const template = document.getElementById("seat-template");
  const addButton = document.getElementById("add-seat");
  if (!list || !template || !addButton) return;

  const prefix = list.dataset.prefix;
  const min = Number(list.dataset.min);
  const max = Number(list.dataset.max);
  const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
  const pattern = new RegExp(`^(id_)?${prefix}-(\\d+|__prefix__)-`);

  const seats = () => [...list.querySelectorAll("[data-seat-form]")];

  // Django reads seat N from fields named "seats-N-...": after a removal the numbers must run 0, 1, 2... again.
  function renumber() {
    seats().forEach((seat, index) => {
      for (const node of seat.querySelectorAll("[name], [id], [for], [aria-describedby]")) {
        for (const attr of ["name", "id", "for", "aria-describedby"]) {
          const value = node.getAttribute(attr);
          if (value) node.setAttribute(attr, value.split(" ").map((v) => v.replace(pattern, `$1${prefix}-${index}-`)).join(" "));
        }
      }
      seat.querySelector("[data-seat-number]").textContent = String(index + 1);
    });
    const count = seats().length;
    total.value = String(count);
    addButton.hidden = false;
    addButton.disabled = count >= max;
    for (const button of list.querySelectorAll("[data-remove-seat]")) {
      button.hidden = false;
      button.disabled = count <= min;
    }
  }

  addButton.addEventListener("click", () => {
    if (seats().length >= max) return;
    const seat = template.content.firstElementChild.cloneNode(true);
    list.append(seat);
    renumber();
    const first = seat.querySelector("select, input");
    if (first) first.focus();
  });

  list.addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove-seat]");
    if (!button || seats().length <= min) return;
    button.closest("[data-seat-form]").remove();
    renumber();
  });

  renumber();

  // A judge (the lead or one on the panel) that also has a seat may favour its own model's words
  // (self-preference): say so before it starts.
  const judge = document.querySelector("select[name=judge_model]");
  const warning = document.getElementById("judge-self-warning");
  function flagSelfJudging() {
    if (!judge || !warning) return;
    const seated = [...list.querySelectorAll("select[name$='-model']")].map((select) => select.value);
    const panel = [...document.querySelectorAll("input[name=panel]:checked")].map((box) => box.value);
    warning.hidden = ![judge.value, ...panel].some((id) => seated.includes(id));
  }
  document.getElementById("new-debate").addEventListener("change", flagSelfJudging);
  addButton.addEventListener("click", flagSelfJudging);
  list.addEventListener("click", flagSelfJudging);
  flagSelfJudging();
})();
