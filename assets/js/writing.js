// Lethe: the reply box, enhanced (src/inbox/writing.rs). Without this file the page still
// works: "Save draft" is a button, undo and "send anyway" are forms, the viewers are shown at
// load. With it:
// - the draft is saved as the agent types (every few seconds, and when the page is left);
// - other agents on the conversation, and who of them is typing, appear live (one
//   server-sent-event stream; typing is announced at most every few seconds);
// - a change of the conversation while the agent writes shows a notice before sending.
(function () {
  "use strict";
  var box = document.getElementById("writing");
  var form = document.querySelector("form.reply-form");
  if (!box || !form) return;
  var text = form.querySelector("textarea[name=text]");
  var csrf = form.querySelector("input[name=csrf]");
  if (!text || !csrf) return;
  var draftUrl = box.getAttribute("data-draft-url");
  var typingUrl = box.getAttribute("data-typing-url");
  var presenceUrl = box.getAttribute("data-presence-url");
  var status = document.getElementById("draft-status");
  var SAVE_EVERY_MS = 4000;
  var TYPING_EVERY_MS = 3000;

  function field(name) {
    var input = form.querySelector("[name=" + name + "]");
    return input ? input.value : "";
  }
  function draftBody() {
    var body = new URLSearchParams();
    body.set("csrf", csrf.value);
    body.set("text", text.value);
    body.set("to", field("to"));
    body.set("cc", field("cc"));
    body.set("bcc", field("bcc"));
    body.set("seen", field("seen"));
    body.set("quiet", "1");
    return body;
  }

  // ---- drafts
  var dirty = false;
  var sending = false;
  function save() {
    if (!dirty || sending) return;
    dirty = false;
    fetch(draftUrl, { method: "POST", body: draftBody(), credentials: "same-origin" }).then(function (response) {
      if (!response.ok) {
        dirty = true;
        return;
      }
      if (status) status.textContent = box.getAttribute("data-draft-saved-label");
    }, function () {
      dirty = true;
    });
  }
  form.addEventListener("input", function () {
    dirty = true;
    if (status) status.textContent = "";
  });
  window.setInterval(save, SAVE_EVERY_MS);
  function leave() {
    if (!dirty || sending) return;
    dirty = false;
    if (navigator.sendBeacon) {
      navigator.sendBeacon(draftUrl, draftBody());
    } else {
      fetch(draftUrl, { method: "POST", body: draftBody(), credentials: "same-origin", keepalive: true });
    }
  }
  window.addEventListener("pagehide", leave);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") leave();
  });
  form.addEventListener("submit", function (event) {
    // Sending deletes the draft on the server: do not write it again on the way out. (The
    // "Save draft" button saves it itself.)
    var submitter = event.submitter;
    sending = !(submitter && submitter.classList.contains("save-draft"));
    dirty = false;
  });

  // ---- typing
  var lastTyping = 0;
  text.addEventListener("input", function () {
    var now = Date.now();
    if (now - lastTyping < TYPING_EVERY_MS) return;
    lastTyping = now;
    var body = new URLSearchParams();
    body.set("csrf", csrf.value);
    fetch(typingUrl, { method: "POST", body: body, credentials: "same-origin" }).catch(function () {});
  });

  // ---- presence and changes
  if (typeof window.EventSource !== "function") return;
  function show(id, names) {
    var line = document.getElementById(id);
    if (!line) return;
    var slot = line.querySelector(".names");
    if (slot) slot.textContent = names.join(", ");
    line.hidden = names.length === 0;
  }
  var source = new EventSource(presenceUrl);
  source.addEventListener("presence", function (event) {
    var others;
    try {
      others = JSON.parse(event.data);
    } catch (e) {
      return;
    }
    show("presence-viewing", others.viewing || []);
    show("presence-typing", others.typing || []);
  });
  source.addEventListener("conversation", function () {
    if (sending || text.value.trim() === "") return;
    var notice = document.getElementById("newer-message");
    if (notice) notice.hidden = false;
  });
  window.addEventListener("pagehide", function () {
    source.close();
  });
})();
