# frozen_string_literal: true

module Flagwire
  # Version of this gem (the Ruby binding).
  VERSION = "0.2.0"
  # The C ABI version this binding was written for (FLAGWIRE_ABI_VERSION in include/flagwire.h).
  # The library's flagwire_abi_version() must return exactly this, or loading fails.
  ABI_VERSION = 2
end
