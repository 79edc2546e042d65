# frozen_string_literal: true

module Flagwire
  # Encodes one `decide` (flag) decision as an ABI 2 decision record (docs/design.md §2.2) with
  # one Array#pack: a 44-byte little-endian header, then the seven strings back to back,
  # length-prefixed, so NUL bytes are data and nothing is escaped. Array#pack copies the strings'
  # bytes whatever their encoding; the core checks them (an empty user id or flag key, invalid
  # UTF-8) and answers with a status.
  #
  #   offset size field                                            directive
  #    0     4    record_len u32 (header + strings)                V
  #    4     1    format u8 = 1                                    C
  #    5     1    enabled i8: 1, 0                                 c
  #    6     1    decision_event_dispatched i8: 1, 0, -1 unknown   c
  #    7     1    reserved = 0                                     C
  #    8     8    at_ms i64: decision time, Unix ms; 0 = now       q<
  #   16    28    7 x u32 string lengths (0 = absent)              V7
  #   44     ..   user id, flag key, rule key, variation key,      a* x 7
  #               experiment id, variation id, attributes JSON
  module DecisionRecord
    HEADER_LEN = 44
    FORMAT_FLAG_DECISION = 1
    PACK = "VCccCq<V7a*a*a*a*a*a*a*"
    EMPTY = "".b.freeze

    # `info` is ruby-sdk's decision_info Hash (Symbol keys; shared/reference/optimizely.md §2.1),
    # `attributes_json` the attributes as JSON text or nil. Returns the record as a new String, or
    # appends it to `buffer` (records laid back to back, for flagwire_on_decision_records).
    def self.encode(user_id, info, attributes_json, at_ms = 0, buffer = nil)
      flag_key = info[:flag_key]
      rule_key = info[:rule_key]
      variation_key = info[:variation_key]
      experiment_id = info[:experiment_id]
      variation_id = info[:variation_id]
      dispatched = info[:decision_event_dispatched]
      u = user_id ? user_id.bytesize : 0
      f = flag_key ? flag_key.bytesize : 0
      r = rule_key ? rule_key.bytesize : 0
      v = variation_key ? variation_key.bytesize : 0
      e = experiment_id ? experiment_id.bytesize : 0
      i = variation_id ? variation_id.bytesize : 0
      a = attributes_json ? attributes_json.bytesize : 0
      [HEADER_LEN + u + f + r + v + e + i + a, FORMAT_FLAG_DECISION, info[:enabled] ? 1 : 0,
       dispatched.nil? ? -1 : (dispatched ? 1 : 0), 0, at_ms, u, f, r, v, e, i, a,
       user_id || EMPTY, flag_key || EMPTY, rule_key || EMPTY, variation_key || EMPTY,
       experiment_id || EMPTY, variation_id || EMPTY, attributes_json || EMPTY].pack(PACK, buffer: buffer)
    end
  end
end
