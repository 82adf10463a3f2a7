// @ts-check
// The inspector's page: a live tree of the keys under the prefixes it watches,
// a live event log, an editor that writes with compare-and-swap, and the
// connection and the server's counts. Plain script, served as is, no build.
//
// It uses the service like any client, with the rights of the token typed
// into it: streams through the served client (`window.AtomKV`, loaded just
// before this script), writes and deletes with fetch, so every answer,
// conflicts and refusals included, can be shown as the server gave it.
// Values are shown with textContent only: a stored string is never markup.

/** @typedef {import('@atomkv/client').AtomKVClient & { token: unknown }} BrowserClient */
/** @typedef {import('@atomkv/client').WatchEvent} WatchEvent */
/** @typedef {{ value: unknown; revision: number }} Entry */
/** @typedef {{ path: string; keys: Map<string, Entry>; live: boolean; problem: string | null; stop: () => void }} Watch */

const kv = /** @type {BrowserClient} */ (/** @type {any} */ (window).AtomKV)
const TOKEN_KEY = 'atomkv-inspector-token'
const token = sessionStorage.getItem(TOKEN_KEY) || ''
if (token) kv.token = token

/** @param {string} id */
const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id))
const input = (/** @type {string} */ id) => /** @type {HTMLInputElement} */ ($(id))
const textarea = () => /** @type {HTMLTextAreaElement} */ ($('value'))
const deleteButton = () => /** @type {HTMLButtonElement} */ ($('delete'))

/**
 * An element with attributes (`class`, `data-*`, properties such as `open`)
 * and children; strings become text nodes.
 * @param {string} tag
 * @param {Record<string, string | boolean | undefined>} [attrs]
 * @param {(Node | string)[]} children
 */
function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === false) continue
    if (name === 'open' || name === 'disabled') /** @type {any} */ (element)[name] = true
    else element.setAttribute(name, value === true ? '' : value)
  }
  element.append(...children)
  return element
}

/** A value in one line, cut short. @param {unknown} value */
function preview(value) {
  const text = JSON.stringify(value)
  return text.length > 80 ? `${text.slice(0, 79)}…` : text
}

const pretty = (/** @type {unknown} */ value) => JSON.stringify(value, null, 2)

// ---- requests -------------------------------------------------------------

/** A service URL: relative, so it works wherever the service is mounted. @param {string} path */
const url = (path) => new URL(`.${path}`, location.href).href

/**
 * A request with the page's token. `Accept: application/json` makes a
 * compare-and-swap conflict answer with the key's current value and revision.
 * @param {string} method
 * @param {string} path
 * @param {{ revision?: number; body?: string }} [options]
 */
function call(method, path, { revision, body } = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  if (revision !== undefined) headers['x-revision'] = String(revision)
  if (body !== undefined) headers['content-type'] = 'application/json'
  return fetch(url(path), { method, headers, body, cache: 'no-store' })
}

/** What a refused answer says, in one line: `403 Forbidden: not allowed to write "/a"`. @param {Response} response */
async function refusal(response) {
  const text = (await response.text()).trim()
  return `${response.status} ${response.statusText}${text ? `: ${text}` : ''}`
}

// ---- watched paths and their keys -----------------------------------------

/** @type {Map<string, Watch>} */
const watches = new Map()
/** The last event logged per key (`revision`, `-1` for a removal): two watches covering one key log it once. */
const logged = new Map()

/** Watched paths live in the URL's fragment (`#/app/,/users/`): a reload or a shared link watches them again. */
function savePaths() {
  history.replaceState(null, '', `#${[...watches.keys()].join(',')}`)
}

/** @param {string} path */
function watch(path) {
  if (watches.has(path)) return
  /** @type {Watch} */
  const state = { path, keys: new Map(), live: false, problem: null, stop: () => {} }
  // Throws at once on a path that is not a key or a prefix.
  state.stop = kv.watch(path, (event) => onEvent(state, event), { initial: true })
  watches.set(path, state)
  savePaths()
  render()
}

/** @param {string} path */
function unwatch(path) {
  const state = watches.get(path)
  watches.delete(path)
  state?.stop()
  savePaths()
  render()
}

/**
 * @param {Watch} state
 * @param {WatchEvent} event
 */
