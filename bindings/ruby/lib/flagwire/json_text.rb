# frozen_string_literal: true

require "json"

module Flagwire
  # JSON text through one reused generator state: JSON.generate builds a new state per call, which
  # costs as much as the generation itself. Compact output only, so sharing it between threads is
  # harmless.
  module JsonText
    STATE = JSON::State.new

    # json 2.x does not unwind State#depth when generation raises (NaN, a bad encoding, ...), so
    # it is reset here, or 100 errors would break every later call.
    def self.generate(obj)
      STATE.generate(obj)
    rescue StandardError
      STATE.depth = 0
      raise
    end
  end
end
