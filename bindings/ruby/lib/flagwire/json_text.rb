# frozen_string_literal: true

require "json"

module Flagwire
  # JSON text through a reused generator state: JSON.generate builds a new state per call, which
  # costs as much as the generation itself. Compact output only; the state's one piece of mutable
  # data is its nesting depth, so the listener's drainer thread has a state of its own.
  module JsonText
    STATE = JSON::State.new

    # json 2.x does not unwind State#depth when generation raises (NaN, a bad encoding, ...), so
    # it is reset here, or 100 errors would break every later call.
    def self.generate(obj, state = STATE)
      state.generate(obj)
    rescue StandardError
      state.depth = 0
      raise
    end
  end
end