function onEvent(state, event) {
  switch (event.type) {
    case 'value':
      state.keys.set(event.key, { value: event.value, revision: event.revision })
      // The state sent before `ready` is a snapshot, not news: only live writes are logged.
      if (state.live && logged.get(event.key) !== event.revision) {
        logged.set(event.key, event.revision)
        log('write', event.key, event.revision, preview(event.value))
      }
      break
    case 'delete':
      state.keys.delete(event.key)
      if (state.live && logged.get(event.key) !== -1) {
        logged.set(event.key, -1)
        log('remove', event.key, -1, 'null')
      }
      break
    case 'reset':
      // The server could not resume the stream: the full state follows, then `ready`.
      state.keys.clear()
      state.live = false
      log('reset', state.path, undefined, 'the full state follows')
      break
    case 'ready':
      state.live = true
      log('ready', state.path, undefined, `${state.keys.size} key${state.keys.size === 1 ? '' : 's'}`)
      void refreshCounts()
      break
    case 'error':
      state.problem = event.error.message
      state.live = false
      log('error', state.path, undefined, event.error.message)
      break
  }
  render()
}

/** Every watched key, from whichever watch saw the newest revision. */
function allKeys() {
  /** @type {Map<string, Entry>} */
  const all = new Map()
  for (const state of watches.values()) {
    for (const [key, entry] of state.keys) {
      const seen = all.get(key)
      if (!seen || seen.revision < entry.revision) all.set(key, entry)
    }
  }
  return all
}

// ---- the tree ----------------------------------------------------------------

/** Folders closed and values opened by hand, kept across renders. */
const closedFolders = new Set()
const openValues = new Set()
/** Each key's revision at the last render: a changed key flashes. */
let shown = new Map()
let scheduled = false

/** Renders on the next frame: a burst of events is drawn once. */
function render() {
  if (scheduled) return
  scheduled = true
  requestAnimationFrame(() => {
    scheduled = false
    renderWatched()
    renderTree()
    renderDrift()
  })
}

function renderWatched() {
  const list = $('watched')
  list.replaceChildren(
    ...[...watches.values()].map((state) =>
      h(
        'li',
        { 'data-path': state.path, class: state.problem ? 'refused' : state.live ? 'live' : 'pending', title: state.problem ?? '' },
        h('code', {}, state.path),
        state.problem ? h('span', { class: 'problem' }, state.problem) : '',
        h('button', { type: 'button', 'data-unwatch': state.path, 'aria-label': `stop watching ${state.path}` }, '×'),
      ),
    ),
  )
}

/** @typedef {{ entry?: Entry; children: Map<string, TreeNode> }} TreeNode */

function renderTree() {
  const keys = allKeys()
  const root = /** @type {TreeNode} */ ({ children: new Map() })
  for (const key of [...keys.keys()].sort()) {
    let node = root
    for (const part of key.slice(1).split('/')) {
      let child = node.children.get(part)
      if (!child) node.children.set(part, (child = { children: new Map() }))
      node = child
    }
    node.entry = keys.get(key)
  }
  const tree = $('tree')
  if (watches.size === 0) {
    tree.replaceChildren(
      h('p', { class: 'hint' }, 'Watch a prefix (such as /app/) or a key to see its keys live. The protocol watches keys and prefixes, never the whole store at once.'),
    )
  } else if (keys.size === 0) {
    tree.replaceChildren(h('p', { class: 'hint' }, 'No keys under the watched paths yet.'))
  } else {
    tree.replaceChildren(...branch(root, '/'))
  }
  shown = new Map([...keys].map(([key, entry]) => [key, entry.revision]))
}

/**
 * The rows of `node`'s children: a key, a folder, or both (`/a` and `/a/b`).
 * @param {TreeNode} node
 * @param {string} path the node's path, ending in `/`
 * @returns {HTMLElement[]}
 */
function branch(node, path) {
  const rows = []
  for (const [name, child] of node.children) {
    const key = path + name
    if (child.entry) rows.push(keyRow(key, name, child.entry))
    if (child.children.size > 0) {
      const folder = `${key}/`
      rows.push(
        h(
          'details',
          { class: 'folder', 'data-folder': folder, open: !closedFolders.has(folder) },
          h('summary', {}, `${name}/`),
          ...branch(child, folder),
        ),
      )
    }
  }
  return rows
}

/**
 * @param {string} key
 * @param {string} name
 * @param {Entry} entry
 */
function keyRow(key, name, entry) {
  const changed = shown.has(key) && shown.get(key) !== entry.revision
  const selected = editing.key === key
  return h(
    'div',
    { class: `key${changed ? ' changed' : ''}${selected ? ' selected' : ''}`, 'data-key': key, 'data-revision': String(entry.revision) },
    h('button', { type: 'button', class: 'name', 'data-edit': key, title: `edit ${key}` }, name),
    h('span', { class: 'revision', title: 'revision' }, `r${entry.revision}`),
    h(
      'details',
      { class: 'value', 'data-value': key, open: openValues.has(key) },
      h('summary', {}, preview(entry.value)),
      h('pre', {}, pretty(entry.value)),
    ),
  )
}

