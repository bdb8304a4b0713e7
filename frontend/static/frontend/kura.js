// Kura's only script besides htmx: "Add another location" on the dataset form.
// A <template id="PREFIX-empty-row"> holds Django's empty formset row with "__prefix__" as its index.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-add-row]");
  if (!button) return;
  const prefix = button.dataset.addRow;
  const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
  const max = Number(document.getElementById(`id_${prefix}-MAX_NUM_FORMS`).value);
  const template = document.getElementById(`${prefix}-empty-row`);
  const body = document.querySelector(`#${prefix} tbody`);
  const index = Number(total.value);
  if (index >= max) return;
  body.insertAdjacentHTML("beforeend", template.innerHTML.replaceAll("__prefix__", String(index)));
  total.value = String(index + 1);
  body.lastElementChild.querySelector("input")?.focus();
  if (index + 1 >= max) button.disabled = true;
});
