# frozen_string_literal: true

require "ffi"
require_relative "version"
require_relative "errors"

module Flagwire
  # The C ABI 2 of libflagwire (include/flagwire.h, docs/design.md §2), attached with the ffi gem,
  # plus the status check ({Native.check}) and the reader of library-owned strings
  # ({Native.take_string}). Only ABI 2 functions are attached: none of the deprecated ABI 1 ones.
  #
  # Nothing here is public API; use {Flagwire::Client}. Calls go through NativeHandle#call /
  # #call_waiting, the one call helper.
  module Native
    extend FFI::Library

    LIB_FILE = "libflagwire.#{FFI::Platform::LIBSUFFIX}"

    # FlagwireLogLevel (docs/design.md §2.4); test_native.rb checks these against the header.
    module LogLevel
      ERROR = 1
      WARN = 2
      INFO = 3
      DEBUG = 4
    end

    # FlagwireProfileField (docs/design.md §7); checked against the header too.
    module ProfileField
      ATTRIBUTES = 1
      USER_ID = 2
    end

    # How to get a library when there is none for this platform; ends every "not found" message.
    BUILD_HINT = "Install the flagwire gem built for your platform, or build the library yourself " \
                 "(Rust stable: `cargo build --release -p flagwire` in a checkout of flagwire) and " \
                 "set FLAGWIRE_LIB to the resulting target/release/#{LIB_FILE}."

    # A packaged gem is a platform gem (spec.platform, e.g. x86_64-linux) that carries its
    # platform's library in native/<platform>/ (package.sh puts it there), as libddwaf-rb does.
    NATIVE_DIR = File.expand_path("native", __dir__)

    # The platforms whose library this copy of the gem carries (one in a platform gem, none in
    # a checkout).
    def self.bundled_platforms
      Dir.glob("*/#{LIB_FILE}", base: NATIVE_DIR).map { |path| File.dirname(path) }.sort
    end

    # Where the library is looked for, in order. Relative to this file, never an absolute rpath:
    # gems are moved after install (Heroku, Beanstalk), so the path is resolved at load time.
    #   1. ENV["FLAGWIRE_LIB"]: an explicit path (then nothing else is tried);
    #   2. native/<platform>/libflagwire.so: the library a platform gem carries, for the platform
    #      RubyGems would install that gem on (Gem::Platform matching);
    #   3. <repo>/target/release/libflagwire.so: the Rust release build, in a checkout only (a gem
    #      that carries a library never looks outside itself).
    def self.candidates
      override = ENV["FLAGWIRE_LIB"]
      return [override] if override && !override.empty?

      bundled = bundled_platforms
      return [File.expand_path("../../../../target/release/#{LIB_FILE}", __dir__)] if bundled.empty?

      bundled.select { |platform| Gem::Platform.new(platform) === Gem::Platform.local }
             .map { |platform| File.join(NATIVE_DIR, platform, LIB_FILE) }
    end

    def self.locate
      found = candidates.find { |path| File.file?(path) }
      return found if found

      bundled = bundled_platforms
      if candidates.empty? && !bundled.empty?
        raise LibraryError, "flagwire: this gem carries libflagwire for #{bundled.join(', ')} only, " \
                            "and this Ruby runs on #{Gem::Platform.local}. #{BUILD_HINT}"
      end
      raise LibraryError, "flagwire: #{LIB_FILE} not found; looked in #{candidates.join(', ')}. #{BUILD_HINT}"
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
      # The config is JSON text: JSON never holds a raw NUL, so a C string is fine here.
      attach_function :flagwire_init, %i[string pointer pointer], :int

      # ABI 2 inputs take (pointer, length) and an out_error (docs/design.md §2.1). A Ruby String
      # passed as :pointer is handed over without a copy (RSTRING_PTR): only for calls that keep
      # the GVL, during which the String can neither move nor change. NUL bytes are data.
      attach_function :flagwire_on_decision_record, %i[pointer pointer size_t pointer], :int
      attach_function :flagwire_on_notification_json, %i[pointer pointer size_t pointer], :int
      attach_function :flagwire_enqueue_json, %i[pointer pointer size_t pointer], :int
      # These may wait (a big datafile to index, a Profile API request bounded by
      # profile.timeout_ms, a flush deadline): the GVL is released, so their inputs are copied
      # into native memory first (NativeHandle#call_waiting).
      attach_function :flagwire_set_datafile_json, %i[pointer pointer size_t pointer], :int, blocking: true
      # The listener's decisions, handed over off the SDK's thread (DecisionBatcher).
      attach_function :flagwire_on_decision_records, %i[pointer pointer size_t pointer], :int, blocking: true
      attach_function :flagwire_profile_lookup, %i[pointer int pointer size_t pointer pointer], :int, blocking: true
      attach_function :flagwire_flush, %i[pointer uint32], :int, blocking: true
      attach_function :flagwire_shutdown, %i[pointer uint32], :int, blocking: true

      # (user_data, level, message, message_len): runs on flagwire's own threads (docs/design.md §2.4).
      callback :flagwire_log_callback, %i[pointer int pointer size_t], :void
      # Waits for log callbacks in progress, which may need the GVL: release it.
      attach_function :flagwire_set_log_callback, %i[pointer flagwire_log_callback pointer], :int, blocking: true

      # Owned strings: :pointer, read, then flagwire_string_free. Never :string (it would leak).
      attach_function :flagwire_stats, %i[pointer], :pointer
      attach_function :flagwire_string_free, %i[pointer], :void
    rescue ::LoadError, FFI::NotFoundError => e
      raise LibraryError, "flagwire: cannot load #{LIBRARY_PATH}: #{e.message}. #{BUILD_HINT}"
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

    # Takes the message an ABI 2 call wrote to its `char **out_error` slot (nil when none), frees
    # it, and clears the slot for the next call.
    def self.take_error(slot)
      message = take_string(slot.read_pointer)
      slot.write_pointer(nil)
      message
    end

    # A copy of `bytes` in native memory, for calls that release the GVL (never NULL, even empty).
    def self.copy(bytes)
      FFI::MemoryPointer.from_string(bytes)
    end

    ERROR_CLASSES = {
      Status::INVALID_CONFIG => ConfigError,
      Status::CLOSED => ClosedError,
      Status::NULL_ARGUMENT => InvalidInputError,
      Status::INVALID_UTF8 => InvalidInputError,
      Status::INVALID_JSON => InvalidInputError,
      Status::INVALID_ARGUMENT => InvalidInputError
    }.freeze

    # The status check: returns `status` when it is in `allow`; otherwise raises the matching
    # Flagwire::Error with the library's message for this call (`detail`, from out_error).
    def self.check(status, what, detail: nil, allow: Status::SUCCESS)
      return status if allow.include?(status)

      klass = ERROR_CLASSES.fetch(status, InternalError)
      message = +"flagwire: #{what}: #{Status.to_sym(status)}"
      message << ": #{detail}" if detail && !detail.empty?
      raise klass.new(message, status: status)
    end
  end
end
