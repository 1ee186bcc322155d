/*
 * Alert dashboard: a plain-JavaScript client of this server's API, and an
 * example of how to use it.
 *
 *   GET  /alerts/history   {alerts, count}        oldest first
 *   GET  /alerts?state=…   {alerts, count, next?, silenced?} the board, newest first
 *                          (silenced: alert id -> id of the silence holding it)
 *   GET  /message          {chatMessages, count}  oldest first
 *   POST /alerts           {message, location, severity?, key?} -> the stored alert
 *   POST /alerts/<id>/ack, /alerts/<id>/resolve  {by} -> the alert as it now stands
 *   POST /message          {sender, message}      -> the stored chat message
 *   GET  /heartbeats       {heartbeats, count}    the heartbeat monitors, by name
 *   WS   /ws?since=<id>    every event published after <id>, then live events
 *                          (?since=all: the whole retained history first)
 *
 * How it stays complete and free of duplicates:
 *  1. Load both histories over HTTP.
 *  2. Open the WebSocket with ?since=<newest event id seen>, so whatever was
 *     published between the HTTP answer and the socket opening is replayed.
 *  3. On a lost connection, reconnect with exponential backoff and jitter, again
 *     with ?since=<last event received>: the server replays what was missed.
 *  4. If the server no longer knows that id (it restarted, or the event aged out of
 *     its history) it sends {"type":"gap"} first; the page then forgets what it
 *     showed and reloads the board and both histories over HTTP, so that it
 *     shows what the server has now (after a restart with an empty store, none of
 *     the alerts it no longer knows, with buttons that could only fail).
 *  Every event is keyed by its id, so one seen twice (history + replay + live +
 *  the answer to our own POST) is shown once. An alert changes over its life
 *  (alert_update frames carry it whole): the page keeps one card per alert id
 *  and replaces it only by a later version, so copies arriving late or twice
 *  never move it backwards.
 *
 * Everything a client sent is put in the page as text (textContent), never as HTML.
 */
'use strict'

