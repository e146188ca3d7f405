// Lethe's chat widget: the body of a function that receives CONFIG (its channel's settings).
// Plain JavaScript, no framework, styles set through the DOM (works under a host page's
// strict CSP). Nothing is written to cookies or storage until the visitor opens the chat;
// then a random 128-bit visitor id is kept in localStorage under KEY.
'use strict';
var KEY = 'lethe-chat-' + CONFIG.token.slice(0, 12);
var doc = document;
var lang = ((doc.documentElement.lang || navigator.language || 'en') + '').slice(0, 2).toLowerCase();
var T = CONFIG.texts[lang] || CONFIG.texts.en;
var base = CONFIG.base + '/' + CONFIG.token;
var visitor = null;
var lastId = 0;
var shown = {};
// The open event stream's controller (aborted to close it), and the wait before the next try.
var stream = null;
var retryIn = 1000;
var nodes = {};

function el(tag, attrs, style, text) {
  var node = doc.createElement(tag);
  var name;
  for (name in attrs || {}) { node.setAttribute(name, attrs[name]); }
  for (name in style || {}) { node.style[name] = style[name]; }
  if (text) { node.textContent = text; }
  return node;
}

function newVisitorId() {
  var bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? '0' : '') + b.toString(16); }).join('');
}

function visitorId() {
  if (!visitor) {
    try { visitor = localStorage.getItem(KEY); } catch (e) { visitor = null; }
    if (!/^[0-9a-f]{32}$/.test(visitor || '')) {
      visitor = newVisitorId();
      try { localStorage.setItem(KEY, visitor); } catch (e) { /* history stays for this page */ }
    }
  }
  return visitor;
}

// The visitor id is a secret: it travels in a header or a body, never in a URL (where a
// proxy's access log would keep it).
function request(path, body) {
  var init = { credentials: 'omit', mode: 'cors', headers: { 'Lethe-Visitor': visitorId() } };
  if (body) {
    init.method = 'POST';
    // text/plain: a simple request (the id is in the body); the server checks the Origin.
    init.headers = { 'Content-Type': 'text/plain' };
    init.body = JSON.stringify(body);
  }
  return fetch(base + path, init).then(function (response) {
    return response.json().then(function (data) {
      if (!response.ok) { throw new Error(data.error || 'failed'); }
      return data;
    });
  });
}

function show(message) {
  if (shown[message.id]) { return; }
  shown[message.id] = true;
  if (message.id > lastId) { lastId = message.id; }
  var mine = message.from === 'visitor';
  if (!mine) { nodes.typing.style.display = 'none'; }
  var item = el('li', { 'class': 'lethe-chat-' + message.from }, {
    margin: '6px 0', padding: '6px 10px', borderRadius: '8px', maxWidth: '85%',
    whiteSpace: 'pre-wrap', wordWrap: 'break-word',
    alignSelf: mine ? 'flex-end' : 'flex-start',
    background: mine ? CONFIG.colour : '#eeeeee', color: mine ? '#ffffff' : '#111111'
  }, message.text);
  (message.files || []).forEach(function (file) {
    var get = el('button', { type: 'button', 'class': 'lethe-chat-file' }, { display: 'block', background: 'transparent', color: 'inherit', border: '0', padding: '4px 0', minHeight: '24px', textDecoration: 'underline', cursor: 'pointer', font: 'inherit' }, file.name);
    get.addEventListener('click', function () { download(file); });
    item.appendChild(get);
  });
  nodes.list.appendChild(item);
  nodes.list.scrollTop = nodes.list.scrollHeight;
}

function download(file) {
  fetch(base + '/files/' + file.id, { credentials: 'omit', mode: 'cors', headers: { 'Lethe-Visitor': visitorId() } })
    .then(function (response) {
      if (!response.ok) { throw new Error('download'); }
      return response.blob();
    })
    .then(function (blob) {
      var link = el('a', { href: URL.createObjectURL(blob), download: file.name });
      doc.body.appendChild(link);
      link.click();
      link.remove();
    })
    .catch(function (error) { status(error.message); });
}

function upload() {
  var file = nodes.file.files[0];
  if (!file) { return; }
  fetch(base + '/files?name=' + encodeURIComponent(file.name), {
    method: 'POST', credentials: 'omit', mode: 'cors',
    headers: { 'Content-Type': file.type || 'application/octet-stream', 'Lethe-Visitor': visitorId() }, body: file
  }).then(function (response) {
    return response.json().then(function (data) {
      if (!response.ok) { throw new Error(data.error || 'failed'); }
      show({ id: data.id, from: 'visitor', text: file.name, files: [] });
      nodes.file.value = '';
      status('');
    });
  }).catch(function (error) { status(error.message); });
}

