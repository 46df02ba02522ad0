// ChatHub web UI. Everything the page shows from the network or the user goes
// through textContent; no HTML is ever built from data.
(function () {
  'use strict';

  var SUBPROTOCOL = 'json.webpubsub.azure.v1';
  var MAX_BACKOFF_MS = 30000;

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    joinView: $('join-view'), joinForm: $('join-form'), name: $('name'), joinError: $('join-error'),
    join: $('join'), chatView: $('chat-view'), messages: $('messages'), composer: $('composer'),
    message: $('message'), send: $('send'), counter: $('counter'), status: $('status'),
    statusText: $('status-text'), me: $('me'), leave: $('leave')
  };
  var maxChars = parseInt(els.composer.getAttribute('data-max-chars'), 10) || 4000;

  // gen changes on every join and leave, so late answers of an earlier
  // session are ignored.
  var state = { user: '', ws: null, leaving: false, attempt: 0, timer: null, tick: null, connected: false, gen: 0 };

  function charCount(s) { return Array.from(s).length; }

  function validName(name) {
    if (!name) { return 'Please enter a name.'; }
    if (charCount(name) > 64) { return 'Names can be at most 64 characters.'; }
    if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) { return 'Names cannot contain control characters.'; }
    return '';
  }

  function setStatus(kind, text) {
    els.status.setAttribute('data-state', kind);
    els.statusText.textContent = text;
    state.connected = kind === 'connected';
    els.send.disabled = !state.connected;
  }

  function el(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) { n.className = cls; }
    if (text !== undefined) { n.textContent = text; }
    return n;
  }

  function timeOf(iso) {
    var d = iso ? new Date(iso) : new Date();
    if (isNaN(d.getTime())) { d = new Date(); }
    return d;
  }

  function timeEl(d) {
    var t = el('time', '', d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    t.setAttribute('datetime', d.toISOString());
    return t;
  }

  function colorFor(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) { h = (h * 31 + name.charCodeAt(i)) >>> 0; }
    return 'hsl(' + (h % 360) + ', 58%, 48%)';
  }

  function append(node) {
    var list = els.messages;
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    var empty = list.querySelector('.empty');
    if (empty) { empty.remove(); }
    list.appendChild(node);
    if (nearBottom || node.classList.contains('own')) { list.scrollTop = list.scrollHeight; }
  }

  function addNotice(text, iso, kind) {
    var li = el('li', 'notice' + (kind ? ' ' + kind : ''));
    li.appendChild(el('span', '', text));
    li.appendChild(timeEl(timeOf(iso)));
    append(li);
  }

  function addMessage(from, text, iso) {
    var own = from === state.user;
    var li = el('li', 'msg' + (own ? ' own' : ''));
    var avatar = el('span', 'avatar', Array.from(from)[0] || '?');
    avatar.style.background = colorFor(from);
    avatar.setAttribute('aria-hidden', 'true');
    var bubble = el('div', 'bubble');
    var meta = el('div', 'meta');
    meta.appendChild(el('span', 'sender', own ? from + ' (you)' : from));
    meta.appendChild(timeEl(timeOf(iso)));
    bubble.appendChild(meta);
    bubble.appendChild(el('p', 'text', text));
    li.appendChild(avatar);
    li.appendChild(bubble);
    append(li);
  }

  function showEmpty() {
    els.messages.textContent = '';
    els.messages.appendChild(el('li', 'empty', 'No messages yet. Say hello!'));
  }

  // handlePayload shows one message the chat server broadcast or replied with.
  function handlePayload(p) {
    if (typeof p === 'string') {
      try { p = JSON.parse(p); } catch (e) { addNotice(p); return; }
    }
    if (!p || typeof p !== 'object') { return; }
    if (p.type === 'system' && typeof p.message === 'string') { addNotice(p.message, p.time); return; }
    if (p.type === 'error' && typeof p.message === 'string') { addNotice(p.message, p.time, 'error'); return; }
    if (typeof p.from === 'string' && typeof p.message === 'string') { addMessage(p.from, p.message, p.time); }
  }

  function onFrame(ev) {
    var m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m.type === 'system' && m.event === 'connected') {
      state.attempt = 0;
      setStatus('connected', 'Connected');
    } else if (m.type === 'message') {
      handlePayload(m.data);
    }
  }

  function clearTimers() {
    if (state.timer) { clearTimeout(state.timer); state.timer = null; }
    if (state.tick) { clearInterval(state.tick); state.tick = null; }
  }

  function scheduleReconnect() {
    if (state.leaving) { return; }
    clearTimers();
    state.attempt++;
    var base = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, state.attempt - 1));
    var delay = Math.round(base * (0.6 + Math.random() * 0.4));
    var due = Date.now() + delay;
    var show = function () {
      var s = Math.max(1, Math.ceil((due - Date.now()) / 1000));
      setStatus('reconnecting', 'Reconnecting in ' + s + ' s');
    };
    show();
    state.tick = setInterval(show, 500);
    state.timer = setTimeout(function () { clearTimers(); connect(); }, delay);
  }

  // connect negotiates a fresh client access URL and opens the WebSocket.
  function connect() {
    if (state.leaving) { return; }
    var gen = state.gen;
    setStatus(state.attempt ? 'reconnecting' : 'connecting', state.attempt ? 'Reconnecting…' : 'Connecting…');
    fetch('negotiate?id=' + encodeURIComponent(state.user), { cache: 'no-store' })
      .then(function (res) {
        if (res.status === 400) {
          return res.text().then(function (t) { throw { fatal: true, message: t.trim() || 'The server refused this name.' }; });
        }
        if (!res.ok) { throw new Error('negotiate failed: HTTP ' + res.status); }
        return res.json();
      })
      .then(function (body) {
        if (state.leaving || gen !== state.gen) { return; }
        var ws = new WebSocket(body.url, SUBPROTOCOL);
        state.ws = ws;
        ws.onmessage = onFrame;
        ws.onclose = function () {
          if (state.ws !== ws) { return; }
          state.ws = null;
          if (state.connected) { addNotice('Connection lost', null, 'error'); }
          scheduleReconnect();
        };
      })
      .catch(function (err) {
        if (gen !== state.gen) { return; }
        if (err && err.fatal) { leave(); els.joinError.textContent = err.message; return; }
        scheduleReconnect();
      });
  }

  function join(ev) {
    ev.preventDefault();
    var name = els.name.value.trim();
    var problem = validName(name);
    els.joinError.textContent = problem;
    if (problem) { els.name.focus(); return; }
    state.user = name;
    state.gen++;
    state.leaving = false;
    state.attempt = 0;
    els.me.textContent = 'Signed in as ' + name;
    els.me.hidden = false;
    els.leave.hidden = false;
    els.joinView.hidden = true;
    els.chatView.hidden = false;
    showEmpty();
    updateCounter();
    els.message.focus();
    connect();
  }

  function leave() {
    state.gen++;
    state.leaving = true;
    clearTimers();
    if (state.ws) { var ws = state.ws; state.ws = null; ws.close(1000); }
    setStatus('offline', 'Offline');
    els.me.hidden = true;
    els.leave.hidden = true;
    els.chatView.hidden = true;
    els.joinView.hidden = false;
    els.name.focus();
  }

  function updateCounter() {
    var n = charCount(els.message.value);
    els.counter.textContent = n + ' / ' + maxChars;
    els.counter.classList.toggle('over', n > maxChars);
    // Grow with the text up to the CSS max-height (border-box: add borders).
    els.message.style.height = '0px';
    els.message.style.height = Math.min(els.message.scrollHeight + 2, 160) + 'px';
  }

  function send(ev) {
    if (ev) { ev.preventDefault(); }
    var text = els.message.value;
    if (!text.trim() || !state.ws || !state.connected) { return; }
    // Over-long messages are still sent: the server is the judge, and its
    // refusal appears in the list.
    state.ws.send(JSON.stringify({ type: 'event', event: 'message', dataType: 'text', data: text }));
    els.message.value = '';
    updateCounter();
  }

  els.joinForm.addEventListener('submit', join);
  els.composer.addEventListener('submit', send);
  els.leave.addEventListener('click', leave);
  els.message.addEventListener('input', updateCounter);
  els.message.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { send(ev); }
  });
  setStatus('offline', 'Offline');
  els.name.focus();
})();
