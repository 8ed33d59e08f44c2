// The dashboard's own behaviour, loaded as a file (the Content-Security-Policy allows no inline script).
"use strict";

// <button data-copy="element-id">: copy that element's text (an API key secret, a code snippet).
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  const text = source.value !== undefined ? source.value : source.textContent;
  const done = () => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, () => {});
  } else {
    if (source.select) source.select();
    done();
  }
});
