// "Copy" buttons for values shown once (invite codes and links): a button after each
// <input data-copy>. Without scripts the field is still there to select and copy by hand.
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input[data-copy]").forEach(function (input) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "secondary copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy the " + input.dataset.copy);
    button.addEventListener("click", function () {
      input.select();
      navigator.clipboard.writeText(input.value).then(function () {
        button.textContent = "Copied";
      }, function () {
        button.textContent = "Select and copy by hand";
      });
    });
    input.insertAdjacentElement("afterend", button);
  });
});
