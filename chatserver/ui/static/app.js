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
    statusText: $('status-text'), me: $('me'), leave: $('leave'), composerError: $('composer-error'),
    joinTitle: $('join-title'), joinHint: $('join-hint'), nameLabel: $('name-label')
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

  // How this page learns who is speaking (GET auth/config): anonymous (the
  // name typed here), header (an authenticating proxy signed the user in) or
  // oidc (this page signs in with the provider: authorization code + PKCE,
  // the ID token kept in memory only). 'unknown' until the server answered.
  var FLOW_KEY = 'chathub.signin';
  var auth = { mode: 'unknown', config: null, token: '' };

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
    var req = auth.mode === 'anonymous' ? fetch('negotiate?id=' + encodeURIComponent(state.user), { cache: 'no-store' })
      : fetch('negotiate', { cache: 'no-store', headers: auth.token ? { Authorization: 'Bearer ' + auth.token } : {} });
    req
      .then(function (res) {
        if (res.status === 400 || res.status === 401 || res.status === 403) {
          if (res.status === 401) { auth.token = ''; }
          return res.text().then(function (t) { throw { fatal: true, message: t.trim() || 'The server refused this name.' }; });
        }
        if (!res.ok) { throw new Error('negotiate failed: HTTP ' + res.status); }
        return res.json();
      })
      .then(function (body) {
        if (state.leaving || gen !== state.gen) { return; }
        if (typeof body.user === 'string' && body.user && body.user !== state.user) { showMe(body.user); }
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

  function showMe(name) {
    state.user = name;
    els.me.textContent = name ? 'Signed in as ' + name : 'Signing in…';
    els.me.title = els.me.textContent;
    els.me.hidden = false;
  }

  // enter shows the chat as user (empty until /negotiate names the signed-in
  // user) and connects.
  function enter(name) {
    showMe(name);
    state.gen++;
    state.leaving = false;
    state.attempt = 0;
    els.leave.hidden = auth.mode === 'header';
    els.leave.textContent = auth.mode === 'oidc' ? 'Sign out' : 'Leave';
    els.joinView.hidden = true;
    els.chatView.hidden = false;
    showEmpty();
    updateCounter();
    els.message.focus();
    connect();
  }

  // join acts on the join form once the page knows how to sign in: a name
  // typed before auth/config answered waits for it (and a failed answer is
  // asked again) instead of being lost.
  function join(ev) {
    ev.preventDefault();
    var go = function () {
      if (auth.mode === 'oidc') { beginSignIn(); return; }
      if (auth.mode === 'header') { location.reload(); return; }
      if (auth.mode === 'anonymous') { joinAnonymous(); }
    };
    if (auth.mode === 'unknown') { (starting || start()).then(go); } else { go(); }
  }

  function joinAnonymous() {
    var name = els.name.value.trim();
    var problem = validName(name);
    els.joinError.textContent = problem;
    if (problem) { els.name.focus(); return; }
    enter(name);
  }

  function leave() {
    state.gen++;
    state.leaving = true;
    clearTimers();
    if (state.ws) { var ws = state.ws; state.ws = null; ws.close(1000); }
    setStatus('offline', 'Offline');
    if (auth.mode === 'oidc') { auth.token = ''; } // signing out forgets the token
    els.me.hidden = true;
    els.leave.hidden = true;
    els.chatView.hidden = true;
    els.joinView.hidden = false;
    if (auth.mode === 'anonymous') { els.name.focus(); } else { els.join.focus(); }
  }

  // --- Sign-in -------------------------------------------------------------

  function b64url(bytes) {
    var s = '';
    for (var i = 0; i < bytes.length; i++) { s += String.fromCharCode(bytes[i]); }
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function randomToken() {
    var a = new Uint8Array(32);
    crypto.getRandomValues(a);
    return b64url(a);
  }

  function redirectURI() { return location.origin + location.pathname; }

  // jwtClaims decodes a JWT's payload (not verified: the chat server
  // verifies the token; the page only checks the nonce of its own sign-in).
  function jwtClaims(token) {
    try {
      var p = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      return JSON.parse(decodeURIComponent(Array.prototype.map.call(atob(p), function (c) {
        return '%' + ('00' + c.charCodeAt(0).toString(16)).slice(-2);
      }).join('')));
    } catch (e) { return null; }
  }

  // showSignIn turns the join form into a sign-in button (no name field:
  // the name comes from the sign-in), with an optional problem.
  function showSignIn(title, hint, button, problem) {
    els.joinTitle.textContent = title;
    els.joinHint.textContent = hint;
    els.nameLabel.hidden = true;
    els.name.hidden = true;
    els.join.textContent = button;
    els.joinError.textContent = problem || '';
    els.join.focus();
  }

  // beginSignIn sends the browser to the provider with a fresh state, nonce
  // and PKCE verifier; only those wait in sessionStorage for the way back.
  function beginSignIn() {
    var cc = auth.config;
    var flow = { state: randomToken(), verifier: randomToken(), nonce: randomToken() };
    sessionStorage.setItem(FLOW_KEY, JSON.stringify(flow));
    els.join.disabled = true;
    crypto.subtle.digest('SHA-256', new TextEncoder().encode(flow.verifier)).then(function (hash) {
      var q = new URLSearchParams({
        response_type: 'code', client_id: cc.clientId, redirect_uri: redirectURI(), scope: cc.scope,
        state: flow.state, nonce: flow.nonce, code_challenge: b64url(new Uint8Array(hash)), code_challenge_method: 'S256'
      });
      location.assign(cc.authorizationEndpoint + (cc.authorizationEndpoint.indexOf('?') < 0 ? '?' : '&') + q.toString());
    }).catch(function () {
      els.join.disabled = false;
      els.joinError.textContent = 'This browser cannot sign in here (the page needs https).';
    });
  }

  // finishSignIn completes the provider's redirect back: checks the state,
  // exchanges the code (with the PKCE verifier) for tokens at the token
  // endpoint and keeps the ID token in memory.
  function finishSignIn(q) {
    var flow = null;
    try { flow = JSON.parse(sessionStorage.getItem(FLOW_KEY) || 'null'); } catch (e) { flow = null; }
    sessionStorage.removeItem(FLOW_KEY);
    history.replaceState(null, '', redirectURI());
    var failed = function (msg) { showSignIn('Sign in to chat', 'This chat uses your organisation’s sign-in.', 'Sign in', msg); };
    if (q.get('error')) { failed('The sign-in was refused: ' + (q.get('error_description') || q.get('error'))); return; }
    if (!flow || flow.state !== q.get('state')) { failed('That sign-in did not start on this page. Please sign in again.'); return; }
    var body = new URLSearchParams({
      grant_type: 'authorization_code', code: q.get('code') || '', redirect_uri: redirectURI(),
      client_id: auth.config.clientId, code_verifier: flow.verifier
    });
    fetch(auth.config.tokenEndpoint, { method: 'POST', body: body, cache: 'no-store', credentials: 'omit' })
      .then(function (res) {
        if (!res.ok) { throw new Error('the identity provider answered HTTP ' + res.status); }
        return res.json();
      })
      .then(function (tr) {
        if (!tr || typeof tr.id_token !== 'string') { throw new Error('the identity provider sent no ID token'); }
        var claims = jwtClaims(tr.id_token);
        if (!claims || claims.nonce !== flow.nonce) { throw new Error('the ID token was not issued for this sign-in'); }
        auth.token = tr.id_token;
        enter('');
      })
      .catch(function (err) { failed('Sign-in failed: ' + err.message); });
  }

  // start asks the server how to sign in and sets the page up for it.
  // starting is the pending answer of auth/config, null once it came.
  var starting = null;

  function start() {
    starting = fetch('auth/config', { cache: 'no-store' })
      .then(function (res) {
        if (!res.ok) { return res.text().then(function (t) { throw new Error(t.trim() || 'HTTP ' + res.status); }); }
        return res.json();
      })
      .then(function (cc) {
        starting = null;
        auth.config = cc;
        auth.mode = cc.mode;
        els.joinError.textContent = '';
        if (cc.mode === 'header') {
          showSignIn('Not signed in', 'This chat is signed in through your organisation’s proxy.', 'Try again',
            cc.user ? '' : cc.error || 'The proxy did not say who you are.');
          if (cc.user) { enter(cc.user); }
        } else if (cc.mode === 'oidc') {
          showSignIn('Sign in to chat', 'This chat uses your organisation’s sign-in.', 'Sign in', '');
          var q = new URLSearchParams(location.search);
          if (q.get('code') || q.get('error')) { finishSignIn(q); }
        } else {
          auth.mode = 'anonymous';
          els.name.focus();
        }
      })
      .catch(function (err) {
        starting = null;
        auth.mode = 'unknown';
        els.joinError.textContent = 'The chat server cannot be reached (' + err.message + '). Try again in a moment.';
      });
    return starting;
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
  start();
})();