;(function () {
  const RETRY_BASE_MS = 500
  const RETRY_MAX_MS = 10000
  // The backoff starts over only after a connection has stayed up this long,
  // so a server that accepts and at once closes is not hammered.
  const STABLE_AFTER_MS = 5000
  // Browsers cannot send protocol pings, so the page sends {"type":"ping"} and
  // expects some frame back in time; otherwise the link is dead and is replaced.
  const PING_EVERY_MS = 25000
  const PONG_WITHIN_MS = 10000
  // A connection attempt that neither opens nor fails by then is given up
  // (a black-holed address, or a socket the browser stopped without an event).
  const OPEN_WITHIN_MS = 10000
  const MAX_SHOWN = 200 // per list; older items leave the page (the server keeps its own history)
  const MAX_REMEMBERED_IDS = 20000
  const CHART_MINUTES = 60
  const MINUTE = 60000

  const TOKEN_KEY = 'alert-dashboard.token' // sessionStorage: gone when the tab closes
  const SENDER_KEY = 'alert-dashboard.sender' // localStorage: remembered between visits
  const NAME_KEY = 'alert-dashboard.name' // localStorage: who acknowledges and resolves
  const SOUND_KEY = 'alert-dashboard.sound' // localStorage: 'on' when the viewer turned the sound on
  const NOTIFY_KEY = 'alert-dashboard.notify' // localStorage: 'on' when the viewer turned notifications on
  const AUTO_KEY = 'alert-dashboard.show-automatic' // localStorage: 'off' when automatic alerts are hidden
  // Open and acknowledged alerts are read page by page up to this many pages of BOARD_PAGE.
  const BOARD_PAGE = 1000
  const BOARD_PAGES = 10

  const $ = (id) => document.getElementById(id)
  const el = {
    status: $('status'),
    statusText: $('status-text'),
    statusDetail: $('status-detail'),
    reconnectNow: $('reconnect-now'),
    notice: $('notice'),
    tokenPanel: $('token-panel'),
    tokenReason: $('token-reason'),
    tokenForm: $('token-form'),
    tokenInput: $('token-input'),
    alertForm: $('alert-form'),
    alertMessage: $('alert-message'),
    alertLocation: $('alert-location'),
    alertSeverity: $('alert-severity'),
    alertKey: $('alert-key'),
    alertSubmit: $('alert-submit'),
    alertError: $('alert-error'),
    alertSent: $('alert-sent'),
    alertList: $('alert-list'),
    alertsEmpty: $('alerts-empty'),
    autoGroup: $('auto-group'),
    autoCount: $('auto-count'),
    autoToggle: $('auto-toggle'),
    autoList: $('auto-list'),
    resolvedGroup: $('resolved-group'),
    resolvedCount: $('resolved-count'),
    resolvedList: $('resolved-list'),
    boardError: $('board-error'),
    filterSeverity: $('filter-severity'),
    filterText: $('filter-text'),
    filterHidden: $('filter-hidden'),
    signedIn: $('signed-in'),
    raisePanel: document.querySelector('.raise'),
    identity: $('identity'),
    identityName: $('identity-name'),
    identityChange: $('identity-change'),
    identityForm: $('identity-form'),
    identityInput: $('identity-input'),
    identityCancel: $('identity-cancel'),
    counts: {
      critical: $('count-critical'),
      warning: $('count-warning'),
      info: $('count-info'),
      acknowledged: $('count-acknowledged')
    },
    soundToggle: $('sound-toggle'),
    notifyToggle: $('notify-toggle'),
    chatList: $('chat-list'),
    chatEmpty: $('chat-empty'),
    chatForm: $('chat-form'),
    chatSender: $('chat-sender'),
    chatMessage: $('chat-message'),
    chatError: $('chat-error'),
    chart: $('chart'),
    chartSummary: $('chart-summary'),
    chartPeak: $('chart-peak'),
    heartbeatsPanel: $('heartbeats-panel'),
    heartbeatList: $('heartbeat-list'),
    heartbeatsMore: $('heartbeats-more'),
    silencesPanel: $('silences-panel'),
    silencesEmpty: $('silences-empty'),
    silenceList: $('silence-list'),
    silencesError: $('silences-error')
  }

  const state = {
    /** Ids of every event shown, oldest first (a Set keeps insertion order). */
    seen: new Set(),
    /** The last event received on the socket (or, before any, the newest in the history): what ?since= asks after. */
    lastEventId: null,
    historyLoaded: false,
    /** The last attempt failed before the socket opened: ask over HTTP first why. */
    probe: false,
    socket: null,
    connected: false,
    everConnected: false,
    /** True while a connect() is loading history or opening a socket. */
    busy: false,
    attempt: 0,
    retryAt: 0,
    authRequired: false,
    /** Timestamps (ms) of alerts in the chart's window. */
    alertTimes: [],
    /** The last chat frame sent over the socket, put back in the box if it is refused. */
    lastChat: null,
    /** GET /whoami's answer: who the token is and what it may do; everything until it is known. */
    me: { name: null, scopes: ['subscribe', 'publish', 'operate', 'admin'], named: false, open: true },
    /** The silences not ended (GET /silences), or null while unknown or where the server keeps none (404). */
    silences: null
  }
  const timers = { retry: 0, countdown: 0, open: 0, ping: 0, pong: 0, stable: 0, notice: 0, sent: 0, heartbeats: 0, silenceEdge: 0, silences: 0, heldSoon: 0 }

  // ---------------------------------------------------------------- storage

  function storageGet (storage, key) {
    try { return storage.getItem(key) || '' } catch { return '' }
  }
  function storageSet (storage, key, value) {
    try {
      if (value) storage.setItem(key, value)
      else storage.removeItem(key)
    } catch { /* storage disabled: the value lasts until the page is closed */ }
  }
  const getToken = () => storageGet(window.sessionStorage, TOKEN_KEY)

  // ------------------------------------------------------------------ HTTP

  class ApiError extends Error {
    constructor (status, message) {
      super(message)
      this.status = status
    }
  }

  /** Calls the API; resolves with the JSON answer or throws ApiError with the server's own message. */
  async function api (path, body, method = body === undefined ? 'GET' : 'POST') {
    const headers = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    const token = getToken()
    if (token) headers.Authorization = `Bearer ${token}`
    let res
    try {
      res = await fetch(new URL(path, document.baseURI), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store'
      })
    } catch {
      throw new ApiError(0, 'The server cannot be reached.')
    }
    let data = null
    try { data = await res.json() } catch { /* not JSON */ }
    if (!res.ok) {
      // Errors share one shape: {statusCode, error, message}.
      const message = data !== null && typeof data.message === 'string' ? data.message : `${res.status} ${res.statusText}`
      throw new ApiError(res.status, message)
    }
    return data
  }

  // ------------------------------------------------------------- identity

  /** Whether the token may do what `scope` allows (admin allows everything). */
  const may = (scope) => state.me.scopes.includes(scope) || state.me.scopes.includes('admin')

  /**
   * Asks the server who the token is, then shows it and hides what the scopes
   * do not allow: no alert form without publish, no chat box without publish, no
   * acknowledge or resolve without operate. A server without /whoami (older) is
   * taken as allowing everything, as before.
   */
  async function loadWhoami () {
    try {
      const me = await api('whoami')
      if (me !== null && Array.isArray(me.scopes)) state.me = me
    } catch (err) {
      if (err.status === 401 || err.status === 403) throw err
    }
    applyWhoami()
  }

  function applyWhoami () {
    const { me } = state
    el.signedIn.hidden = me.open || typeof me.name !== 'string'
    el.signedIn.textContent = el.signedIn.hidden ? '' : `Signed in as ${me.name} (${me.scopes.join(', ')})`
    el.raisePanel.hidden = !may('publish')
    el.chatForm.hidden = !may('publish')
    // A named token is who chats and acknowledges: the server ignores a name typed here.
    const named = me.named === true && typeof me.name === 'string'
    el.chatSender.closest('.field').hidden = named
    if (named) el.chatSender.value = me.name
    showIdentity()
    scheduleRender()
    void refreshSilences()
  }

  /** Both histories and the board, merged into one list, oldest first. */
  async function fetchHistory () {
    const [alerts, chats, board] = await Promise.all([api('alerts/history'), api('message'), fetchBoard()])
    const events = [
      ...(alerts !== null && Array.isArray(alerts.alerts) ? alerts.alerts : []),
      ...(chats !== null && Array.isArray(chats.chatMessages) ? chats.chatMessages : []),
      ...board
    ].filter(isEvent)
    events.sort((a, b) => timeOf(a) - timeOf(b))
    return events
  }

  async function loadHistory () {
    const events = await fetchHistory()
    for (const event of events) addEvent(event, false)
    // Nothing received on a socket yet: replay starts after the newest event in
    // the history. If two share a millisecond and the older one is picked, the
    // extra event replayed is dropped as already seen.
    if (state.lastEventId === null && events.length > 0) state.lastEventId = events[events.length - 1].id
    state.historyLoaded = true
  }

  // ------------------------------------------------------------- WebSocket

  function socketUrl () {
    const url = new URL('ws', document.baseURI)
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:'
    if (state.lastEventId !== null) url.searchParams.set('since', state.lastEventId)
    else if (state.historyLoaded) url.searchParams.set('since', 'all')
    const token = getToken()
    if (token) url.searchParams.set('token', token)
    return url.href
  }

  /** Loads the history if it is not loaded yet, then opens the socket. */
  async function connect () {
    if (state.busy || state.socket !== null) return
    clearTimeout(timers.retry)
    clearInterval(timers.countdown)
    // navigator.onLine is not consulted: false only means no interface looks
    // connected to a wider network, and a server on this machine or an isolated
    // LAN answers all the same. Only a failed attempt says the server is out of reach.
    state.busy = true
    if (state.everConnected) setStatus('reconnecting', 'Reconnecting', false, '…')
    else setStatus('connecting', 'Connecting', false, '…')
    try {
      // A refused upgrade (missing token, origin, limits) looks to the page like
      // any failed connection; the same request over HTTP tells a 401 apart.
      await loadWhoami()
      if (!state.historyLoaded) await loadHistory()
      else if (state.probe) await api('alerts/history')
      state.probe = false
    } catch (err) {
      if (err.status === 401 || err.status === 403) requireToken(err.message)
      else scheduleReconnect(err.status > 0 ? `The server answered: ${err.message}` : undefined)
      return
    } finally {
      state.busy = false
    }
    openSocket()
  }

  function openSocket () {
    let socket
    try {
      socket = new WebSocket(socketUrl())
    } catch (err) {
      scheduleReconnect(err.message)
      return
    }
    state.socket = socket
    clearTimeout(timers.open)
    timers.open = setTimeout(() => {
      if (socket === state.socket && socket.readyState !== WebSocket.OPEN) dropSocket('The server did not answer.')
    }, OPEN_WITHIN_MS)
    socket.addEventListener('open', () => {
      if (socket !== state.socket) return
      clearTimeout(timers.open)
      state.connected = true
      state.everConnected = true
      state.authRequired = false
      el.tokenPanel.hidden = true
      setStatus('connected', 'Connected')
      startHeartbeat()
      scheduleHeartbeats()
      clearTimeout(timers.stable)
      timers.stable = setTimeout(() => { state.attempt = 0 }, STABLE_AFTER_MS)
    })
    socket.addEventListener('message', (message) => {
      if (socket === state.socket) onFrame(message.data)
    })
    // An 'error' event is always followed by 'close', which does the work.
    socket.addEventListener('close', (event) => {
      if (socket === state.socket) onClose(event)
    })
  }

  function onFrame (data) {
    if (typeof data !== 'string') return
    let frame
    try { frame = JSON.parse(data) } catch { return }
    if (frame === null || typeof frame !== 'object') return
    // Any frame proves the link is alive.
    clearTimeout(timers.pong)
    switch (frame.type) {
      case 'alert':
      case 'chat':
        if (!isEvent(frame)) return
        // Frames arrive in publish order, so this is where a replay would resume.
        state.lastEventId = frame.id
        addEvent(frame, true)
        if (frame.source === 'heartbeat') scheduleHeartbeats()
        break
      case 'alert_update':
        if (!isAlertUpdate(frame)) return
        state.lastEventId = frame.id
        onAlertUpdate(frame)
        if (frame.alert.source === 'heartbeat') scheduleHeartbeats()
        break
      case 'gap':
        onGap()
        break
      case 'error':
        onErrorFrame(frame)
        break
      case 'pong':
        break
    }
  }

  function onErrorFrame (frame) {
    // A server that does not know the ping frame answers unknown_type: it is
    // alive all the same, and the person at the page has nothing to do about it.
    if (frame.code === 'unknown_type') return
    const message = typeof frame.message === 'string' ? frame.message : 'The server refused the message.'
    showError(el.chatError, forPeople(message))
    // The refused text goes back in the box, unless something new was typed there.
    if (state.lastChat !== null && el.chatMessage.value === '') el.chatMessage.value = state.lastChat.message
    state.lastChat = null
  }

  /**
   * The server could not replay from our id (it restarted, or the id aged out):
   * what the page shows may no longer be what the server has. It forgets it all
   * and shows what the server has now: the frames that follow (the server's
   * replay) and the board and histories over HTTP, merged by id.
   */
  function onGap () {
    state.lastEventId = null
    // The server's message speaks to programs (which routes to reload); the page
    // says what happened and what it does about it.
    showNotice('Reconnected after a server restart or a long break: the alerts and the chat were reloaded ' +
      'and show what the server has now. Any sent during the break that it no longer keeps are not shown.')
    forgetEvents()
    fetchHistory().then((events) => {
      for (const event of events) addEvent(event, false)
      if (state.lastEventId === null && events.length > 0) state.lastEventId = events[events.length - 1].id
    }, (err) => {
      if (err.status === 401) requireToken(err.message)
      else showNotice(`Recent alerts and messages could not be reloaded: ${err.message}`)
    })
  }

  const CLOSE_REASONS = {
    1001: 'The server is shutting down.',
    1009: 'The server closed the connection: a message was too large.',
    1011: 'The server closed the connection after an error.',
    1013: 'The server is busy.'
  }

  function onClose (event) {
    state.probe = !state.connected
    lostSocket()
    if (event.code === 1008) {
      // Policy: the origin or the credentials were refused; retrying as is cannot help.
      requireToken(event.reason ? `The server refused the connection: ${event.reason}` : 'The server refused the connection.')
      return
    }
    const known = CLOSE_REASONS[event.code]
    // The reason of 1001 only repeats the code's meaning; the others may say more.
    if (known !== undefined) showNotice(event.reason && event.code !== 1001 ? `${known} (${event.reason})` : known)
    scheduleReconnect()
  }

  /** Forgets the current socket and its timers. */
  function lostSocket () {
    state.socket = null
    state.connected = false
    clearTimeout(timers.open)
    clearInterval(timers.ping)
    clearTimeout(timers.pong)
    clearTimeout(timers.stable)
  }

  /** Replaces a link that stopped answering, without waiting for the browser to notice. */
  function dropSocket (why) {
    const socket = state.socket
    lostSocket()
    try { socket.close() } catch { /* already closed */ }
    scheduleReconnect(why)
  }

  function startHeartbeat () {
    clearInterval(timers.ping)
    timers.ping = setInterval(() => {
      const socket = state.socket
      if (socket === null || socket.readyState !== WebSocket.OPEN) return
      socket.send(JSON.stringify({ type: 'ping' }))
      clearTimeout(timers.pong)
      timers.pong = setTimeout(() => dropSocket('The connection stopped answering.'), PONG_WITHIN_MS)
    }, PING_EVERY_MS)
  }

  /** Exponential backoff with jitter: 0.5 s, 1 s, 2 s … up to 10 s, each drawn from its upper half. */
  function scheduleReconnect (why) {
    clearTimeout(timers.retry)
    clearInterval(timers.countdown)
    if (why) showNotice(why)
    const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** state.attempt)
    const delay = Math.round(ceiling / 2 + Math.random() * ceiling / 2)
    state.attempt += 1
    state.retryAt = Date.now() + delay
    timers.retry = setTimeout(connect, delay)
    const tick = () => {
      const seconds = Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000))
      setStatus('reconnecting', 'Reconnecting', true, ` in ${seconds} s`)
    }
    tick()
    timers.countdown = setInterval(tick, 250)
  }

  function reconnectNow () {
    state.attempt = 0
    clearTimeout(timers.retry)
    clearInterval(timers.countdown)
    void connect()
  }

  function requireToken (reason) {
    state.authRequired = true
    // An open socket stays open (the server checks the token at the upgrade);
    // the new token then serves the HTTP calls and the next connection.
    if (state.socket === null) {
      clearTimeout(timers.retry)
      clearInterval(timers.countdown)
      // The token form's own button connects: no "Reconnect now" beside it.
      setStatus('offline', 'Offline: token required', false)
    }
    el.tokenReason.textContent = reason || 'This server asks for an access token.'
    const wasHidden = el.tokenPanel.hidden
    el.tokenPanel.hidden = false
    if (wasHidden) el.tokenInput.focus()
  }

  /**
   * kind: connecting | connected | reconnecting | offline. The button shows while
   * waiting to retry. The countdown (detail) is kept out of the live region, so a
   * screen reader says "Reconnecting" once rather than every second.
   */
  function setStatus (kind, text, waiting = kind === 'offline', detail = '') {
    el.status.dataset.state = kind
    if (el.statusText.textContent !== text) el.statusText.textContent = text
    if (el.statusDetail.textContent !== detail) el.statusDetail.textContent = detail
    el.reconnectNow.hidden = !waiting
  }

  // ---------------------------------------------------------------- events

  /** Empties the board, the chat and the chart: what was shown before a gap is not trusted. */
  function forgetEvents () {
    state.seen.clear()
    state.alertTimes = []
    for (const id of [...board.alerts.keys()]) forgetAlert(id)
    board.flash.clear()
    el.chatList.replaceChildren()
    el.chatEmpty.hidden = false
    scheduleRender()
    drawChart()
  }

  function isEvent (e) {
    if (e === null || typeof e !== 'object' || typeof e.id !== 'string' || typeof e.timestamp !== 'string' ||
      typeof e.message !== 'string') return false
    if (e.type === 'alert') return typeof e.location === 'string'
    if (e.type === 'chat') return typeof e.sender === 'string'
    return false
  }

  function timeOf (event) {
    const ms = Date.parse(event.timestamp)
    return Number.isNaN(ms) ? Date.now() : ms
  }

  /** Shows an event once, wherever it came from. Returns false if it was already shown. */
  function addEvent (event, fresh) {
    // An alert seen before may come back in a later state (history reload, our own POST's answer).
    if (event.type === 'alert') return applyAlert(event, fresh)
    if (state.seen.has(event.id)) return false
    state.seen.add(event.id)
    if (state.seen.size > MAX_REMEMBERED_IDS) state.seen.delete(state.seen.values().next().value)
    insertChat(event, fresh)
    return true
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  const dayFormat = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' })
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' })
  // How often the ages ("3 min ago") are brought up to date.
  const AGE_EVERY_MS = 15000

  /** How long ago, in words: "just now", "45 s ago", "3 min ago", "2 h ago", "5 d ago"; past a month, the date. */
  function age (ms, now = Date.now()) {
    const seconds = Math.floor((now - ms) / 1000)
    // A time slightly ahead of this clock (skew) is "just now" too.
    if (seconds < 10) return 'just now'
    if (seconds < 60) return `${seconds} s ago`
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`
    if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`
    if (seconds < 30 * 86400) return `${Math.floor(seconds / 86400)} d ago`
    return dayFormat.format(new Date(ms))
  }

  /** A <time> saying how long ago; the full date and time, in the viewer's own time zone, are in its tooltip. */
  function timeElement (event) {
    const ms = timeOf(event)
    const time = document.createElement('time')
    time.dateTime = event.timestamp
    time.title = fullFormat.format(new Date(ms))
    time.dataset.ms = String(ms)
    time.textContent = age(ms)
    return time
  }

  /** Brings every age on the page up to date (the cards themselves are not rebuilt). */
  function refreshAges () {
    const now = Date.now()
    for (const time of document.querySelectorAll('time[data-ms]')) {
      const text = age(Number(time.dataset.ms), now)
      if (time.textContent !== text) time.textContent = text
    }
    // A monitor's deadline, ahead or behind.
    for (const time of document.querySelectorAll('time[data-until]')) {
      const text = until(Number(time.dataset.until), now)
      if (time.textContent !== text) time.textContent = text
    }
  }

  function textElement (tag, className, text) {
    const node = document.createElement(tag)
    node.className = className
    node.textContent = text
    return node
  }

  function eventItem (event, fresh) {
    const item = document.createElement('li')
    item.className = `event ${event.type}-item`
    item.dataset.id = event.id
    item.dataset.time = String(timeOf(event))
    if (fresh) {
      item.classList.add('fresh')
      item.addEventListener('animationend', () => item.classList.remove('fresh'), { once: true })
    }
    return item
  }

  function insertChat (event, fresh) {
    const item = eventItem(event, fresh)
    if (event.sender === el.chatSender.value.trim()) item.classList.add('mine')
    const head = document.createElement('div')
    head.className = 'event-head'
    head.append(textElement('span', 'sender', event.sender), timeElement(event))
    item.append(head, textElement('p', 'message', event.message))

    // Oldest on top, like any chat; follow the bottom unless the reader scrolled up.
    const list = el.chatList
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
    const time = Number(item.dataset.time)
    let after = list.lastElementChild
    while (after !== null && Number(after.dataset.time) > time) after = after.previousElementSibling
    list.insertBefore(item, after === null ? list.firstElementChild : after.nextElementSibling)
    while (list.children.length > MAX_SHOWN) list.firstElementChild.remove()
    el.chatEmpty.hidden = true
    if (atBottom) list.scrollTop = list.scrollHeight
  }

  // ----------------------------------------------------------------- board
  //
  // One card per alert id, built once and updated in place. Open and
  // acknowledged alerts are on the board, most severe first, then newest;
  // automatic (ticker) alerts have a group of their own that the viewer can
  // hide, so a tick every few seconds never buries the rest; resolved alerts
  // are in a collapsible list, most recently resolved first.

  const SEVERITY_RANK = { critical: 3, warning: 2, info: 1 }
  const SEVERITY_LABEL = { critical: 'Critical', warning: 'Warning', info: 'Info' }
  const STATE_RANK = { open: 0, acknowledged: 1, resolved: 2 }
  const SOURCE_LABEL = { api: 'API', ticker: 'Automatic', alertmanager: 'Alertmanager', heartbeat: 'Heartbeat', pagerduty: 'PagerDuty', grafana: 'Grafana' }
  // Resolved alerts stay on the page up to this many; open ones all stay (the server caps them).
  const MAX_RESOLVED_KEPT = 500
  // Several critical alerts at once (a replay after a reconnect) sound once.
  const SOUND_GAP_MS = 1500
  const BASE_TITLE = document.title

  const board = {
    /** alert id -> the latest version seen. */
    alerts: new Map(),
    /** alert id -> its card (<li>). */
    cards: new Map(),
    /** alert id -> order of first arrival: among alerts raised in the same millisecond, the later arrival is newer. */
    arrival: new Map(),
    arrivals: 0,
    /** alert id -> {by, note} of the last change that carried a note. */
    notes: new Map(),
    /** alert id -> id of the silence holding it, as the board said when it was loaded (GET /alerts `silenced`). */
    held: new Map(),
    /** Cards to highlight at the next render: new or changed while the page watched. */
    flash: new Set(),
    /** Alerts with an acknowledge or resolve on its way. */
    busy: new Set(),
    renderQueued: false,
    /** The action waiting for the viewer's name: {id, action}. */
    pending: null,
    showAutomatic: storageGet(window.localStorage, AUTO_KEY) !== 'off',
    /** The board's filter: one severity ('' for all) and words to find. */
    filter: { severity: '', text: '' },
    sound: storageGet(window.localStorage, SOUND_KEY) === 'on',
    notify: storageGet(window.localStorage, NOTIFY_KEY) === 'on',
    audio: null,
    lastSoundAt: 0
  }

  const has = (table, name) => typeof name === 'string' && Object.hasOwn(table, name)

  /**
   * Open and acknowledged alerts (page after page), and the latest resolved ones.
   * The alerts a silence holds (each page's `silenced` map) are kept in board.held.
   */
  async function fetchBoard () {
    const held = new Map()
    const keepHeld = (answer) => {
      const map = answer?.silenced
      if (map === null || typeof map !== 'object') return
      for (const [id, silence] of Object.entries(map)) if (typeof silence === 'string') held.set(id, silence)
    }
    const unresolved = async () => {
      const alerts = []
      let cursor = ''
      for (let page = 0; page < BOARD_PAGES; page++) {
        const answer = await api(`alerts?state=open,acknowledged&limit=${BOARD_PAGE}${cursor === '' ? '' : `&cursor=${encodeURIComponent(cursor)}`}`)
        if (answer === null || !Array.isArray(answer.alerts)) break
        alerts.push(...answer.alerts)
        keepHeld(answer)
        if (typeof answer.next !== 'string') break
        cursor = answer.next
      }
      return alerts
    }
    const [open, resolved] = await Promise.all([unresolved(), api(`alerts?state=resolved&limit=${MAX_SHOWN}`)])
    keepHeld(resolved)
    board.held = held
    return [...open, ...(resolved !== null && Array.isArray(resolved.alerts) ? resolved.alerts : [])]
  }

  function isAlertUpdate (frame) {
    return typeof frame.id === 'string' && frame.alert !== null && typeof frame.alert === 'object' &&
      frame.alert.type === 'alert' && isEvent(frame.alert)
  }

  function onAlertUpdate (frame) {
    if (typeof frame.note === 'string' && frame.note !== '') {
      board.notes.set(frame.alert.id, { by: typeof frame.by === 'string' ? frame.by : '', note: frame.note })
    }
    applyAlert(frame.alert, true)
  }

  /** The fields the board relies on, with the defaults of the API for any missing. */
  function normalizeAlert (raw) {
    const alert = { ...raw }
    if (!has(SEVERITY_RANK, alert.severity)) alert.severity = 'warning'
    if (!has(STATE_RANK, alert.state)) alert.state = 'open'
    if (!Number.isInteger(alert.count) || alert.count < 1) alert.count = 1
    if (typeof alert.source !== 'string') alert.source = 'api'
    if (typeof alert.updatedAt !== 'string' || Number.isNaN(Date.parse(alert.updatedAt))) alert.updatedAt = alert.timestamp
    return alert
  }

  /**
   * Whether `a` is a later version of an alert than `b`. An alert only moves
   * forward (time of its last change, then state, count, escalations), so a
   * copy that arrives late (a replay, the answer to a POST overtaken by a
   * frame) never undoes a newer one.
   */
  function isNewer (a, b) {
    const steps = [
      Date.parse(a.updatedAt) - Date.parse(b.updatedAt),
      STATE_RANK[a.state] - STATE_RANK[b.state],
      a.count - b.count,
      (a.escalations ?? 0) - (b.escalations ?? 0)
    ]
    for (const step of steps) if (step !== 0) return step > 0
    return false
  }

  /** Puts an alert on the board, unless a later version of it is there already. Returns whether it changed. */
  function applyAlert (raw, fresh) {
    const alert = normalizeAlert(raw)
    if (!state.seen.has(alert.id)) {
      state.seen.add(alert.id)
      if (state.seen.size > MAX_REMEMBERED_IDS) state.seen.delete(state.seen.values().next().value)
      countAlert(timeOf(alert))
    }
    const before = board.alerts.get(alert.id)
    if (before !== undefined && !isNewer(alert, before)) return false
    board.alerts.set(alert.id, alert)
    if (!board.arrival.has(alert.id)) board.arrival.set(alert.id, board.arrivals++)
    if (fresh) {
      board.flash.add(alert.id)
      if (isAlarming(before, alert)) alarm(alert, before !== undefined && (alert.escalations ?? 0) > (before.escalations ?? 0))
      // Without the silences, whether one holds a live alert is the board's to say.
      if (state.silences === null) heldSoon()
    }
    scheduleRender()
    return true
  }

  /** A critical alert nobody is on yet that is new, newly critical, or escalated. */
  function isAlarming (before, alert) {
    if (alert.severity !== 'critical' || alert.state !== 'open') return false
    if (before === undefined || before.severity !== 'critical') return true
    return (alert.escalations ?? 0) > (before.escalations ?? 0)
  }

  function scheduleRender () {
    if (board.renderQueued) return
    board.renderQueued = true
    // A microtask, not an animation frame: a background tab (a wall display
    // behind another window) gets no frames, and its title must still count.
    queueMicrotask(() => {
      board.renderQueued = false
      renderBoard()
    })
  }

  const arrivalOf = (alert) => board.arrival.get(alert.id) ?? 0
  const boardOrder = (a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || timeOf(b) - timeOf(a) || arrivalOf(b) - arrivalOf(a)
  const resolvedAt = (alert) => Date.parse(alert.resolvedAt ?? alert.updatedAt) || 0
  const resolvedOrder = (a, b) => resolvedAt(b) - resolvedAt(a) || arrivalOf(b) - arrivalOf(a)

  function renderBoard () {
    const active = []
    const automatic = []
    const resolved = []
    const counts = { critical: 0, warning: 0, info: 0, acknowledged: 0 }
    for (const alert of board.alerts.values()) {
      if (alert.state === 'resolved') {
        resolved.push(alert)
        continue
      }
      if (alert.state === 'open') counts[alert.severity] += 1
      else counts.acknowledged += 1
      if (alert.source === 'ticker') automatic.push(alert)
      else active.push(alert)
    }
    resolved.sort(resolvedOrder)
    for (const gone of resolved.splice(MAX_RESOLVED_KEPT)) forgetAlert(gone.id)
    // The header counts every alert; the lists show those the filter lets through.
    const all = active.length + automatic.length + resolved.length
    const shownActive = active.filter(matchesFilter).sort(boardOrder)
    const shownAutomatic = automatic.filter(matchesFilter).sort(boardOrder)
    const shownResolved = resolved.filter(matchesFilter)
    const resolvedShown = board.showAutomatic ? shownResolved : shownResolved.filter((a) => a.source !== 'ticker')

    place(el.alertList, shownActive.slice(0, MAX_SHOWN))
    place(el.autoList, board.showAutomatic ? shownAutomatic.slice(0, MAX_SHOWN) : [])
    place(el.resolvedList, resolvedShown.slice(0, MAX_SHOWN))
    board.flash.clear()

    const filtering = board.filter.severity !== '' || board.filter.text !== ''
    const hidden = all - shownActive.length - shownAutomatic.length - shownResolved.length
    el.filterHidden.hidden = !filtering
    el.filterHidden.textContent = hidden === 0 ? 'Every alert matches the filter.' : `${hidden} alert${hidden === 1 ? '' : 's'} hidden by the filter.`
    el.alertsEmpty.hidden = shownActive.length > 0
    el.alertsEmpty.textContent = filtering && active.length > 0
      ? 'No open alerts match the filter.'
      : shownAutomatic.length > 0 ? 'No open alerts apart from the automatic ones.' : 'No open alerts.'
    el.autoGroup.hidden = shownAutomatic.length === 0
    el.autoCount.textContent = `(${shownAutomatic.length})`
    el.autoList.hidden = !board.showAutomatic
    el.resolvedGroup.hidden = resolvedShown.length === 0
    el.resolvedCount.textContent = `(${resolvedShown.length})`
    showCounts(counts)
    watchSilenceEdges()
  }

  /** Whether an alert passes the board's filter: its severity, and every word found in its message, location, key or tags (any case). */
  function matchesFilter (alert) {
    const { severity, text } = board.filter
    if (severity !== '' && alert.severity !== severity) return false
    if (text === '') return true
    const haystack = [alert.message, alert.location, alert.key, ...(Array.isArray(alert.tags) ? alert.tags : [])]
      .filter((part) => typeof part === 'string').join('\n').toLocaleLowerCase()
    return text.toLocaleLowerCase().split(/\s+/).filter(Boolean).every((word) => haystack.includes(word))
  }

  function forgetAlert (id) {
    board.alerts.delete(id)
    board.arrival.delete(id)
    board.notes.delete(id)
    board.held.delete(id)
    board.cards.get(id)?.remove()
    board.cards.delete(id)
  }

  /** Makes `list` hold exactly these alerts' cards in this order, moving only the cards out of place. */
  function place (list, alerts) {
    let cursor = list.firstElementChild
    for (const alert of alerts) {
      const card = cardFor(alert)
      if (card === cursor) cursor = cursor.nextElementSibling
      else list.insertBefore(card, cursor)
    }
    while (cursor !== null) {
      const next = cursor.nextElementSibling
      cursor.remove()
      cursor = next
    }
  }

  function cardFor (alert) {
    let card = board.cards.get(alert.id)
    const isNew = card === undefined
    if (card === undefined) card = newCard(alert.id)
    const silence = silenceOf(alert)
    if (card.shown !== alert || card.shownBusy !== board.busy.has(alert.id) || card.shownSilence !== silenceSignature(silence)) {
      fillCard(card, alert, silence)
    }
    if (board.flash.has(alert.id)) {
      // A new card arrives with a movement; a changed one only lights up, so
      // that its buttons stay still under the pointer. Restarted, so a second
      // change during the highlight shows too.
      const name = isNew ? 'fresh' : 'changed'
      card.classList.remove(name)
      void card.offsetWidth
      card.classList.add(name)
    }
    return card
  }

  /** A card's fixed parts: its contents change in place, its buttons are never replaced. */
  function newCard (id) {
    const card = document.createElement('li')
    card.addEventListener('animationend', () => card.classList.remove('fresh', 'changed'))
    const button = (action, text) => {
      const node = textElement('button', `button-small action-${action}`, text)
      node.type = 'button'
      node.dataset.action = action
      return node
    }
    card.parts = {
      head: textElement('div', 'event-head', ''),
      message: textElement('p', 'message', ''),
      details: textElement('p', 'alert-details', ''),
      actions: textElement('div', 'alert-actions', ''),
      acknowledge: button('acknowledge', 'Acknowledge'),
      resolve: button('resolve', 'Resolve'),
      silence: button('silence', 'Silence'),
      note: document.createElement('input'),
      silenceForm: textElement('div', 'silence-form', ''),
      silenceDuration: document.createElement('select'),
      silenceComment: document.createElement('input')
    }
    // Silence the alert's key for a while, with a comment (POST /silences).
    const { silenceForm, silenceDuration, silenceComment } = card.parts
    silenceForm.hidden = true
    for (const [value, text] of SILENCE_DURATIONS) {
      const option = textElement('option', '', text)
      option.value = value
      silenceDuration.append(option)
    }
    silenceDuration.className = 'silence-duration'
    silenceDuration.setAttribute('aria-label', 'Silence for')
    silenceComment.type = 'text'
    silenceComment.className = 'silence-comment'
    silenceComment.maxLength = 1000
    silenceComment.placeholder = 'Why (required)'
    silenceComment.setAttribute('aria-label', 'Why the alert is silenced')
    silenceForm.append(silenceDuration, silenceComment, button('silence-confirm', 'Silence notifications'), button('silence-cancel', 'Cancel'))
    // Sent with Acknowledge or Resolve, and kept on the alert (its notes).
    card.parts.note.type = 'text'
    card.parts.note.className = 'note-input'
    card.parts.note.maxLength = 1000
    card.parts.note.placeholder = 'Note (optional)'
    card.parts.note.setAttribute('aria-label', 'Note sent with Acknowledge or Resolve')
    card.parts.actions.append(card.parts.note, card.parts.acknowledge, card.parts.resolve, card.parts.silence)
    card.append(card.parts.head, card.parts.message, card.parts.details, card.parts.actions, silenceForm)
    board.cards.set(id, card)
    return card
  }

  function badge (className, text, title) {
    const node = textElement('span', `badge ${className}`, text)
    if (title) node.title = title
    return node
  }

  /** An http or https URL, or null: a link of any other scheme is not made clickable. */
  function safeLink (value) {
    if (typeof value !== 'string') return null
    try {
      const url = new URL(value)
      return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null
    } catch {
      return null
    }
  }

  /** "Acknowledged by Ana, 3 min ago" as text and a <time>. */
  function byLine (className, verb, by, at) {
    const line = textElement('span', className, `${verb}${by ? ` by ${by}` : ''}`)
    if (typeof at === 'string') line.append(', ', timeElement({ timestamp: at }))
    return line
  }

  function fillCard (card, alert, holder) {
    const highlight = ['fresh', 'changed'].filter((name) => card.classList.contains(name))
    card.className = `event alert-item severity-${alert.severity} state-${alert.state}`
    card.classList.add(...highlight)
    card.classList.toggle('automatic', alert.source === 'ticker')
    card.classList.toggle('escalated', (alert.escalations ?? 0) > 0 && alert.state === 'open')
    card.dataset.id = alert.id
    card.dataset.time = String(timeOf(alert))
    card.dataset.severity = alert.severity
    card.dataset.state = alert.state
    card.shown = alert
    card.shownBusy = board.busy.has(alert.id)
    card.shownSilence = silenceSignature(holder)
    card.classList.toggle('silenced', holder !== null)
    if (holder === null) delete card.dataset.silence
    else card.dataset.silence = holder.id

    const { head, message, details, actions, acknowledge, resolve, silence, silenceForm } = card.parts
    head.replaceChildren()
    // The severity is said in words as well as in colour.
    head.append(badge(`severity-badge severity-${alert.severity}`, SEVERITY_LABEL[alert.severity]))
    head.append(textElement('span', 'location', alert.location))
    head.append(badge(`source-badge source-${has(SOURCE_LABEL, alert.source) ? alert.source : 'other'}`,
      has(SOURCE_LABEL, alert.source) ? SOURCE_LABEL[alert.source] : alert.source,
      alert.source === 'ticker' ? 'Raised automatically by the server' : `Raised through ${alert.source}`))
    if (alert.count > 1) head.append(badge('count-badge', `x${alert.count}`, `Raised ${alert.count} times`))
    if (alert.state === 'acknowledged') head.append(badge('state-badge', 'Acknowledged'))
    if (alert.state === 'resolved') head.append(badge('state-badge', 'Resolved'))
    if (holder !== null) head.append(silencedBadge(holder))
    const raised = timeElement(alert)
    raised.classList.add('raised-at')
    head.append(raised)
    message.textContent = alert.message

    details.replaceChildren()
    if ((alert.escalations ?? 0) > 0) {
      const line = textElement('span', 'escalation', `Escalated ${alert.escalations === 1 ? 'once' : `${alert.escalations} times`}`)
      if (typeof alert.escalatedAt === 'string') line.append(', last ', timeElement({ timestamp: alert.escalatedAt }))
      details.append(line)
    }
    if (alert.acknowledgedBy !== undefined || alert.acknowledgedAt !== undefined) {
      details.append(byLine('acknowledged-by', 'Acknowledged', alert.acknowledgedBy, alert.acknowledgedAt))
    }
    if (alert.state === 'resolved') details.append(byLine('resolved-by', 'Resolved', alert.resolvedBy, alert.resolvedAt))
    // The notes the alert carries (a server that keeps them), else the last one an update frame brought.
    const notes = Array.isArray(alert.notes) && alert.notes.length > 0
      ? alert.notes.map((n) => ({ note: String(n.text), by: typeof n.by === 'string' ? n.by : '', at: n.at }))
      : board.notes.has(alert.id) ? [board.notes.get(alert.id)] : []
    for (const note of notes) {
      const line = textElement('span', 'alert-note', `“${note.note}”${note.by ? ` (${note.by})` : ''}`)
      if (typeof note.at === 'string') line.append(' ', timeElement({ timestamp: note.at }))
      details.append(line)
    }
    if (typeof alert.key === 'string') details.append(textElement('span', 'alert-key', `key ${alert.key}`))
    if (Array.isArray(alert.tags)) for (const tag of alert.tags) details.append(textElement('span', 'tag', String(tag)))
    const href = safeLink(alert.link)
    if (href !== null) {
      const link = textElement('a', 'alert-link', 'Open link')
      link.href = href
      link.target = '_blank'
      link.rel = 'noopener noreferrer'
      link.title = href
      details.append(link)
    }
    details.hidden = details.childNodes.length === 0

    const busy = board.busy.has(alert.id)
    actions.hidden = alert.state === 'resolved' || !may('operate')
    acknowledge.hidden = alert.state !== 'open'
    acknowledge.disabled = busy
    resolve.disabled = busy
    // A silence matches the alert's key: an alert without one has no silence button.
    const silenceable = canSilence() && typeof alert.key === 'string' && alert.state !== 'resolved'
    silence.hidden = !silenceable || !silenceForm.hidden
    if (!silenceable) silenceForm.hidden = true
    silence.disabled = busy
  }

  function showCounts (counts) {
    for (const name of ['critical', 'warning', 'info', 'acknowledged']) {
      const text = String(counts[name])
      if (el.counts[name].textContent !== text) el.counts[name].textContent = text
      el.counts[name].parentElement.classList.toggle('zero', counts[name] === 0)
    }
    const title = counts.critical > 0 ? `(${counts.critical}) ${BASE_TITLE}` : BASE_TITLE
    if (document.title !== title) document.title = title
  }

  // ------------------------------------------------- acknowledge, resolve

  const identity = () => storageGet(window.localStorage, NAME_KEY)

  function showIdentity () {
    const name = identity()
    el.identity.hidden = name === '' || state.me.named === true
    el.identityName.textContent = name
  }

  function askName (pending) {
    board.pending = pending
    if (el.identityInput.value === '') el.identityInput.value = identity() || storageGet(window.localStorage, SENDER_KEY)
    el.identityForm.hidden = false
    el.identityInput.focus()
    el.identityInput.select()
  }

  async function act (id, action, noteInput) {
    const by = state.me.named === true ? state.me.name : identity()
    if (by === '') {
      askName({ id, action, noteInput })
      return
    }
    hideError(el.boardError)
    board.busy.add(id)
    scheduleRender()
    try {
      const note = noteInput instanceof HTMLInputElement ? noteInput.value.trim() : ''
      const alert = await api(`alerts/${encodeURIComponent(id)}/${action === 'acknowledge' ? 'ack' : 'resolve'}`, note === '' ? { by } : { by, note })
      if (noteInput instanceof HTMLInputElement) noteInput.value = ''
      if (isEvent(alert)) applyAlert(alert, false)
    } catch (err) {
      showError(el.boardError, `The alert could not be ${action === 'acknowledge' ? 'acknowledged' : 'resolved'}: ${err.message}`)
      if (err.status === 401) requireToken(err.message)
    } finally {
      board.busy.delete(id)
      scheduleRender()
    }
  }

  function onBoardClick (e) {
    const button = e.target instanceof Element ? e.target.closest('button[data-action]') : null
    const card = button?.closest('li[data-id]')
    if (!button || !card) return
    const action = button.dataset.action
    if (action === 'silence' || action === 'silence-cancel') {
      card.parts.silenceForm.hidden = action === 'silence-cancel'
      card.parts.silence.hidden = action === 'silence'
      if (action === 'silence') card.parts.silenceComment.focus()
      return
    }
    if (action === 'silence-confirm') {
      void silenceCard(card)
      return
    }
    void act(card.dataset.id, action, card.querySelector('input.note-input'))
  }

  // ------------------------------------------------------------- silences

  const SILENCE_DURATIONS = [['1h', '1 hour'], ['4h', '4 hours'], ['1d', '1 day']]

  /** Silences need the operate scope and a server that keeps them (GET /silences answered). */
  const canSilence = () => may('operate') && state.silences !== null

  // How the server matches a silence (plugins/core/board.ts parseAlertFilter and
  // matches), mirrored so that alerts arriving live are marked as the board would mark them.
  const SEVERITY_ORDER = ['info', 'warning', 'critical']
  const ALERT_STATES = ['open', 'acknowledged', 'resolved']
  const WHOLE_VALUES = '\ud800'
  const FILTER_WORDS = ['state', 'severity', 'location', 'key', 'tag']
  const KNOWN_VALUES = { state: ALERT_STATES, severity: SEVERITY_ORDER }
  const LONGEST_WAIT_MS = 86400000
  /** silence -> its filter (null: a match that does not parse takes nothing). */
  const silenceFilters = new WeakMap()

  /** "a, b,,c" as ["a", "b", "c"], as the server splits a filter word: a list's items are whole values (a key may hold a comma). */
  function commaValues (value, enumerated) {
    const whole = typeof value !== 'string' || value.includes(WHOLE_VALUES)
    const parts = typeof value !== 'string' ? value : whole ? value.split(WHOLE_VALUES) : [value]
    return (enumerated || !whole ? parts.flatMap((part) => part.split(',')) : parts).map((v) => v.trim()).filter((v) => v.length > 0)
  }

  /** A silence's match as a filter, or null when the server would refuse it (it then takes nothing). */
  function parseMatch (match) {
    if (match === null || typeof match !== 'object') return null
    const filter = {}
    if (match.min_severity !== undefined) {
      const least = typeof match.min_severity === 'string' ? SEVERITY_ORDER.indexOf(match.min_severity.trim()) : -1
      if (least < 0) return null
      // info lets everything through: no test at all.
      if (least > 0) filter.minSeverity = least
    }
    for (const name of FILTER_WORDS) {
      const value = match[name]
      if (value === undefined) continue
      if (typeof value !== 'string' && !(Array.isArray(value) && value.every((item) => typeof item === 'string'))) return null
      const known = KNOWN_VALUES[name]
      const values = commaValues(value, known !== undefined)
      if (values.length === 0) return null
      if (known !== undefined && values.some((v) => !known.includes(v))) return null
      filter[name] = new Set(values)
    }
    return filter
  }

  function matchesAlert (alert, filter) {
    return (filter.state === undefined || filter.state.has(alert.state)) &&
      (filter.severity === undefined || filter.severity.has(alert.severity)) &&
      (filter.minSeverity === undefined || SEVERITY_ORDER.indexOf(alert.severity) >= filter.minSeverity) &&
      (filter.location === undefined || filter.location.has(alert.location)) &&
      (filter.key === undefined || (typeof alert.key === 'string' && filter.key.has(alert.key))) &&
      (filter.tag === undefined || (Array.isArray(alert.tags) ? alert.tags : []).some((tag) => filter.tag.has(tag)))
  }

  /** In force at `now`: startsAt <= now < endsAt. */
  const inForce = (silence, now) => Date.parse(silence.startsAt) <= now && now < Date.parse(silence.endsAt)

  function takes (silence, alert) {
    if (!silenceFilters.has(silence)) silenceFilters.set(silence, parseMatch(silence.match))
    const filter = silenceFilters.get(silence)
    return filter !== null && matchesAlert(alert, filter)
  }

  /**
   * The silence holding an alert now, or null: where the page knows the silences
   * (operate), the first in force whose match takes it; otherwise the board's
   * word for it when the board was loaded ({id} only: the silence itself is not readable).
   */
  function silenceOf (alert) {
    if (state.silences !== null) {
      const now = Date.now()
      return state.silences.find((silence) => inForce(silence, now) && takes(silence, alert)) ?? null
    }
    const id = board.held.get(alert.id)
    return id === undefined ? null : { id }
  }

  /** What of a silence a card shows: a card is filled again when it changes. */
  const silenceSignature = (silence) => silence === null ? '' : `${silence.id}\n${silence.comment ?? ''}\n${silence.endsAt ?? ''}`

  /** The "Silenced" badge: its comment and end in the tooltip and in words for screen readers, else the silence's id. */
  function silencedBadge (silence) {
    const ends = Date.parse(silence.endsAt)
    const parts = []
    if (typeof silence.comment === 'string') parts.push(`“${silence.comment}”`)
    if (!Number.isNaN(ends)) parts.push(`until ${fullFormat.format(new Date(ends))}`)
    const about = parts.length > 0 ? parts.join(', ') : `silence ${silence.id}`
    const node = badge('silenced-badge', 'Silenced', `Notifications silenced: ${about}`)
    node.append(textElement('span', 'visually-hidden', `: notifications held, ${about}`))
    return node
  }

  /** Renders again when the next silence starts or ends, and drops the ended ones from the list. */
  function watchSilenceEdges () {
    clearTimeout(timers.silenceEdge)
    const now = Date.now()
    let next = Infinity
    for (const silence of state.silences ?? []) {
      for (const at of [Date.parse(silence.startsAt), Date.parse(silence.endsAt)]) if (at > now && at < next) next = at
    }
    if (next !== Infinity) timers.silenceEdge = setTimeout(onSilenceEdge, Math.min(next - now, LONGEST_WAIT_MS))
  }

  function onSilenceEdge () {
    if (state.silences !== null) {
      const now = Date.now()
      const left = state.silences.filter((silence) => !(Date.parse(silence.endsAt) <= now))
      if (left.length !== state.silences.length) {
        state.silences = left
        renderSilences()
      }
    }
    scheduleRender()
  }

  // A viewer without operate cannot read the silences: which alerts they hold
  // comes with the board (GET /alerts `silenced`). The newest unresolved alerts
  // are read again soon after live alerts arrive, and with every refresh (for
  // silences made or ended elsewhere). An operator reads the silences at each
  // refresh instead, and matches live alerts against them here.
  const SILENCES_EVERY_MS = 60000
  const HELD_SOON_MS = 500
  const HELD_SOON_PAGE = 100

  /**
   * Reads the silences (operate) or the marks of the newest unresolved alerts
   * (else) now, then every SILENCES_EVERY_MS while connected (a reconnection
   * asks who the token is again, and reads them then).
   */
  async function refreshSilences () {
    clearTimeout(timers.silences)
    if (may('operate')) await loadSilences()
    else if (state.historyLoaded) await loadHeld(BOARD_PAGE) // (the first load of the board brings its marks)
    clearTimeout(timers.silences)
    timers.silences = setTimeout(() => { if (state.connected) void refreshSilences() }, SILENCES_EVERY_MS)
  }

  /** One read of the marks within HELD_SOON_MS of a live alert, however many arrive (at most one read per HELD_SOON_MS). */
  function heldSoon () {
    if (timers.heldSoon !== 0) return
    timers.heldSoon = setTimeout(() => {
      timers.heldSoon = 0
      void loadHeld(HELD_SOON_PAGE)
    }, HELD_SOON_MS)
  }

  /** The silence marks of the newest `limit` unresolved alerts, as the board gives them, in place of those known. */
  async function loadHeld (limit) {
    if (state.silences !== null || !may('subscribe')) return
    let answer
    try {
      answer = await api(`alerts?state=open,acknowledged&limit=${limit}`)
    } catch {
      return // A lost server is the connection's business; the next refresh reads again.
    }
    if (answer === null || !Array.isArray(answer.alerts) || state.silences !== null) return
    const map = answer.silenced !== null && typeof answer.silenced === 'object' ? answer.silenced : {}
    for (const alert of answer.alerts) {
      if (alert === null || typeof alert.id !== 'string') continue
      const silence = has(map, alert.id) ? map[alert.id] : undefined
      if (typeof silence === 'string') board.held.set(alert.id, silence)
      else board.held.delete(alert.id)
    }
    scheduleRender()
  }

  /** Reads the silences not ended; a server without them (404) or a token without operate shows no silence anywhere. */
  async function loadSilences () {
    if (!may('operate')) {
      state.silences = null
    } else {
      try {
        const answer = await api('silences')
        // Those ended by this page's clock stay off the list (see onSilenceEdge), as they left it.
        const now = Date.now()
        state.silences = Array.isArray(answer?.silences) ? answer.silences.filter((silence) => !(Date.parse(silence?.endsAt) <= now)) : null
        hideError(el.silencesError)
      } catch (err) {
        if (err.status === 404 || err.status === 403) state.silences = null
        else showError(el.silencesError, `The silences could not be read: ${err.message}`)
      }
    }
    renderSilences()
    scheduleRender()
  }

  function renderSilences () {
    const list = state.silences ?? []
    el.silencesPanel.hidden = !canSilence()
    el.silencesEmpty.hidden = list.length > 0
    el.silenceList.replaceChildren(...list.map((silence) => {
      const item = textElement('li', 'silence-item', '')
      item.dataset.id = silence.id
      const words = Object.entries(silence.match ?? {}).map(([word, value]) => `${word} ${Array.isArray(value) ? value.join(' or ') : value}`).join(', ')
      item.append(textElement('span', 'silence-match', words))
      const until = textElement('span', 'silence-until', ` until ${new Date(silence.endsAt).toLocaleString()}`)
      item.append(until)
      item.append(textElement('span', 'silence-comment-text', ` “${silence.comment}” (${silence.by})`))
      const end = textElement('button', 'button-small silence-end', 'End')
      end.type = 'button'
      end.addEventListener('click', () => { void endSilence(silence.id, end) })
      item.append(' ', end)
      return item
    }))
  }

  async function silenceCard (card) {
    const alert = card.shown
    const comment = card.parts.silenceComment.value.trim()
    if (comment === '') {
      showError(el.boardError, 'Say why the alert is silenced.')
      card.parts.silenceComment.focus()
      return
    }
    hideError(el.boardError)
    const by = state.me.named === true ? state.me.name : identity()
    // A key with a comma goes as a list (one whole value); a string would be a comma list of keys.
    const body = { match: { key: alert.key.includes(',') ? [alert.key] : alert.key }, duration: card.parts.silenceDuration.value, comment }
    if (by !== '') body.by = by
    try {
      await api('silences', body)
      card.parts.silenceComment.value = ''
      card.parts.silenceForm.hidden = true
      card.parts.silence.hidden = false
      await loadSilences()
    } catch (err) {
      showError(el.boardError, `The alert could not be silenced: ${err.message}`)
      if (err.status === 401) requireToken(err.message)
    }
  }

  async function endSilence (id, button) {
    button.disabled = true
    try {
      await api(`silences/${encodeURIComponent(id)}`, undefined, 'DELETE')
    } catch (err) {
      // Ended meanwhile (404): the list is read again all the same.
      if (err.status !== 404) showError(el.silencesError, `The silence could not be ended: ${err.message}`)
    }
    await loadSilences()
  }

  // -------------------------------------------------- sound, notification

  function audioContext () {
    const Context = window.AudioContext ?? window.webkitAudioContext
    if (Context === undefined) return null
    if (board.audio === null) {
      try { board.audio = new Context() } catch { return null }
    }
    // Browsers start audio only after a gesture on the page: turning the sound on is one.
    if (board.audio.state === 'suspended') board.audio.resume().catch(() => {})
    return board.audio
  }

  /** Two short tones, made on the spot: no sound file to load. */
  function beep () {
    const context = audioContext()
    if (context === null) return
    const start = context.currentTime + 0.01
    for (const [offset, frequency] of [[0, 880], [0.2, 660]]) {
      const oscillator = context.createOscillator()
      const gain = context.createGain()
      oscillator.type = 'sine'
      oscillator.frequency.value = frequency
      gain.gain.setValueAtTime(0.0001, start + offset)
      gain.gain.exponentialRampToValueAtTime(0.3, start + offset + 0.02)
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.16)
      oscillator.connect(gain).connect(context.destination)
      oscillator.start(start + offset)
      oscillator.stop(start + offset + 0.18)
    }
  }

  const notificationsSupported = () => typeof window.Notification === 'function'

  function alarm (alert, escalated) {
    const now = Date.now()
    if (board.sound && now - board.lastSoundAt >= SOUND_GAP_MS) {
      board.lastSoundAt = now
      beep()
    }
    // Someone looking at the page sees the card; a notification is for a tab in the background.
    if (board.notify && document.hidden && notificationsSupported() && window.Notification.permission === 'granted') {
      try {
        const notification = new window.Notification(`${escalated ? 'Escalated' : 'Critical'}: ${alert.message}`, {
          body: `${alert.location}${(alert.escalations ?? 0) > 0 ? ` · escalated ${alert.escalations}×` : ''}`,
          tag: alert.id
        })
        notification.addEventListener('click', () => {
          window.focus()
          notification.close()
        })
      } catch { /* some browsers allow notifications only from a service worker */ }
    }
  }

  function showToggles () {
    el.soundToggle.setAttribute('aria-pressed', String(board.sound))
    el.soundToggle.textContent = board.sound ? 'Sound on' : 'Sound off'
    el.notifyToggle.hidden = !notificationsSupported()
    const blocked = notificationsSupported() && window.Notification.permission === 'denied'
    const on = board.notify && !blocked
    el.notifyToggle.setAttribute('aria-pressed', String(on))
    el.notifyToggle.textContent = blocked ? 'Notifications blocked' : on ? 'Notifications on' : 'Notifications off'
    el.autoToggle.checked = board.showAutomatic
  }

  async function toggleNotifications () {
    let on = !board.notify
    if (on && window.Notification.permission !== 'granted') {
      try { on = await window.Notification.requestPermission() === 'granted' } catch { on = false }
    }
    board.notify = on
    storageSet(window.localStorage, NOTIFY_KEY, on ? 'on' : '')
    showToggles()
  }

  function setUpBoard () {
    showIdentity()
    showToggles()
    el.alertList.addEventListener('click', onBoardClick)
    el.autoList.addEventListener('click', onBoardClick)
    el.identityForm.addEventListener('submit', (e) => {
      e.preventDefault()
      const name = el.identityInput.value.trim()
      if (name === '') return
      storageSet(window.localStorage, NAME_KEY, name)
      el.identityForm.hidden = true
      showIdentity()
      const pending = board.pending
      board.pending = null
      if (pending !== null) void act(pending.id, pending.action, pending.noteInput)
    })
    el.identityCancel.addEventListener('click', () => {
      board.pending = null
      el.identityForm.hidden = true
    })
    el.identityChange.addEventListener('click', () => {
      el.identityInput.value = identity()
      askName(null)
    })
    const applyFilter = () => {
      board.filter = { severity: el.filterSeverity.value, text: el.filterText.value.trim() }
      scheduleRender()
    }
    el.filterSeverity.addEventListener('change', applyFilter)
    el.filterText.addEventListener('input', applyFilter)
    el.autoToggle.addEventListener('change', () => {
      board.showAutomatic = el.autoToggle.checked
      storageSet(window.localStorage, AUTO_KEY, board.showAutomatic ? '' : 'off')
      scheduleRender()
    })
    el.soundToggle.addEventListener('click', () => {
      board.sound = !board.sound
      storageSet(window.localStorage, SOUND_KEY, board.sound ? 'on' : '')
      if (board.sound) audioContext()
      showToggles()
    })
    el.notifyToggle.addEventListener('click', () => { void toggleNotifications() })
    if (board.sound) {
      // Remembered from an earlier visit: audio may start only after the viewer's first gesture here.
      const unlock = () => { if (board.sound) audioContext() }
      document.addEventListener('pointerdown', unlock, { once: true })
      document.addEventListener('keydown', unlock, { once: true })
    }
    renderBoard()
  }

  /** The alert form's body: severity always, the key when one is typed. */
  function alertInput () {
    const input = { message: el.alertMessage.value, location: el.alertLocation.value, severity: el.alertSeverity.value }
    const key = el.alertKey.value.trim()
    if (key !== '') input.key = key
    return input
  }

  // ----------------------------------------------------------------- chart

  const SVG = 'http://www.w3.org/2000/svg'
  let chartFrame = 0

  function countAlert (ms) {
    state.alertTimes.push(ms)
    if (chartFrame === 0) chartFrame = requestAnimationFrame(() => { chartFrame = 0; drawChart() })
  }

  function svgElement (tag, attributes) {
    const node = document.createElementNS(SVG, tag)
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value))
    return node
  }

  /** One bar per minute of the last hour (local minutes), drawn from the alerts seen. */
  function drawChart () {
    const currentMinute = Math.floor(Date.now() / MINUTE)
    const firstMinute = currentMinute - CHART_MINUTES + 1
    state.alertTimes = state.alertTimes.filter((ms) => ms >= firstMinute * MINUTE)
    const counts = new Array(CHART_MINUTES).fill(0)
    for (const ms of state.alertTimes) {
      // Alerts stamped slightly in the future (clock skew) count in the current minute.
      counts[Math.min(CHART_MINUTES - 1, Math.floor(ms / MINUTE) - firstMinute)] += 1
    }
    const total = counts.reduce((a, b) => a + b, 0)
    const peak = Math.max(...counts)

    const width = 600
    const height = 100
    const slot = width / CHART_MINUTES
    const nodes = [svgElement('line', { x1: 0, y1: height - 0.5, x2: width, y2: height - 0.5, class: 'chart-baseline' })]
    if (peak > 0) {
      nodes.push(svgElement('line', { x1: 0, y1: 4.5, x2: width, y2: 4.5, class: 'chart-grid' }))
      counts.forEach((count, i) => {
        if (count === 0) return
        const barHeight = Math.max(2, (count / peak) * (height - 6))
        const bar = svgElement('rect', {
          x: i * slot + 1, y: height - barHeight, width: slot - 2, height: barHeight, class: 'chart-bar'
        })
        const title = svgElement('title', {})
        title.textContent = `${timeFormat.format(new Date((firstMinute + i) * MINUTE))}: ${count} alert${count === 1 ? '' : 's'}`
        bar.append(title)
        nodes.push(bar)
      })
    }
    el.chart.replaceChildren(...nodes)
    el.chartPeak.textContent = `${peak} / min`
    el.chartPeak.hidden = peak === 0
    el.chartSummary.textContent = total === 0
      ? 'No alerts in the last hour'
      : `${total} alert${total === 1 ? '' : 's'} in the last hour, at most ${peak} in one minute`
  }

  function drawChartEveryMinute () {
    drawChart()
    setTimeout(drawChartEveryMinute, MINUTE - (Date.now() % MINUTE) + 50)
  }

  // ----------------------------------------------------- heartbeat monitors

  // The monitors are read over HTTP: on connecting, when a heartbeat alert is
  // raised or resolved, and every HEARTBEATS_EVERY_MS (a deadline passes with no event).
  const HEARTBEATS_EVERY_MS = 30000

  /** How far a time is from now, in words, either way: "in 4 min", "3 min ago". */
  function until (ms, now = Date.now()) {
    const seconds = Math.round((ms - now) / 1000)
    if (seconds <= 0) return age(ms, now)
    if (seconds < 60) return `in ${seconds} s`
    if (seconds < 3600) return `in ${Math.floor(seconds / 60)} min`
    if (seconds < 86400) return `in ${Math.floor(seconds / 3600)} h`
    if (seconds < 30 * 86400) return `in ${Math.floor(seconds / 86400)} d`
    return dayFormat.format(new Date(ms))
  }

  /** Missed first, then the nearest deadline first; by name when equal. */
  function byUrgency (a, b) {
    const missed = (m) => (m.state === 'missed' ? 0 : 1)
    return missed(a) - missed(b) || Date.parse(a.due) - Date.parse(b.due) || (a.name < b.name ? -1 : 1)
  }

  function monitorTime (iso, words) {
    const ms = Date.parse(iso)
    const time = document.createElement('time')
    time.dateTime = iso
    time.title = fullFormat.format(new Date(ms))
    time.dataset.until = String(ms)
    time.textContent = words(ms)
    return time
  }

  function monitorItem (monitor) {
    const item = document.createElement('li')
    const missed = monitor.state === 'missed'
    const running = typeof monitor.startedAt === 'string'
    item.className = `event heartbeat-item state-${missed ? 'missed' : 'up'}`
    item.dataset.name = monitor.name
    const head = document.createElement('div')
    head.className = 'event-head'
    const label = missed ? 'Missed' : running ? 'Running' : 'Up'
    head.append(textElement('span', 'monitor-name', monitor.name), textElement('span', `badge heartbeat-state heartbeat-${label.toLowerCase()}`, label))
    const details = document.createElement('p')
    details.className = 'alert-details monitor-details'
    const schedule = typeof monitor.schedule === 'string' ? `${monitor.schedule} (${monitor.tz})` : `every ${monitor.every}`
    details.append(textElement('span', 'monitor-schedule', schedule))
    const last = textElement('span', 'monitor-last', 'last ping ')
    last.append(monitorTime(monitor.lastPing, (ms) => age(ms)))
    const due = textElement('span', 'monitor-due', missed ? 'deadline ' : 'due ')
    due.append(monitorTime(monitor.due, (ms) => until(ms)))
    details.append(last, due)
    item.append(head, details)
    return item
  }

  function renderHeartbeats (monitors) {
    const sorted = monitors.filter((m) => m !== null && typeof m === 'object' && typeof m.name === 'string').sort(byUrgency)
    const shown = sorted.slice(0, MAX_SHOWN)
    el.heartbeatList.replaceChildren(...shown.map(monitorItem))
    el.heartbeatsPanel.hidden = sorted.length === 0
    el.heartbeatsMore.hidden = sorted.length <= shown.length
    el.heartbeatsMore.textContent = `${sorted.length - shown.length} more not shown`
  }

  async function loadHeartbeats () {
    clearTimeout(timers.heartbeats)
    if (may('subscribe')) {
      try {
        const answer = await api('heartbeats')
        renderHeartbeats(answer !== null && Array.isArray(answer.heartbeats) ? answer.heartbeats : [])
      } catch {
        // Not allowed, or a server without monitors: no panel. A lost server is the connection's business.
        el.heartbeatsPanel.hidden = true
      }
    }
    timers.heartbeats = setTimeout(loadHeartbeats, HEARTBEATS_EVERY_MS)
  }

  /** One read soon for a burst of heartbeat events. */
  function scheduleHeartbeats () {
    clearTimeout(timers.heartbeats)
    timers.heartbeats = setTimeout(loadHeartbeats, 300)
  }

  // ----------------------------------------------------------------- forms

  const MISSING = { message: 'Enter a message', location: 'Enter a location', sender: 'Enter your name' }

  /**
   * The API's messages are precise for programs ("body/message must not be
   * blank"); next to a form the person needs what to do ("Enter a message").
   * Anything not recognised is shown as the server said it.
   */
  function forPeople (message) {
    // The form's maxlength keeps within the server's limits, so missing or blank is what a person meets.
    const field = /^(?:body|frame)\/(message|location|sender) (?:is required|must not be empty|must not be blank)\b/.exec(message)
    if (field !== null) return MISSING[field[1]]
    return message
  }

  function showError (node, message) {
    node.textContent = message
    node.hidden = false
  }
  function hideError (node) {
    node.hidden = true
    node.textContent = ''
  }

  function showNotice (message) {
    el.notice.textContent = message
    el.notice.hidden = false
    clearTimeout(timers.notice)
    timers.notice = setTimeout(() => { el.notice.hidden = true }, 8000)
  }

  el.alertForm.addEventListener('submit', async (e) => {
    e.preventDefault()
    hideError(el.alertError)
    el.alertSent.hidden = true
    el.alertSubmit.disabled = true
    try {
      const alert = await api('alerts', alertInput())
      // Shown now even if the socket is down; the broadcast copy is then a duplicate and skipped.
      if (isEvent(alert)) addEvent(alert, true)
      el.alertMessage.value = ''
      el.alertSent.textContent = 'Alert raised.'
      el.alertSent.hidden = false
      clearTimeout(timers.sent)
      timers.sent = setTimeout(() => { el.alertSent.hidden = true }, 3000)
    } catch (err) {
      showError(el.alertError, forPeople(err.message))
      if (err.status === 401) requireToken(err.message)
    } finally {
      el.alertSubmit.disabled = false
      el.alertMessage.focus()
    }
  })

  el.chatSender.value = storageGet(window.localStorage, SENDER_KEY)
  el.chatSender.addEventListener('change', () => {
    const name = el.chatSender.value.trim()
    storageSet(window.localStorage, SENDER_KEY, name)
    for (const item of el.chatList.children) item.classList.toggle('mine', item.querySelector('.sender').textContent === name)
  })

  el.chatForm.addEventListener('submit', async (e) => {
    e.preventDefault()
    hideError(el.chatError)
    const chat = { sender: el.chatSender.value, message: el.chatMessage.value }
    storageSet(window.localStorage, SENDER_KEY, chat.sender.trim())
    const socket = state.socket
    if (socket !== null && socket.readyState === WebSocket.OPEN) {
      // Over the socket: the server sends the stored message back to everyone, us included.
      state.lastChat = chat
      socket.send(JSON.stringify(chat))
      el.chatMessage.value = ''
      el.chatMessage.focus()
      return
    }
    // No socket right now: the same message over HTTP.
    try {
      const stored = await api('message', chat)
      if (isEvent(stored)) addEvent(stored, true)
      el.chatMessage.value = ''
    } catch (err) {
      showError(el.chatError, forPeople(err.message))
      if (err.status === 401) requireToken(err.message)
    }
    el.chatMessage.focus()
  })

  el.tokenForm.addEventListener('submit', (e) => {
    e.preventDefault()
    storageSet(window.sessionStorage, TOKEN_KEY, el.tokenInput.value.trim())
    el.tokenInput.value = ''
    el.tokenPanel.hidden = true
    state.authRequired = false
    if (state.socket === null) reconnectNow()
    else loadWhoami().catch((err) => requireToken(err.message))
  })

  el.reconnectNow.addEventListener('click', reconnectNow)

  // A network coming back is a good moment to retry at once; going away changes
  // nothing (the retries go on: the server may well be reachable without it).
  window.addEventListener('online', () => {
    if (state.socket === null && !state.authRequired) reconnectNow()
  })

  // A wall display is set up once with ?token=… in its address: the token moves
  // to the tab's storage and out of the address bar (and its history).
  const pageUrl = new URL(window.location.href)
  if (pageUrl.searchParams.has('token')) {
    storageSet(window.sessionStorage, TOKEN_KEY, pageUrl.searchParams.get('token').trim())
    pageUrl.searchParams.delete('token')
    window.history.replaceState(null, '', pageUrl.href)
  }

  setUpBoard()
  drawChartEveryMinute()
  setInterval(refreshAges, AGE_EVERY_MS)
  void connect()
})()