function fetchMissed() {
  return request('/messages?after=' + lastId).then(function (data) {
    data.messages.forEach(show);
  });
}

// One server-sent event block: a message or the typing indicator.
function dispatch(block) {
  var type = 'message';
  var data = '';
  block.split('\n').forEach(function (line) {
    if (line.indexOf('event:') === 0) { type = line.slice(6).trim(); }
    if (line.indexOf('data:') === 0) { data += line.slice(5).trim(); }
  });
  if (!data) { return; }
  var value;
  try { value = JSON.parse(data); } catch (e) { return; /* ignore a broken event */ }
  if (type === 'message') { show(value); }
  if (type === 'typing') { nodes.typing.style.display = value.typing === true ? 'block' : 'none'; }
}

// The live stream, read with fetch (EventSource cannot send the visitor id but in the URL).
// It starts after the last message shown, so after a network drop the next try brings what
// was missed; tries again after 1 s, doubling to at most 30 s while the network is away.
function listen() {
  if (stream || !window.ReadableStream || !window.AbortController) { return; }
  var mine = new AbortController();
  stream = mine;
  fetch(base + '/events?after=' + lastId, {
    credentials: 'omit', mode: 'cors', signal: mine.signal,
    headers: { 'Lethe-Visitor': visitorId() }
  }).then(function (response) {
    if (!response.ok || !response.body) { throw new Error('stream'); }
    retryIn = 1000;
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = '';
    function pump() {
      return reader.read().then(function (chunk) {
        if (chunk.done) { throw new Error('closed'); }
        buffer += decoder.decode(chunk.value, { stream: true });
        var end = buffer.indexOf('\n\n');
        while (end >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          end = buffer.indexOf('\n\n');
        }
        return pump();
      });
    }
    return pump();
  }).catch(function () {
    if (stream !== mine) { return; } // closed on purpose
    stream = null;
    setTimeout(listen, retryIn);
    retryIn = Math.min(retryIn * 2, 30000);
  });
}

function status(text) { nodes.status.textContent = text || ''; }

function send(event) {
  event.preventDefault();
  var text = nodes.text.value.trim();
  if (!text) { return; }
  nodes.send.disabled = true;
  request('/messages', {
    visitor: visitorId(), text: text, name: nodes.name.value, email: nodes.email.value,
    website: nodes.trap.value
  }).then(function (data) {
    show({ id: data.id, from: 'visitor', text: text });
    nodes.text.value = '';
    status('');
  }).catch(function (error) { status(error.message); })
    .then(function () { nodes.send.disabled = false; nodes.text.focus(); });
}

