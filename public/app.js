/*
 * Alert dashboard: a plain-JavaScript client of this server's API, and an
 * example of how to use it.
 *
 *   GET  /alerts/history   {alerts, count}        oldest first
 *   GET  /message          {chatMessages, count}  oldest first
 *   POST /alerts           {message, location}    -> the stored alert
 *   POST /message          {sender, message}      -> the stored chat message
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
 *     its history) it sends {"type":"gap"} first; the page then reloads both
 *     histories over HTTP and merges them.
 *  Every event is keyed by its id, so one seen twice (history + replay + live +
 *  the answer to our own POST) is shown once.
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
    alertSubmit: $('alert-submit'),
    alertError: $('alert-error'),
    alertSent: $('alert-sent'),
    alertList: $('alert-list'),
    alertsEmpty: $('alerts-empty'),
    chatList: $('chat-list'),
    chatEmpty: $('chat-empty'),
    chatForm: $('chat-form'),
    chatSender: $('chat-sender'),
    chatMessage: $('chat-message'),
    chatError: $('chat-error'),
    chart: $('chart'),
    chartSummary: $('chart-summary'),
    chartPeak: $('chart-peak')
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
    lastChat: null
  }
  const timers = { retry: 0, countdown: 0, open: 0, ping: 0, pong: 0, stable: 0, notice: 0, sent: 0 }

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
  async function api (path, body) {
    const headers = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    const token = getToken()
    if (token) headers.Authorization = `Bearer ${token}`
    let res
    try {
      res = await fetch(new URL(path, document.baseURI), {
        method: body === undefined ? 'GET' : 'POST',
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

  /** Both histories, merged into one list, oldest first. */
  async function fetchHistory () {
    const [alerts, chats] = await Promise.all([api('alerts/history'), api('message')])
    const events = [
      ...(alerts !== null && Array.isArray(alerts.alerts) ? alerts.alerts : []),
      ...(chats !== null && Array.isArray(chats.chatMessages) ? chats.chatMessages : [])
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
      if (!state.historyLoaded) await loadHistory()
      else if (state.probe) await api('alerts/history')
      state.probe = false
    } catch (err) {
      if (err.status === 401) requireToken(err.message)
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

  /** The server could not replay from our id: what it sends next is its whole history, and HTTP fills the rest. */
  function onGap () {
    state.lastEventId = null
    // The server's message speaks to programs (which routes to reload); the page
    // says what happened and what it does about it.
    showNotice('Reconnected after a server restart or a long break: reloading recent alerts and messages. ' +
      'Any sent during the break that are no longer kept may be missing.')
    fetchHistory().then((events) => {
      for (const event of events) addEvent(event, true)
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
    if (state.seen.has(event.id)) return false
    state.seen.add(event.id)
    if (state.seen.size > MAX_REMEMBERED_IDS) state.seen.delete(state.seen.values().next().value)
    if (event.type === 'alert') {
      insertAlert(event, fresh)
      countAlert(timeOf(event))
    } else {
      insertChat(event, fresh)
    }
    return true
  }

  const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })
  const dayTimeFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' })
  const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' })

  /** A <time> in the viewer's own time zone; the full date is in its tooltip. */
  function timeElement (event) {
    const date = new Date(timeOf(event))
    const today = new Date()
    const sameDay = date.getFullYear() === today.getFullYear() && date.getMonth() === today.getMonth() && date.getDate() === today.getDate()
    const time = document.createElement('time')
    time.dateTime = event.timestamp
    time.title = fullFormat.format(date)
    time.textContent = (sameDay ? timeFormat : dayTimeFormat).format(date)
    return time
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

  function insertAlert (event, fresh) {
    const item = eventItem(event, fresh)
    const head = document.createElement('div')
    head.className = 'event-head'
    head.append(textElement('span', 'location', event.location), timeElement(event))
    item.append(head, textElement('p', 'message', event.message))

    // Newest on top. A later arrival with the same timestamp counts as newer.
    const time = Number(item.dataset.time)
    let before = el.alertList.firstElementChild
    while (before !== null && Number(before.dataset.time) > time) before = before.nextElementSibling
    el.alertList.insertBefore(item, before)
    while (el.alertList.children.length > MAX_SHOWN) el.alertList.lastElementChild.remove()
    el.alertsEmpty.hidden = true
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
      const alert = await api('alerts', { message: el.alertMessage.value, location: el.alertLocation.value })
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
  })

  el.reconnectNow.addEventListener('click', reconnectNow)

  // A network coming back is a good moment to retry at once; going away changes
  // nothing (the retries go on: the server may well be reachable without it).
  window.addEventListener('online', () => {
    if (state.socket === null && !state.authRequired) reconnectNow()
  })

  drawChartEveryMinute()
  void connect()
})()
