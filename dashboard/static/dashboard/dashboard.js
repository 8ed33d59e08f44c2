// The dashboard's own behaviour, loaded as a file (the Content-Security-Policy allows no inline script).
"use strict";

// <button data-copy="element-id">: copy that element's text (an API key secret, a code snippet).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.value !== undefined ? source.value : source.textContent;
  const label = button.dataset.label || (button.dataset.label = button.textContent);
  const say = (message) => {
    button.textContent = message;
    setTimeout(() => { button.textContent = label; }, 2000);
  };
  // Without clipboard access (plain HTTP, or refused), select the text so the person can copy it.
  const selectInstead = () => {
    if (source.select) source.select();
    say("Selected: press Ctrl+C");
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => say("Copied"), selectInstead);
  } else {
    selectInstead();
  }
});
