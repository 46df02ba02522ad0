// ChatHub web UI. Everything the page shows from the network or the user goes
// through textContent; no HTML is ever built from data.
(function () {
  'use strict';

  var SUBPROTOCOL = 'json.webpubsub.azure.v1';
  var MAX_BACKOFF_MS = 30000;
  // How long sent messages may wait for the server's answer (their broadcast
  // or a refusal) before they go back into the composer.
  var SEND_TIMEOUT_MS = 10000;
  // The number of avatar colours in app.css (.avatar-0 … .avatar-11).
  var AVATAR_COLOURS = 12;

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    joinView: $('join-view'), joinForm: $('join-form'), name: $('name'), joinError: $('join-error'),
    join: $('join'), chatView: $('chat-view'), messages: $('messages'), composer: $('composer'),
    message: $('message'), send: $('send'), counter: $('counter'), status: $('status'),
    statusText: $('status-text'), me: $('me'), leave: $('leave'), composerError: $('composer-error')
  };

  // gen changes on every join and leave, so late answers of an earlier
  // session are ignored.
  var state = { user: '', ws: null, leaving: false, attempt: 0, timer: null, tick: null, connected: false, gen: 0 };
  // The messages sent and not yet answered, oldest first, and the id of
  // this page's connection: the server stamps it on each broadcast message,
  // so "(you)" marks this tab's messages, not everyone's with the same name.
  var outbox = { sent: [], timer: null, connectionId: '' };
  // follow is true while the message list shows its newest message.
  var follow = true;

  // maxChars is the server's message limit (chatserver.MaxMessageChars),
  // which index.html carries; it is read each time, as the attribute is the
  // page's single copy.
  function maxChars() { return parseInt(els.composer.getAttribute('data-max-chars'), 10) || 4000; }

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
    if (!state.connected) {
      unsent(outbox.sent.splice(0), state.leaving ? '' : 'The connection dropped before the server answered: ' +
        'your message is back here. It may still appear above; check before sending it again.');
    }
    updateSend();
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

  // colourFor picks one of the avatar colours of app.css, each dark enough
  // for white letters (WCAG AA).
  function colourFor(name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) { h = (h * 31 + name.charCodeAt(i)) >>> 0; }
    return 'avatar-' + (h % AVATAR_COLOURS);
  }

  function atBottom(list) { return list.scrollHeight - list.scrollTop - list.clientHeight <= 4; }

  function toBottom() {
    els.messages.scrollTop = els.messages.scrollHeight;
    follow = true;
  }

  function append(node) {
    var list = els.messages;
    var nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    var empty = list.querySelector('.empty');
    if (empty) { empty.remove(); }
    list.appendChild(node);
    if (nearBottom || node.classList.contains('own')) { toBottom(); }
  }

  function addNotice(text, iso, kind) {
    var li = el('li', 'notice' + (kind ? ' ' + kind : ''));
    li.appendChild(el('span', '', text));
    li.appendChild(timeEl(timeOf(iso)));
    append(li);
  }

  function addMessage(from, text, iso, own) {
    var li = el('li', 'msg' + (own ? ' own' : ''));
    var avatar = el('span', 'avatar ' + colourFor(from), Array.from(from)[0] || '?');
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
    if (p.type === 'error' && typeof p.message === 'string') {
      addNotice(p.message, p.time, 'error');
      // The server answers a connection's messages in order: this refusal
      // is for the oldest one not yet answered.
      unsent(outbox.sent.splice(0, 1), p.message);
      return;
    }
    if (typeof p.from === 'string' && typeof p.message === 'string') {
      var own = !!outbox.connectionId && p.connectionId === outbox.connectionId;
      addMessage(p.from, p.message, p.time, own);
      if (own) { accepted(p.message); }
    }
  }

  function onFrame(ev) {
    var m;
    try { m = JSON.parse(ev.data); } catch (e) { return; }
    if (m.type === 'system' && m.event === 'connected') {
      outbox.connectionId = typeof m.connectionId === 'string' ? m.connectionId : '';
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

  // sendable says why the composer's text cannot be sent now ('' when it can).
  function sendable() {
    var text = els.message.value;
    if (!state.ws || !state.connected) { return 'offline'; }
    if (!text.trim()) { return 'empty'; }
    if (charCount(text) > maxChars()) { return 'long'; }
    return '';
  }

  function updateSend() {
    var why = sendable();
    els.send.disabled = why === 'offline' || why === 'long';
  }

  function showComposerError(text) {
    els.composerError.textContent = text;
    els.composerError.hidden = !text;
  }

  // updateCounter shows the counter from 90 % of the limit on, and says by
  // how much a message is over it.
  function updateCounter() {
    var n = charCount(els.message.value);
    var max = maxChars();
    els.counter.textContent = n + ' / ' + max + (n > max ? ' · ' + (n - max) + ' too many' : '');
    els.counter.hidden = n < max * 0.9;
    els.counter.classList.toggle('over', n > max);
    // Grow with the text up to the CSS max-height (border-box: add borders).
    els.message.style.height = '0px';
    els.message.style.height = Math.min(els.message.scrollHeight + 2, 160) + 'px';
    updateSend();
  }

  // waitForAnswers gives the sent messages SEND_TIMEOUT_MS from the last
  // send or answer; then they go back into the composer.
  function waitForAnswers() {
    clearTimeout(outbox.timer);
    outbox.timer = null;
    if (!outbox.sent.length) { return; }
    outbox.timer = setTimeout(function () {
      unsent(outbox.sent.splice(0), 'No answer from the chat server: your message is back here. ' +
        'It may still appear above; check before sending it again.');
    }, SEND_TIMEOUT_MS);
  }

  // accepted forgets a sent message the server broadcast back to this
  // connection.
  function accepted(text) {
    var i = outbox.sent.indexOf(text);
    if (i >= 0) { outbox.sent.splice(i, 1); }
    waitForAnswers();
  }

  // unsent puts messages that were not accepted back into the composer,
  // before anything typed since, and shows why under it.
  function unsent(texts, why) {
    waitForAnswers();
    if (!texts.length) { return; }
    var typed = els.message.value;
    els.message.value = texts.concat(typed ? [typed] : []).join('\n');
    showComposerError(why);
    updateCounter();
  }

  // send hands the composer's text to the server. The composer is emptied
  // for the next message; the text is kept until the server answers, and
  // comes back if it is refused.
  function send(ev) {
    if (ev) { ev.preventDefault(); }
    if (sendable() !== '') { return; }
    var text = els.message.value;
    state.ws.send(JSON.stringify({ type: 'event', event: 'message', dataType: 'text', data: text }));
    outbox.sent.push(text);
    waitForAnswers();
    els.message.value = '';
    showComposerError('');
    updateCounter();
  }

  els.joinForm.addEventListener('submit', join);
  els.composer.addEventListener('submit', send);
  els.leave.addEventListener('click', leave);
  els.message.addEventListener('input', updateCounter);
  // The list follows the newest message while it is scrolled to the bottom,
  // also when it changes size (window resized, phone keyboard, composer
  // growing); a reader scrolled up stays where they are.
  els.messages.addEventListener('scroll', function () { follow = atBottom(els.messages); });
  if (window.ResizeObserver) {
    new ResizeObserver(function () { if (follow) { toBottom(); } }).observe(els.messages);
  }
  els.message.addEventListener('keydown', function (ev) {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { send(ev); }
  });
  setStatus('offline', 'Offline');
  els.name.focus();
})();
