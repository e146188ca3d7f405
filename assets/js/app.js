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

// Live updates: listen to /events (server-sent events, own organization only). On inbox and
// conversation pages, show a "new activity — reload" notice; on every page, keep the bell's
// unread count (notification events, own user only) current. Without JavaScript the pages
// simply show what they showed.
(function () {
  "use strict";
  var notice = document.getElementById("live");
  var bell = document.querySelector("[data-bell-count]");
  if ((!notice && !bell) || typeof window.EventSource !== "function") return;
  var source = new EventSource("/events");
  window.addEventListener("pagehide", function () {
    source.close();
  });
  if (bell) {
    var setBell = function (unread) {
      bell.textContent = String(unread);
      bell.classList.toggle("zero", unread === 0);
    };
    source.addEventListener("notification", function (event) {
      var unread = null;
      try {
        unread = JSON.parse(event.data).unread;
      } catch (e) {
        unread = null;
      }
      if (typeof unread === "number") return setBell(unread);
      // Missed events: ask for the count.
      fetch("/notifications/count", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (count) { if (count && typeof count.unread === "number") setBell(count.unread); })
        .catch(function () {});
    });
  }
  if (!notice) return;
  var scope = notice.getAttribute("data-scope");
  var ownId = notice.getAttribute("data-conversation-id");
  var reload = notice.querySelector(".live-reload");
  if (reload) {
    reload.addEventListener("click", function (event) {
      event.preventDefault();
      window.location.reload();
    });
  }
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
    if (scope === "inbox") refreshCounts();
  });
  // The folder counts of the inbox follow at once (one fetch a second at most).
  var countsPending = false;
  function refreshCounts() {
    if (countsPending || !document.querySelector("[data-folder-count]")) return;
    countsPending = true;
    window.setTimeout(function () {
      fetch("/inbox/counts", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (counts) {
          countsPending = false;
          if (!counts) return;
          document.querySelectorAll("[data-folder-count]").forEach(function (element) {
            var key = element.getAttribute("data-folder-count");
            if (Object.prototype.hasOwnProperty.call(counts, key)) element.textContent = String(counts[key]);
          });
        })
        .catch(function () { countsPending = false; });
    }, 1000);
  }
})();

// Passkeys (WebAuthn). A form with data-passkey="create" or "get" carries the options the
// server made (data-passkey-options, JSON with base64url for binary values). The form stays
// hidden unless this browser offers WebAuthn; on submit, the browser's answer is put into the
// form's hidden fields as base64url and the form is posted as usual. Without JavaScript the
// pages offer the password and codes only.
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-passkey]");
  if (!forms.length || !window.PublicKeyCredential || !navigator.credentials) return;

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    while (base64.length % 4) base64 += "=";
    var raw = atob(base64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }
  function toText(buffer) {
    if (!buffer) return "";
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withIds(list) {
    return (list || []).map(function (item) {
      return { type: item.type, id: toBytes(item.id) };
    });
  }
  function set(form, name, value) {
    var field = form.querySelector('input[name="' + name + '"]');
    if (field) field.value = value;
  }
  function ask(kind, options) {
    var publicKey = JSON.parse(JSON.stringify(options));
    publicKey.challenge = toBytes(options.challenge);
    if (kind === "create") {
      publicKey.user.id = toBytes(options.user.id);
      publicKey.excludeCredentials = withIds(options.excludeCredentials);
      return navigator.credentials.create({ publicKey: publicKey });
    }
    publicKey.allowCredentials = withIds(options.allowCredentials);
    return navigator.credentials.get({ publicKey: publicKey });
  }
  function fill(kind, form, credential) {
    var response = credential.response;
    set(form, "client_data", toText(response.clientDataJSON));
    if (kind === "create") {
      set(form, "attestation_object", toText(response.attestationObject));
    } else {
      set(form, "credential_id", toText(credential.rawId));
      set(form, "authenticator_data", toText(response.authenticatorData));
      set(form, "signature", toText(response.signature));
      set(form, "user_handle", toText(response.userHandle));
    }
  }

  Array.prototype.forEach.call(forms, function (form) {
    var kind = form.getAttribute("data-passkey");
    var options;
    try {
      options = JSON.parse(form.getAttribute("data-passkey-options"));
    } catch (error) {
      return;
    }
    form.hidden = false;
    var note = form.parentNode.querySelector(".passkey-unavailable");
    if (note) note.hidden = true;
    var error = form.querySelector(".passkey-error");
    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) return;
      busy = true;
      if (error) error.hidden = true;
      ask(kind, options).then(function (credential) {
        fill(kind, form, credential);
        form.submit();
      }, function () {
        busy = false;
        if (error) {
          error.textContent = form.getAttribute("data-passkey-failed");
          error.hidden = false;
        }
      });
    });
  });
})();

