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

// Inbox live updates: listen to /events (server-sent events, own organization only) and show
// a "new activity — reload" notice. Without JavaScript the pages simply show what they showed.
(function () {
  "use strict";
  var notice = document.getElementById("live");
  if (!notice || typeof window.EventSource !== "function") return;
  var scope = notice.getAttribute("data-scope");
  var ownId = notice.getAttribute("data-conversation-id");
  var reload = notice.querySelector(".live-reload");
  if (reload) {
    reload.addEventListener("click", function (event) {
      event.preventDefault();
      window.location.reload();
    });
  }
  var source = new EventSource("/events");
  source.addEventListener("conversation", function (event) {
    var id = null;
    try {
      id = JSON.parse(event.data).conversation_id;
    } catch (e) {
      id = null;
    }
    // On a conversation page only its own changes matter; on the inbox, every change.
    if (scope === "conversation" && id !== null && id !== undefined && String(id) !== ownId) return;
    notice.hidden = false;
  });
  window.addEventListener("pagehide", function () {
    source.close();
  });
})();
