// Canned replies without a reload (progressive enhancement of the conversation page): the
// "Insert" form still works without JavaScript (it reloads the page with the reply box
// filled). With it, the same page is fetched from this server, the filled canned reply read
// from its reply box, and inserted at the cursor of the reply box, keeping what was typed.
(function () {
  "use strict";
  var form = document.querySelector("form.canned-insert");
  var box = document.getElementById("reply-text");
  if (!form || !box || typeof window.fetch !== "function" || typeof window.DOMParser !== "function") return;
  form.addEventListener("submit", function (event) {
    var select = form.querySelector("select[name=canned]");
    if (!select) return;
    event.preventDefault();
    var url = form.getAttribute("action") + "?canned=" + encodeURIComponent(select.value);
    window.fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error("status " + response.status);
        return response.text();
      })
      .then(function (html) {
        var page = new window.DOMParser().parseFromString(html, "text/html");
        var filled = page.getElementById("reply-text");
        if (!filled) throw new Error("no reply box");
        var text = filled.value;
        var start = typeof box.selectionStart === "number" ? box.selectionStart : box.value.length;
        var end = typeof box.selectionEnd === "number" ? box.selectionEnd : start;
        box.value = box.value.slice(0, start) + text + box.value.slice(end);
        var caret = start + text.length;
        box.focus();
        if (typeof box.setSelectionRange === "function") box.setSelectionRange(caret, caret);
      })
      .catch(function () {
        // Fall back to the form's own behaviour (a reload with the reply box filled).
        form.submit();
      });
  });
})();
