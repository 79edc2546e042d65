'use strict';
// Delivering what is queued when the process ends, without changing how it ends (README "Exit and
// signals"). Installed while at least one client with closeOnExit is open.
//  - beforeExit (the loop ran dry): close every open client; the loop then runs dry again and the
//    process exits as it would have.
//  - SIGTERM / SIGINT with no other listener: close every open client, then raise the signal again
//    with the default handling restored (the listeners went away with the last client), so the
//    process still dies of that signal. With other listeners the application owns the signal:
//    flush only, and let it decide.
//  - exit (process.exit(), an uncaught exception, or after the above): a synchronous flush of every
//    client still open, bounded by its closeTimeoutMs, with log lines on stderr (no loop is left).

const open = new Set();
const FLUSH_AT_EXIT = Symbol('flagwire.flushAtExit');
const SIGNALS = ['SIGTERM', 'SIGINT'];
let installed = false;

/** Hooks call a client's `close()` (async), `flush()` and `[FLUSH_AT_EXIT]()` (sync). */
function register(client) {
  open.add(client);
  if (!installed) {
    installed = true;
    process.on('beforeExit', onBeforeExit);
    process.on('exit', onExit);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
}

function unregister(client) {
  open.delete(client);
  if (installed && open.size === 0) uninstall();
}

function uninstall() {
  installed = false;
  process.removeListener('beforeExit', onBeforeExit);
  process.removeListener('exit', onExit);
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

function closeAll() {
  return Promise.allSettled([...open].map((c) => c.close()));
}

function onBeforeExit() {
  if (open.size > 0) closeAll();
}

function onSignal(signal) {
  if (process.listenerCount(signal) > 1) {
    for (const c of open) c.flush(c.closeTimeoutMs).catch(() => {});
    return;
  }
  // Closing unregisters every client, which removes these listeners at once: a second signal
  // during the close gets Node's default handling. Once closed, the same signal again.
  closeAll().then(() => process.kill(process.pid, signal));
}

function onExit() {
  for (const c of open) c[FLUSH_AT_EXIT]();
}

module.exports = { register, unregister, FLUSH_AT_EXIT };
