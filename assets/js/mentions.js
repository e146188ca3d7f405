// @mentions in the note box: typing "@" and a few letters offers the team's members (from
// GET /mentions/members, display names only). Arrow keys move, Enter or Tab picks, Escape
// closes; the list is a listbox the textarea controls (aria-activedescendant). Without this
// file "@name" is typed by hand and the server understands it all the same.
(function () {
  "use strict";
  var box = document.querySelector("textarea[data-mentions]");
  var list = document.getElementById("note-mention-list");
  if (!box || !list || typeof window.fetch !== "function") return;
  var members = null;
  var shown = [];
  var active = -1;

  function load() {
    if (members !== null) return Promise.resolve(members);
    return fetch(box.getAttribute("data-mentions"), {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (found) { members = found || []; return members; })
      .catch(function () { members = []; return members; });
  }

  // The "@word" just before the cursor, or null.
  function typed() {
    var before = box.value.slice(0, box.selectionStart);
    var match = /(^|[^\w@])@([\w.\-]*)$/.exec(before);
    if (!match) return null;
    return { word: match[2], start: before.length - match[2].length - 1 };
  }

  function close() {
    list.hidden = true;
    list.innerHTML = "";
    shown = [];
    active = -1;
    box.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    active = index;
    Array.prototype.forEach.call(list.children, function (item, i) {
      item.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    if (index >= 0 && list.children[index]) {
      box.setAttribute("aria-activedescendant", list.children[index].id);
    }
  }

  function pick(index) {
    var at = typed();
    var member = shown[index];
    if (!at || !member) return close();
    var before = box.value.slice(0, at.start);
    var after = box.value.slice(box.selectionStart);
    var inserted = "@" + member.handle + " ";
    box.value = before + inserted + after;
    var cursor = before.length + inserted.length;
    box.setSelectionRange(cursor, cursor);
    close();
    box.focus();
  }

  function show() {
    var at = typed();
    if (!at) return close();
    load().then(function (all) {
      var word = at.word.toLowerCase();
      shown = all.filter(function (m) {
        return m.handle.toLowerCase().indexOf(word) === 0 || m.name.toLowerCase().indexOf(word) === 0;
      }).slice(0, 8);
      if (!shown.length) return close();
      list.innerHTML = "";
      shown.forEach(function (member, i) {
        var item = document.createElement("li");
        item.id = "note-mention-" + i;
        item.setAttribute("role", "option");
        item.textContent = member.name + " (@" + member.handle + ")";
        item.addEventListener("mousedown", function (event) {
          event.preventDefault();
          pick(i);
        });
        list.appendChild(item);
      });
      list.hidden = false;
      highlight(0);
    });
  }

  box.addEventListener("input", show);
  box.addEventListener("blur", function () { window.setTimeout(close, 100); });
  box.addEventListener("keydown", function (event) {
    if (list.hidden || !shown.length) return;
    if (event.key === "ArrowDown") {
      event.preventDefault();
      highlight((active + 1) % shown.length);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      highlight((active - 1 + shown.length) % shown.length);
    } else if (event.key === "Enter" || event.key === "Tab") {
      event.preventDefault();
      pick(active < 0 ? 0 : active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  });
})();