function erase() {
  if (!window.confirm(T['delete'] + '?')) { return; }
  request('/delete', { visitor: visitorId() }).then(function () {
    if (stream) { var closing = stream; stream = null; closing.abort(); }
    nodes.list.textContent = '';
    shown = {};
    lastId = 0;
    try { localStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
    visitor = null;
    status('✓');
  }).catch(function (error) { status(error.message); });
}

function toggle() {
  var open = nodes.panel.style.display === 'none';
  nodes.panel.style.display = open ? 'flex' : 'none';
  nodes.button.setAttribute('aria-expanded', open ? 'true' : 'false');
  if (open) {
    visitorId();
    fetchMissed().catch(function () {}).then(listen);
    nodes.text.focus();
  } else {
    nodes.button.focus();
  }
}

// The help-centre articles, when the channel offers them: a search above the chat whose
// results open inside the widget. No visitor id is sent and nothing is kept.
var H = CONFIG.helpTexts && (CONFIG.helpTexts[lang] || CONFIG.helpTexts.en);
var LINK = { background: 'transparent', color: '#1a4d99', border: '0', padding: '2px 0', minHeight: '24px', textDecoration: 'underline', cursor: 'pointer', font: 'inherit', textAlign: 'left' };

function getJson(path) {
  return fetch(base + path, { credentials: 'omit', mode: 'cors' }).then(function (response) {
    return response.json().then(function (data) {
      if (!response.ok) { throw new Error(data.error || 'failed'); }
      return data;
    });
  });
}

function helpShow(article) {
  nodes.results.style.display = article ? 'none' : 'block';
  nodes.article.style.display = article ? 'block' : 'none';
}

function searchArticles(event) {
  event.preventDefault();
  var q = nodes.helpQuery.value.trim();
  if (!q) { return; }
  getJson('/articles?q=' + encodeURIComponent(q)).then(function (data) {
    nodes.results.textContent = '';
    helpShow(false);
    data.articles.forEach(function (found) {
      var open = el('button', { type: 'button', lang: found.lang, 'class': 'lethe-chat-article-link' }, LINK, found.title);
      open.addEventListener('click', function () { openArticle(found); });
      nodes.results.appendChild(el('li')).appendChild(open);
    });
    nodes.helpStatus.textContent = data.articles.length ? '' : H.none;
  }).catch(function (error) { nodes.helpStatus.textContent = error.message; });
}

function openArticle(link) {
  getJson('/articles/' + encodeURIComponent(link.slug) + '?lang=' + link.lang).then(function (found) {
    var box = nodes.article;
    box.textContent = '';
    var title = box.appendChild(el('h3', { lang: found.lang, tabindex: '-1', id: 'lethe-chat-article-title' }, { margin: '4px 0', fontSize: '15px' }, found.title));
    box.appendChild(el('p', { lang: found.lang }, { margin: '0 0 6px', whiteSpace: 'pre-wrap', wordWrap: 'break-word' }, found.text));
    var back = box.appendChild(el('button', { type: 'button', id: 'lethe-chat-article-back' }, LINK, H.back));
    back.addEventListener('click', function () { helpShow(false); nodes.helpQuery.focus(); });
    helpShow(true);
    title.focus();
  }).catch(function (error) { nodes.helpStatus.textContent = error.message; });
}

function helpBox() {
  var box = el('section', { id: 'lethe-chat-help', 'aria-label': H.title }, { margin: '0 0 8px', borderBottom: '1px solid #cccccc' });
  var form = box.appendChild(el('form', { role: 'search' }));
  nodes.helpQuery = el('input', { name: 'q', type: 'search', maxlength: '200' }, { width: '100%', boxSizing: 'border-box', font: 'inherit', padding: '4px' });
  form.appendChild(field(H.search, nodes.helpQuery));
  form.appendChild(el('button', { type: 'submit', id: 'lethe-chat-help-search' }, { background: CONFIG.colour, color: '#ffffff', border: '0', borderRadius: '4px', padding: '4px 10px', cursor: 'pointer', font: 'inherit' }, H.button));
  form.addEventListener('submit', searchArticles);
  nodes.helpStatus = box.appendChild(el('p', { role: 'status' }, { margin: '4px 0', fontSize: '12px' }));
  nodes.results = box.appendChild(el('ul', { id: 'lethe-chat-articles' }, { listStyle: 'none', margin: '0', padding: '0' }));
  nodes.article = box.appendChild(el('div', { id: 'lethe-chat-article' }, { display: 'none' }));
  return box;
}

function field(label, input) {
  var id = 'lethe-chat-' + input.getAttribute('name');
  input.id = id;
  var wrap = el('div', {}, { margin: '4px 0' });
  wrap.appendChild(el('label', { 'for': id }, { display: 'block', fontSize: '12px' }, label));
  wrap.appendChild(input);
  return wrap;
}

function build() {
  var font = { fontFamily: 'system-ui, sans-serif', fontSize: '14px' };
  var root = el('div', { id: 'lethe-chat' }, { position: 'fixed', right: '16px', bottom: '16px', zIndex: '2147483000', fontFamily: font.fontFamily, fontSize: font.fontSize });
  nodes.button = el('button', { type: 'button', 'aria-expanded': 'false', 'aria-controls': 'lethe-chat-panel', id: 'lethe-chat-open' },
    { background: CONFIG.colour, color: '#ffffff', border: '0', borderRadius: '20px', padding: '10px 16px', cursor: 'pointer', font: 'inherit' }, T.title);
  nodes.button.addEventListener('click', toggle);
  nodes.panel = el('div', { id: 'lethe-chat-panel', role: 'dialog', 'aria-label': T.title },
    { display: 'none', flexDirection: 'column', width: '320px', maxWidth: 'calc(100vw - 32px)', height: '460px', maxHeight: 'calc(100vh - 80px)', background: '#ffffff', color: '#111111', border: '1px solid #888888', borderRadius: '8px', marginBottom: '8px', overflow: 'hidden' });
  var head = el('div', {}, { background: CONFIG.colour, color: '#ffffff', padding: '8px 12px', display: 'flex', justifyContent: 'space-between', alignItems: 'center' });
  head.appendChild(el('h2', {}, { margin: '0', fontSize: '16px' }, T.title));
  var close = el('button', { type: 'button' }, { background: 'transparent', color: '#ffffff', border: '1px solid #ffffff', borderRadius: '4px', cursor: 'pointer', font: 'inherit' }, T.close);
  close.addEventListener('click', toggle);
  head.appendChild(close);
  nodes.panel.appendChild(head);
  // Scrollable, so reachable by keyboard.
  var body = el('div', { tabindex: '0', role: 'region', 'aria-label': T.title }, { flex: '1', overflowY: 'auto', padding: '8px 12px' });
  if (CONFIG.help && H) { body.appendChild(helpBox()); }
  // Outside business hours: the team is away, the answer comes by mail.
  body.appendChild(el('p', { id: 'lethe-chat-greeting' }, { margin: '0 0 6px' }, CONFIG.closed ? T.closed : T.greeting));
  var log = el('div', { role: 'log', 'aria-live': 'polite' });
  nodes.list = el('ul', { id: 'lethe-chat-messages' }, { listStyle: 'none', margin: '0', padding: '0', display: 'flex', flexDirection: 'column' });
  log.appendChild(nodes.list);
  body.appendChild(log);
  nodes.typing = el('p', { id: 'lethe-chat-typing', role: 'status' }, { display: 'none', margin: '4px 0', fontSize: '12px', fontStyle: 'italic' }, T.typing);
  body.appendChild(nodes.typing);
  nodes.panel.appendChild(body);
  var form = el('form', { id: 'lethe-chat-form' }, { padding: '8px 12px', borderTop: '1px solid #cccccc' });
  var inputStyle = { width: '100%', boxSizing: 'border-box', font: 'inherit', padding: '4px' };
  nodes.name = el('input', { name: 'name', autocomplete: 'name', maxlength: '100' }, inputStyle);
  nodes.email = el('input', { name: 'email', type: 'email', autocomplete: 'email', maxlength: '254' }, inputStyle);
  if (CONFIG.closed) { nodes.email.required = true; }
  nodes.text = el('textarea', { name: 'text', rows: '2', required: 'required', maxlength: String(CONFIG.maxChars), placeholder: T.placeholder }, inputStyle);
  // The honeypot: out of sight and out of the tab order; people leave it empty.
  nodes.trap = el('input', { name: 'website', tabindex: '-1', autocomplete: 'off', 'aria-hidden': 'true', 'aria-label': 'website' }, { position: 'absolute', left: '-10000px', width: '1px', height: '1px' });
  form.appendChild(field(T.name, nodes.name));
  form.appendChild(field(T.email, nodes.email));
  form.appendChild(field(T.placeholder, nodes.text));
  nodes.file = el('input', { name: 'file', type: 'file', accept: 'image/png,image/jpeg,image/gif,image/webp,application/pdf' }, { font: 'inherit', fontSize: '12px' });
  nodes.file.addEventListener('change', upload);
  form.appendChild(field(T.attach, nodes.file));
  form.appendChild(nodes.trap);
  nodes.send = el('button', { type: 'submit', id: 'lethe-chat-send' }, { background: CONFIG.colour, color: '#ffffff', border: '0', borderRadius: '4px', padding: '6px 12px', cursor: 'pointer', font: 'inherit' }, T.send);
  form.appendChild(nodes.send);
  form.addEventListener('submit', send);
  nodes.status = el('p', { role: 'status' }, { margin: '4px 0', fontSize: '12px' });
  form.appendChild(nodes.status);
  var notice = el('p', {}, { margin: '4px 0', fontSize: '12px' }, T.privacy + ' ');
  if (CONFIG.privacyUrl) {
    notice.appendChild(el('a', { href: CONFIG.privacyUrl, target: '_blank', rel: 'noopener' }, { color: '#1a4d99' }, CONFIG.privacyUrl.replace(/^https?:\/\//, '')));
  }
  form.appendChild(notice);
  var remove = el('button', { type: 'button', id: 'lethe-chat-delete' }, { background: 'transparent', color: '#8a1c1c', border: '0', padding: '4px 0', minHeight: '24px', minWidth: '24px', cursor: 'pointer', textDecoration: 'underline', font: 'inherit', fontSize: '12px' }, T['delete']);
  remove.addEventListener('click', erase);
  form.appendChild(remove);
  nodes.panel.appendChild(form);
  root.appendChild(nodes.panel);
  root.appendChild(nodes.button);
  doc.body.appendChild(root);
}

if (doc.body) { build(); } else { doc.addEventListener('DOMContentLoaded', build); }