$('tree').addEventListener('click', (event) => {
  const target = /** @type {HTMLElement} */ (event.target)
  const key = target.closest('[data-edit]')?.getAttribute('data-edit')
  if (key) select(key)
})
// `toggle` does not bubble: listen while it goes down.
$('tree').addEventListener(
  'toggle',
  (event) => {
    const details = /** @type {HTMLDetailsElement} */ (event.target)
    const folder = details.dataset.folder
    const value = details.dataset.value
    if (folder) details.open ? closedFolders.delete(folder) : closedFolders.add(folder)
    if (value) details.open ? openValues.add(value) : openValues.delete(value)
  },
  true,
)
$('watched').addEventListener('click', (event) => {
  const path = /** @type {HTMLElement} */ (event.target).closest('[data-unwatch]')?.getAttribute('data-unwatch')
  if (path) unwatch(path)
})
$('watch-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const path = input('watch-path').value.trim()
  const problem = $('watch-problem')
  try {
    watch(path)
    problem.hidden = true
    input('watch-path').value = ''
  } catch (error) {
    problem.textContent = error instanceof Error ? error.message : String(error)
    problem.hidden = false
  }
})

// ---- the editor ---------------------------------------------------------------

/** The key in the editor and the revision its text is based on (`-1`: a new key, created only if missing). */
const editing = { key: '', revision: -1 }

/** @param {string} key */
function select(key) {
  const entry = allKeys().get(key)
  load(key, entry ? entry.value : null, entry ? entry.revision : -1)
  outcome('', '')
  render()
}

/**
 * Puts a key's value in the editor, as of `revision`.
 * @param {string} key
 * @param {unknown} value
 * @param {number} revision
 */
function load(key, value, revision) {
  editing.key = key
  editing.revision = revision
  input('key').value = key
  textarea().value = pretty(value)
  showBase()
}

function showBase() {
  $('base').textContent =
    editing.revision < 0
      ? 'New key: saved only if it does not exist yet (X-Revision: 0).'
      : `Editing revision ${editing.revision}: saved only if nobody wrote it since (X-Revision: ${editing.revision + 1}).`
  $('base').dataset.revision = String(editing.revision)
  deleteButton().disabled = editing.revision < 0
  renderDrift()
}

/** Tells when the key in the editor changed on the server since it was loaded: saving it now would conflict. */
function renderDrift() {
  const drift = $('drift')
  const now = editing.key ? allKeys().get(editing.key) : undefined
  let text = ''
  if (editing.revision >= 0 && now && now.revision !== editing.revision) {
    text = `Changed on the server since: now at revision ${now.revision}. Saving will conflict.`
  } else if (editing.revision >= 0 && !now && liveAbove(editing.key)) {
    text = 'Removed on the server since.'
  }
  drift.textContent = text
  drift.hidden = text === ''
}

/** Whether a live watch covers `key`, so its absence means it is missing. @param {string} key */
function liveAbove(key) {
  return [...watches.values()].some((state) => state.live && (state.path === key || (state.path.endsWith('/') && key.startsWith(state.path))))
}

/**
 * @param {'ok' | 'conflict' | 'refused' | ''} kind
 * @param {string} message
 * @param {Node[]} extra
 */
function outcome(kind, message, ...extra) {
  const box = $('outcome')
  box.className = `outcome ${kind}`
  box.dataset.kind = kind
  box.replaceChildren(message ? h('p', {}, message) : '', ...extra)
}

$('editor').addEventListener('submit', async (event) => {
  event.preventDefault()
  const key = input('key').value.trim()
  const text = textarea().value
  try {
    JSON.parse(text)
  } catch (error) {
    outcome('refused', `Not JSON: ${error instanceof Error ? error.message : error}`)
    return
  }
  // A different key than the one loaded is a new one: created only if missing.
  if (key !== editing.key) editing.revision = -1
  editing.key = key
  const revision = editing.revision + 1
  const response = await call('PUT', key, { revision, body: text })
  if (response.ok) {
    editing.revision = Number(response.headers.get('x-revision'))
    showBase()
    outcome('ok', `Saved ${key}: revision ${editing.revision}.`)
  } else if (response.status === 409 && response.headers.get('content-type')?.includes('application/json')) {
    conflict(key, revision, await response.json(), Number(response.headers.get('x-revision')))
  } else if (response.status === 409) {
    // Without the right to read the key, the server says no more than that.
    outcome('conflict', `409 Conflict: ${key} is not at revision ${revision - 1} any more; not saved. ${await response.text()}`)
  } else {
    outcome('refused', `Not saved: ${await refusal(response)}`)
  }
  render()
})

/**
 * A compare-and-swap that lost: somebody else wrote first. The answer holds
 * the key's current value and revision (`-1`: missing), to compare and reload.
 * @param {string} key
 * @param {number} sent the X-Revision sent
 * @param {unknown} value
 * @param {number} revision
 */
