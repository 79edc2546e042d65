'use strict';
// Log lines into the host's logger (docs/design.md §2.4): the core calls the addon's callback on
// its own threads; the addon queues each line to the event loop, where `dispatcher` hands it to
// the user's onLog(level, message). Nothing here throws back into native code.

/** The core's FlagwireLogLevel numbers -> the names `logLevel` uses. */
const LEVELS = [undefined, 'error', 'warn', 'info', 'debug'];

/** The default onLog: stderr through console, so lines never mix into stdout. */
function consoleLog(level, message) {
  const line = `flagwire ${level.toUpperCase()}: ${message}`;
  if (level === 'error') console.error(line);
  else console.warn(line);
}

/** `onLog` wrapped so that a throwing logger loses its line and nothing else. */
function safeLogger(onLog) {
  return (level, message) => {
    try {
      onLog(level, message);
    } catch {
      // A logger that throws has nowhere to report to; the line is dropped.
    }
  };
}

/** What the addon calls with (levelNumber, message). */
function dispatcher(log) {
  return (level, message) => log(LEVELS[level] || 'debug', message);
}

module.exports = { consoleLog, safeLogger, dispatcher };
