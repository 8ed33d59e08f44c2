// The e-mail addresses page (django-allauth's): ask before removing an address. allauth wires this
// up with an inline configuration block, which the Content-Security-Policy would not allow.
"use strict";

(() => {
  const remove = document.querySelector('button[name="action_remove"]');
  if (!remove) return;
  remove.addEventListener("click", (event) => {
    if (!window.confirm("Do you really want to remove the selected email address?")) event.preventDefault();
  });
})();
