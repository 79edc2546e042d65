'use strict';
// Writes flag decisions as decision records (docs/design.md §2.2) into one reusable Buffer, and
// JSON text into the same Buffer, so the hot path allocates nothing but the attributes' JSON.
// Main thread only (each worker_thread loads its own copy of this module and of the addon).

const HEADER_LEN = 44;
const FORMAT_FLAG_DECISION = 1;
const INITIAL_BYTES = 16 * 1024;

class RecordWriter {
  /** `onGrow(buffer)` is told about every new Buffer (the addon caches its address). */
  constructor(onGrow) {
    this.onGrow = onGrow;
    this.grow(INITIAL_BYTES);
  }

  grow(bytes) {
    this.buffer = Buffer.alloc(bytes);
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
    this.onGrow(this.buffer);
  }

  /** Room for `chars` UTF-16 units as UTF-8 (at most 3 bytes each) after `used` bytes. */
  reserve(used, chars) {
    const need = used + chars * 3;
    if (need > this.buffer.length) {
      const old = this.buffer;
      this.grow(Math.max(need, this.buffer.length * 2));
      old.copy(this.buffer, 0, 0, used);
    }
  }

  /**
   * One `decide` notification of @optimizely/optimizely-sdk ({type: "flag", userId, attributes,
   * decisionInfo}) as one record; returns its length. Strings go in whatever they hold (NUL
   * bytes included); a missing or non-string field is absent (length 0); the core validates.
   */
  flagRecord(userId, info, attributesJson) {
    this.reserve(0, HEADER_LEN + (typeof userId === 'string' ? userId.length : 0) +
      textLength(info.flagKey) + textLength(info.ruleKey) + textLength(info.variationKey) +
      textLength(info.experimentId) + textLength(info.variationId) + textLength(attributesJson));
    let end = this.put(userId, HEADER_LEN, 16);
    end = this.put(info.flagKey, end, 20);
    end = this.put(info.ruleKey, end, 24);
    end = this.put(info.variationKey, end, 28);
    end = this.put(info.experimentId, end, 32);
    end = this.put(info.variationId, end, 36);
    end = this.put(attributesJson, end, 40);
    const b = this.buffer;
    this.view.setUint32(0, end, true);
    b[4] = FORMAT_FLAG_DECISION;
    b[5] = tristate(info.enabled);
    b[6] = tristate(info.decisionEventDispatched);
    b[7] = 0;
    // at_ms 0: the core reads the clock on this thread, at the decision.
    this.view.setFloat64(8, 0, true);
    return end;
  }

  /** `text` as UTF-8 at the start of the buffer; returns its length in bytes. */
  text(text) {
    this.reserve(0, text.length);
    return this.buffer.utf8Write(text, 0);
  }

  /** Writes one string at `at` and its byte length into the header's length field. */
  put(s, at, lengthField) {
    let n = 0;
    if (typeof s === 'string') {
      // ASCII byte by byte: cheaper than a call into V8's encoder for short ids and keys.
      const len = s.length;
      n = len;
      const b = this.buffer;
      for (let i = 0; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) {
          n = b.utf8Write(s, at);
          break;
        }
        b[at + i] = c;
      }
    }
    this.view.setUint32(lengthField, n, true);
    return at + n;
  }
}

function textLength(s) {
  return typeof s === 'string' ? s.length : 0;
}

/** true 1, false 0, anything else -1 ("not known"). */
function tristate(v) {
  return v === true ? 1 : v === false ? 0 : 0xff;
}

module.exports = { RecordWriter, HEADER_LEN, FORMAT_FLAG_DECISION };
