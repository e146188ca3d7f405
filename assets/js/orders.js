// The orders panel's "Insert" buttons without a reload (progressive enhancement of the
// conversation page): without JavaScript each button posts its form, which appends the text
// to the saved draft and reloads the page. With it, the text the form carries (data-text)
// is put at the cursor of the reply box, keeping what was typed; the draft is saved by
// writing.js as for anything typed.
(function () {
  "use strict";
  var box = document.getElementById("reply-text");
  if (!box) return;
  var forms = document.querySelectorAll("form.order-insert[data-text]");
  Array.prototype.forEach.call(forms, function (form) {
    form.addEventListener("submit", function (event) {
      var text = form.getAttribute("data-text");
      if (!text) return;
      event.preventDefault();
      var start = typeof box.selectionStart === "number" ? box.selectionStart : box.value.length;
      var end = typeof box.selectionEnd === "number" ? box.selectionEnd : start;
      var before = box.value.slice(0, start);
      var glue = before && !/\n$/.test(before) ? "\n\n" : "";
      box.value = before + glue + text + box.value.slice(end);
      var caret = before.length + glue.length + text.length;
      box.focus();
      if (typeof box.setSelectionRange === "function") box.setSelectionRange(caret, caret);
      box.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });
})();
