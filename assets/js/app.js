// Lethe: progressive enhancement only. Every page works without this file.
(function () {
  "use strict";
  // "/" focuses the search box, unless the user is typing somewhere.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var search = document.getElementById("search-q");
    if (search) {
      event.preventDefault();
      search.focus();
    }
  });
})();