// Files dropped onto a form that takes several files (reply, note, new conversation) join its
// file field, as if chosen there; the form is then sent as usual. Without JavaScript, or in a
// browser that cannot set a file field, the field itself is there as always.
(function () {
  "use strict";
  if (typeof window.DataTransfer !== "function") return;
  document.querySelectorAll("form").forEach(function (form) {
    var input = form.querySelector('input[type="file"][multiple]');
    if (!input) return;
    form.addEventListener("dragover", function (event) {
      if (!event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types, "Files") < 0) return;
      event.preventDefault();
      form.classList.add("dropping");
    });
    form.addEventListener("dragleave", function () {
      form.classList.remove("dropping");
    });
    form.addEventListener("drop", function (event) {
      form.classList.remove("dropping");
      if (!event.dataTransfer || !event.dataTransfer.files || !event.dataTransfer.files.length) return;
      event.preventDefault();
      var all = new DataTransfer();
      Array.prototype.forEach.call(input.files, function (file) { all.items.add(file); });
      Array.prototype.forEach.call(event.dataTransfer.files, function (file) { all.items.add(file); });
      input.files = all.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    });
  });
})();

// Keyboard shortcuts, never while typing in a field. Inbox: j/k move between rows, o or Enter
// opens, x ticks the row, a assigns it to me, e closes it, s snoozes it until tomorrow, # marks
// it as spam (the last four through the bulk form, as a click would). Conversation page: r goes
// to the reply box, n to the note. Everywhere: g then i goes to the inbox, ? shows the list of
// shortcuts (the dialog at the end of every page; without JavaScript, the /keyboard page).
(function () {
  "use strict";
  var rows = Array.prototype.slice.call(document.querySelectorAll("tr[data-conversation-id]"));
  var bulk = document.getElementById("bulk");
  var current = -1;
  var pendingG = false;
  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }
  function move(step) {
    if (!rows.length) return;
    if (current >= 0) rows[current].classList.remove("current");
    current = Math.max(0, Math.min(rows.length - 1, current + step));
    rows[current].classList.add("current");
    var link = rows[current].querySelector("a[href^='/conversations/']");
    if (link) link.focus();
  }
  function act(action) {
    if (!bulk || current < 0) return;
    var id = rows[current].getAttribute("data-conversation-id");
    bulk.querySelectorAll("input[name=ids]").forEach(function (box) { box.checked = box.value === id; });
    var select = bulk.querySelector("select[name=action]");
    if (!select) return;
    select.value = action;
    if (select.value !== action) return;
    bulk.submit();
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var key = event.key;
    if (pendingG) {
      pendingG = false;
      if (key === "i") { window.location.href = "/inbox"; event.preventDefault(); }
      return;
    }
    if (key === "g") { pendingG = true; return; }
    if (key === "?") {
      var help = document.getElementById("shortcuts");
      if (help && typeof help.showModal === "function" && !help.open) { help.showModal(); event.preventDefault(); }
      return;
    }
    if (rows.length) {
      if (key === "j") { move(1); event.preventDefault(); return; }
      if (key === "k") { move(-1); event.preventDefault(); return; }
      if (current >= 0) {
        var row = rows[current];
        if (key === "o" || (key === "Enter" && event.target === document.body)) {
          var link = row.querySelector("a[href^='/conversations/']");
          if (link) { window.location.href = link.getAttribute("href"); event.preventDefault(); }
          return;
        }
        if (key === "x") {
          var box = row.querySelector("input[name=ids]");
          if (box) box.checked = !box.checked;
          event.preventDefault();
          return;
        }
        if (key === "a" && bulk) { act("assign:" + bulk.getAttribute("data-me")); return; }
        if (key === "e") { act("status:closed"); return; }
        if (key === "s") { act("snooze:tomorrow"); return; }
        if (key === "#") { act("spam"); return; }
      }
    }
    var box = key === "r" ? document.getElementById("reply-text") : key === "n" ? document.getElementById("note-text") : null;
    if (box) { box.focus(); event.preventDefault(); }
  });
})();