function conflict(key, sent, value, revision) {
  const now = revision < 0 ? `${key} does not exist now (it was removed)` : `${key} is at revision ${revision} now`
  const why = sent === 0 ? `${key} already exists` : `somebody else wrote ${key} since revision ${sent - 1}`
  const reload = h('button', { type: 'button', id: 'load-current' }, 'Load the current value')
  reload.addEventListener('click', () => {
    load(key, value, revision)
    outcome('', '')
  })
  outcome(
    'conflict',
    `409 Conflict: not saved, ${why}. ${now}:`,
    h('pre', { class: 'current' }, revision < 0 ? '(missing)' : pretty(value)),
    reload,
  )
}

$('delete').addEventListener('click', async () => {
  const key = editing.key
  const response = await call('DELETE', key, { revision: editing.revision })
  if (response.status === 204) {
    outcome('ok', `Deleted ${key} (it was at revision ${editing.revision}).`)
    editing.revision = -1
    showBase()
  } else if (response.status === 409) {
    outcome('conflict', `409 Conflict: not deleted, ${key} is not at revision ${editing.revision} any more. ${await response.text()}`)
  } else if (response.status === 404) {
    outcome('conflict', `404: ${key} was already removed.`)
    editing.revision = -1
    showBase()
  } else {
    outcome('refused', `Not deleted: ${await refusal(response)}`)
  }
  render()
})

$('new').addEventListener('click', () => {
  const prefix = [...watches.keys()].find((path) => path.endsWith('/')) ?? '/'
  load(prefix, null, -1)
  outcome('', '')
  input('key').focus()
  render()
})

// ---- the event log ----------------------------------------------------------

const MAX_LOG = 500

/**
 * @param {'write' | 'remove' | 'reset' | 'ready' | 'error'} kind
 * @param {string} path
 * @param {number | undefined} revision
 * @param {string} detail
 */
function log(kind, path, revision, detail) {
  const list = $('log')
  const time = new Date().toLocaleTimeString()
  list.prepend(
    h(
      'li',
      { class: kind, 'data-kind': kind, 'data-key': path, 'data-revision': revision === undefined ? undefined : String(revision) },
      h('time', {}, time),
      h('b', {}, kind),
      h('code', {}, path),
      revision === undefined ? '' : h('span', { class: 'revision' }, `r${revision}`),
      h('span', { class: 'detail' }, detail),
    ),
  )
  while (list.childElementCount > MAX_LOG) list.lastElementChild?.remove()
}

$('clear-log').addEventListener('click', () => $('log').replaceChildren())

// ---- connection, counts and token ---------------------------------------------

/** @param {string} status */
function showStatus(status) {
  const element = $('status')
  element.dataset.status = status
  element.textContent = status === 'closed' && watches.size === 0 ? 'closed (nothing watched)' : status
}
kv.onStatus(showStatus)
showStatus(kv.status)

/** `/.stats`: the server's keys, streams and subscriptions (with access control, it takes `read` on `/`). */
async function refreshCounts() {
  const counts = $('counts')
  try {
    const response = await call('GET', '/.stats')
    if (!response.ok) {
      counts.textContent = `counts: ${await refusal(response)}`
      counts.dataset.state = 'refused'
      // The token's rights change only with a new token, which reloads the page: no use asking again.
      if (response.status === 401 || response.status === 403) clearInterval(polling)
      return
    }
    const stats = /** @type {{ keys: number; streams: number; subscriptions: number }} */ (await response.json())
    /** @param {'keys' | 'streams' | 'subscriptions'} name */
    const count = (name) => [h('span', { 'data-count': name }, `${stats[name]}`), ` ${stats[name] === 1 ? name.slice(0, -1) : name}`]
    counts.replaceChildren(...count('keys'), ' · ', ...count('streams'), ' · ', ...count('subscriptions'))
    counts.dataset.state = 'ok'
  } catch {
    counts.textContent = 'counts: no answer'
    counts.dataset.state = 'unreachable'
  }
}
const polling = setInterval(() => {
  if (document.visibilityState === 'visible') void refreshCounts()
}, 2000)
void refreshCounts()

// The token is kept for this tab only; a new one reloads the page, so every stream and request uses it.
input('token').value = token
$('token-form').addEventListener('submit', (event) => {
  event.preventDefault()
  const value = input('token').value.trim()
  if (value) sessionStorage.setItem(TOKEN_KEY, value)
  else sessionStorage.removeItem(TOKEN_KEY)
  location.reload()
})

// ---- start ----------------------------------------------------------------------

for (const path of decodeURIComponent(location.hash.slice(1)).split(',')) {
  if (!path) continue
  try {
    watch(path)
  } catch (error) {
    $('watch-problem').textContent = error instanceof Error ? error.message : String(error)
    $('watch-problem').hidden = false
  }
}
showBase()
render()
