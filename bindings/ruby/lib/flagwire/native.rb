# frozen_string_literal: true

require "ffi"
require_relative "version"
require_relative "errors"

module Flagwire
  # The C ABI of libflagwire (include/flagwire.h), attached with the ffi gem, plus the two helpers
  # every call goes through: {Native.check} (the one status check, uniffi's `rust_call` style) and
  # {Native.take_string} (reads a library-owned `char *` and frees it with flagwire_string_free).
  #
  # Nothing here is public API; use {Flagwire::Client}.
  module Native
    extend FFI::Library

    LIB_FILE = "libflagwire.#{FFI::Platform::LIBSUFFIX}"

    # Where the library is looked for, in order. Relative to this file, never an absolute rpath:
    # gems are moved after install (Heroku, Beanstalk), so the path is resolved at load time.
    #   1. ENV["FLAGWIRE_LIB"]: an explicit path (then nothing else is tried);
    #   2. lib/flagwire/native/libflagwire.so: the copy a packaged gem ships (see package.sh);
    #   3. <repo>/target/release/libflagwire.so: the Rust release build, during development.
    def self.candidates
      override = ENV["FLAGWIRE_LIB"]
      return [override] if override && !override.empty?

      [
        File.expand_path("native/#{LIB_FILE}", __dir__),
        File.expand_path("../../../../target/release/#{LIB_FILE}", __dir__)
      ]
    end

    def self.locate
      found = candidates.find { |path| File.file?(path) }
      return found if found

      raise LibraryError, "flagwire: #{LIB_FILE} not found; looked in #{candidates.join(', ')}. " \
                          "Build it with `cargo build --release -p flagwire`, or set FLAGWIRE_LIB to its path."
    end

    # The ABI handshake: refuse to run against a library built for another ABI.
    def self.verify_abi!(actual, expected = ABI_VERSION, path = LIBRARY_PATH)
      return if actual == expected

      raise LibraryError, "flagwire: ABI mismatch: #{path} implements ABI version #{actual}, " \
                          "but this gem (flagwire #{VERSION}) needs ABI version #{expected}. " \
                          "Install a library and a gem of the same release."
    end

    LIBRARY_PATH = locate
    begin
      ffi_lib LIBRARY_PATH

      # Static string: do not free, so :string (a copy) is right here and only here.
      attach_function :flagwire_version, [], :string
      attach_function :flagwire_abi_version, [], :uint32
      attach_function :flagwire_init, %i[string pointer pointer], :int
      # A big datafile takes a while to index: release the GVL.
      attach_function :flagwire_set_datafile, %i[pointer string], :int, blocking: true
      attach_function :flagwire_on_decision, %i[pointer string], :int
      attach_function :flagwire_on_flag_decision, %i[pointer string string string string int32 int32 string], :int
      attach_function :flagwire_enqueue, %i[pointer string], :int
      # These wait (up to their deadline): other Ruby threads keep running meanwhile.
      attach_function :flagwire_flush, %i[pointer uint32], :int, blocking: true
      attach_function :flagwire_shutdown, %i[pointer uint32], :int, blocking: true
      # Owned strings: :pointer, read, then flagwire_string_free. Never :string (it would leak).
      attach_function :flagwire_stats, %i[pointer], :pointer
      attach_function :flagwire_last_error, %i[pointer], :pointer
      attach_function :flagwire_string_free, %i[pointer], :void
      # Profile API (DESIGN §7): an HTTP request on the calling thread (bounded by
      # profile.timeout_ms) on a cache miss, so the GVL is released. The out-strings are owned.
      attach_function :flagwire_profile_attributes, %i[pointer string pointer], :int, blocking: true
      attach_function :flagwire_profile_user_id, %i[pointer string pointer], :int, blocking: true
    rescue ::LoadError, FFI::NotFoundError => e
      raise LibraryError, "flagwire: cannot load #{LIBRARY_PATH}: #{e.message}"
    end

    verify_abi!(flagwire_abi_version)

    # Reads a library-owned string and frees it (also when reading fails). NULL -> nil.
    def self.take_string(ptr)
      return nil if ptr.nil? || ptr.null?

      begin
        ptr.read_string.force_encoding(Encoding::UTF_8)
      ensure
        flagwire_string_free(ptr)
      end
    end

    # The client's last error message, or nil. `client_ptr` must be live (the caller holds the lock).
    def self.last_error(client_ptr)
      take_string(flagwire_last_error(client_ptr))
    end

    ERROR_CLASSES = {
      Status::INVALID_CONFIG => ConfigError,
      Status::CLOSED => ClosedError,
      Status::NULL_ARGUMENT => InvalidInputError,
      Status::INVALID_UTF8 => InvalidInputError,
      Status::INVALID_JSON => InvalidInputError
    }.freeze

    # The one status check every call goes through. Returns `status` when it is in `allow`;
    # otherwise raises the matching Flagwire::Error with the library's message (`detail`, or the
    # client's last error read while `client_ptr` is still live).
    def self.check(status, what, client_ptr: nil, detail: nil, allow: Status::SUCCESS)
      return status if allow.include?(status)

      detail ||= last_error(client_ptr) if client_ptr
      klass = ERROR_CLASSES.fetch(status, InternalError)
      message = +"flagwire: #{what}: #{Status.to_sym(status)}"
      message << ": #{detail}" if detail && !detail.empty?
      raise klass.new(message, status: status)
    end
  end
end
