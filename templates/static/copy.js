// "복사" buttons next to feed URLs: progressive enhancement only. Without JavaScript the
// buttons stay hidden and the URLs are plain links residents can copy by hand.
(function () {
  "use strict";
  if (!navigator.clipboard) {
    return;
  }
  function copied(button) {
    var label = button.firstChild;
    var before = label.nodeValue;
    label.nodeValue = "복사됨";
    button.setAttribute("data-copied", "");
    window.setTimeout(function () {
      label.nodeValue = before;
      button.removeAttribute("data-copied");
    }, 2000);
  }
  function enhance() {
    var buttons = document.querySelectorAll("button[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
          copied(button);
        });
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", enhance);
  } else {
    enhance();
  }
})();
