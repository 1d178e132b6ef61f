// libgpiod v2 (2.x, `libgpiod.so.3`), resolved at run time with dlopen.
//
// Why dlopen and not a second systemLibrary linked like CGpiod: v1 and v2 are both `-lgpiod` with a
// `gpiod.h`, and they export clashing symbols with different ABIs (`gpiod_chip_open`,
// `gpiod_chip_close` return and take different structs). One binary — the test binary that tests both
// backends — cannot link both: the dynamic linker binds every `gpiod_chip_open` to whichever library it
// finds first. Loading v2 with RTLD_LOCAL | RTLD_DEEPBIND and taking each function from its handle keeps
// the two apart (DEEPBIND makes v2's own internal calls bind inside v2). It also keeps `swift build`
// working on a plain Debian 12 box with nothing unpacked (no v2 header is needed: the prototypes are
// below, checked against libgpiod 2.1.3's gpiod.h), and on Debian 13 / Pi OS trixie the system's
// libgpiod.so.3 is found by name. Bookworm-backports' libgpiod.pc also says prefix=/usr, so pointing
// PKG_CONFIG_PATH at an unpacked copy would hand the compiler the system's v1 header anyway.
import Glibc
import Rig
import Synchronization

/// The v2 C API, one function pointer per call we use (`@convention(c)`, C types spelled as Swift's).
/// C enums are `int` (Int32); `size_t` is Int, `unsigned long` UInt, `unsigned int` UInt32.
public final class GpiodV2Library: @unchecked Sendable {
    /// File that was loaded (`libgpiod.so.3` or a full path).
    public let path: String
    /// `gpiod_api_version()`, e.g. "2.1.3".
    public let apiVersion: String

    typealias Ptr = OpaquePointer
    typealias CStr = UnsafePointer<CChar>

    // chip
    let chip_open: @convention(c) (CStr?) -> Ptr?
    let chip_close: @convention(c) (Ptr?) -> Void
    let chip_get_info: @convention(c) (Ptr?) -> Ptr?
    let chip_info_get_name: @convention(c) (Ptr?) -> CStr?
    let chip_info_get_label: @convention(c) (Ptr?) -> CStr?
    let chip_info_get_num_lines: @convention(c) (Ptr?) -> Int
    let chip_info_free: @convention(c) (Ptr?) -> Void
    let chip_get_line_offset_from_name: @convention(c) (Ptr?, CStr?) -> Int32
    let chip_get_line_info: @convention(c) (Ptr?, UInt32) -> Ptr?
    let line_info_get_consumer: @convention(c) (Ptr?) -> CStr?
    let line_info_free: @convention(c) (Ptr?) -> Void
    let chip_request_lines: @convention(c) (Ptr?, Ptr?, Ptr?) -> Ptr?
    // line settings
    let line_settings_new: @convention(c) () -> Ptr?
    let line_settings_free: @convention(c) (Ptr?) -> Void
    let line_settings_set_direction: @convention(c) (Ptr?, Int32) -> Int32
    let line_settings_get_direction: @convention(c) (Ptr?) -> Int32
    let line_settings_set_edge_detection: @convention(c) (Ptr?, Int32) -> Int32
    let line_settings_get_edge_detection: @convention(c) (Ptr?) -> Int32
    let line_settings_set_bias: @convention(c) (Ptr?, Int32) -> Int32
    let line_settings_get_bias: @convention(c) (Ptr?) -> Int32
    let line_settings_set_active_low: @convention(c) (Ptr?, Bool) -> Void
    let line_settings_get_active_low: @convention(c) (Ptr?) -> Bool
    let line_settings_set_debounce_period_us: @convention(c) (Ptr?, UInt) -> Void
    let line_settings_get_debounce_period_us: @convention(c) (Ptr?) -> UInt
    let line_settings_set_event_clock: @convention(c) (Ptr?, Int32) -> Int32
    let line_settings_get_event_clock: @convention(c) (Ptr?) -> Int32
    let line_settings_set_output_value: @convention(c) (Ptr?, Int32) -> Int32
    let line_settings_get_output_value: @convention(c) (Ptr?) -> Int32
    // line config
    let line_config_new: @convention(c) () -> Ptr?
    let line_config_free: @convention(c) (Ptr?) -> Void
    let line_config_add_line_settings: @convention(c) (Ptr?, UnsafePointer<UInt32>?, Int, Ptr?) -> Int32
    let line_config_get_line_settings: @convention(c) (Ptr?, UInt32) -> Ptr?
    let line_config_get_num_configured_offsets: @convention(c) (Ptr?) -> Int
    let line_config_get_configured_offsets: @convention(c) (Ptr?, UnsafeMutablePointer<UInt32>?, Int) -> Int
    // request config
    let request_config_new: @convention(c) () -> Ptr?
    let request_config_free: @convention(c) (Ptr?) -> Void
    let request_config_set_consumer: @convention(c) (Ptr?, CStr?) -> Void
    let request_config_get_consumer: @convention(c) (Ptr?) -> CStr?
    let request_config_set_event_buffer_size: @convention(c) (Ptr?, Int) -> Void
    let request_config_get_event_buffer_size: @convention(c) (Ptr?) -> Int
    // line request
    let line_request_release: @convention(c) (Ptr?) -> Void
    let line_request_set_value: @convention(c) (Ptr?, UInt32, Int32) -> Int32
    let line_request_get_value: @convention(c) (Ptr?, UInt32) -> Int32
    let line_request_wait_edge_events: @convention(c) (Ptr?, Int64) -> Int32
    let line_request_read_edge_events: @convention(c) (Ptr?, Ptr?, Int) -> Int32
    // edge events
    let edge_event_buffer_new: @convention(c) (Int) -> Ptr?
    let edge_event_buffer_free: @convention(c) (Ptr?) -> Void
    let edge_event_buffer_get_capacity: @convention(c) (Ptr?) -> Int
    let edge_event_buffer_get_event: @convention(c) (Ptr?, UInt) -> Ptr?
    let edge_event_get_event_type: @convention(c) (Ptr?) -> Int32
    let edge_event_get_timestamp_ns: @convention(c) (Ptr?) -> UInt64
    let edge_event_get_line_offset: @convention(c) (Ptr?) -> UInt32
    let edge_event_get_global_seqno: @convention(c) (Ptr?) -> UInt
    let edge_event_get_line_seqno: @convention(c) (Ptr?) -> UInt

    // enum values from libgpiod 2.x's gpiod.h
    static let valueInactive: Int32 = 0, valueActive: Int32 = 1
    static let directionAsIs: Int32 = 1, directionInput: Int32 = 2, directionOutput: Int32 = 3
    static let edgeNone: Int32 = 1, edgeRising: Int32 = 2, edgeFalling: Int32 = 3, edgeBoth: Int32 = 4
    static let biasAsIs: Int32 = 1, biasUnknown: Int32 = 2, biasDisabled: Int32 = 3, biasPullUp: Int32 = 4, biasPullDown: Int32 = 5
    static let clockMonotonic: Int32 = 1, clockRealtime: Int32 = 2, clockHTE: Int32 = 3
    static let eventRising: Int32 = 1, eventFalling: Int32 = 2

    /// Environment variable naming the v2 library file to load first (CI: the copy `make deps`
    /// unpacked under `.deps/libgpiod2`).
    public static let pathEnvironmentVariable = "OPERANDO_LIBGPIOD_V2"

    /// Files tried by `load()`: `$OPERANDO_LIBGPIOD_V2` if set, then `libgpiod.so.3` on the
    /// system's library path (Debian 13, Pi OS trixie, or libgpiod3 from bookworm-backports).
    public static var defaultCandidates: [String] {
        var c: [String] = []
        if let p = getenv(pathEnvironmentVariable), p.pointee != 0 { c.append(String(cString: p)) }
        c.append("libgpiod.so.3")
        return c
    }

    private static let cache = Mutex<[String: GpiodV2Library]>([:])

    /// Loads the first loadable candidate whose `gpiod_api_version` is 2.x. The library stays loaded
    /// for the life of the process (never dlclose'd: line requests may outlive any one owner).
    /// - Throws: `GPIOError.chipUnavailable` (chip "libgpiod v2") listing every candidate and why it failed.
    public static func load(candidates: [String] = GpiodV2Library.defaultCandidates) throws(GPIOError) -> GpiodV2Library {
        let found: Result<GpiodV2Library, GPIOError> = cache.withLock { cache in
            var reasons: [String] = []
            for path in candidates {
                if let l = cache[path] { return .success(l) }
                do {
                    let l = try GpiodV2Library(path: path)
                    cache[path] = l
                    return .success(l)
                } catch {
                    reasons.append((error as? LoadError)?.reason ?? "\(path): \(error)")
                }
            }
            return .failure(.chipUnavailable(chip: "libgpiod v2", reason: "cannot load the library: " + reasons.joined(separator: "; ")
                                             + " (install libgpiod3, or set \(pathEnvironmentVariable) to a libgpiod.so.3; `make deps` unpacks one)"))
        }
        return try found.get()
    }

    private struct LoadError: Error { var reason: String }

    private init(path: String) throws(LoadError) {
        // RTLD_DEEPBIND (0x8, glibc): v2's calls to its own exported functions stay inside v2 even when
        // v1's same-named symbols are already in the process (see the top of this file).
        let rtldDeepBind: Int32 = 0x0008
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL | rtldDeepBind) else {
            // dlerror's text starts with the file name already.
            throw LoadError(reason: dlerror().map { String(cString: $0) } ?? "\(path): dlopen failed")
        }
        func sym<T>(_ name: String, _: T.Type = T.self) throws(LoadError) -> T {
            guard let p = dlsym(h, name) else {
                throw LoadError(reason: "\(path): no symbol \(name) (not libgpiod 2.x?)")
            }
            return unsafeBitCast(p, to: T.self)
        }
        self.path = path
        let version: @convention(c) () -> CStr? = try sym("gpiod_api_version")
        apiVersion = version().map { String(cString: $0) } ?? ""
        guard apiVersion.hasPrefix("2.") else {
            dlclose(h)
            throw LoadError(reason: "\(path): gpiod_api_version is \"\(apiVersion)\", expected 2.x")
        }
        chip_open = try sym("gpiod_chip_open")
        chip_close = try sym("gpiod_chip_close")
        chip_get_info = try sym("gpiod_chip_get_info")
        chip_info_get_name = try sym("gpiod_chip_info_get_name")
        chip_info_get_label = try sym("gpiod_chip_info_get_label")
        chip_info_get_num_lines = try sym("gpiod_chip_info_get_num_lines")
        chip_info_free = try sym("gpiod_chip_info_free")
        chip_get_line_offset_from_name = try sym("gpiod_chip_get_line_offset_from_name")
        chip_get_line_info = try sym("gpiod_chip_get_line_info")
        line_info_get_consumer = try sym("gpiod_line_info_get_consumer")
        line_info_free = try sym("gpiod_line_info_free")
        chip_request_lines = try sym("gpiod_chip_request_lines")
        line_settings_new = try sym("gpiod_line_settings_new")
        line_settings_free = try sym("gpiod_line_settings_free")
        line_settings_set_direction = try sym("gpiod_line_settings_set_direction")
        line_settings_get_direction = try sym("gpiod_line_settings_get_direction")
        line_settings_set_edge_detection = try sym("gpiod_line_settings_set_edge_detection")
        line_settings_get_edge_detection = try sym("gpiod_line_settings_get_edge_detection")
        line_settings_set_bias = try sym("gpiod_line_settings_set_bias")
        line_settings_get_bias = try sym("gpiod_line_settings_get_bias")
        line_settings_set_active_low = try sym("gpiod_line_settings_set_active_low")
        line_settings_get_active_low = try sym("gpiod_line_settings_get_active_low")
        line_settings_set_debounce_period_us = try sym("gpiod_line_settings_set_debounce_period_us")
        line_settings_get_debounce_period_us = try sym("gpiod_line_settings_get_debounce_period_us")
        line_settings_set_event_clock = try sym("gpiod_line_settings_set_event_clock")
        line_settings_get_event_clock = try sym("gpiod_line_settings_get_event_clock")
        line_settings_set_output_value = try sym("gpiod_line_settings_set_output_value")
        line_settings_get_output_value = try sym("gpiod_line_settings_get_output_value")
        line_config_new = try sym("gpiod_line_config_new")
        line_config_free = try sym("gpiod_line_config_free")
        line_config_add_line_settings = try sym("gpiod_line_config_add_line_settings")
        line_config_get_line_settings = try sym("gpiod_line_config_get_line_settings")
        line_config_get_num_configured_offsets = try sym("gpiod_line_config_get_num_configured_offsets")
        line_config_get_configured_offsets = try sym("gpiod_line_config_get_configured_offsets")
        request_config_new = try sym("gpiod_request_config_new")
        request_config_free = try sym("gpiod_request_config_free")
        request_config_set_consumer = try sym("gpiod_request_config_set_consumer")
        request_config_get_consumer = try sym("gpiod_request_config_get_consumer")
        request_config_set_event_buffer_size = try sym("gpiod_request_config_set_event_buffer_size")
        request_config_get_event_buffer_size = try sym("gpiod_request_config_get_event_buffer_size")
        line_request_release = try sym("gpiod_line_request_release")
        line_request_set_value = try sym("gpiod_line_request_set_value")
        line_request_get_value = try sym("gpiod_line_request_get_value")
        line_request_wait_edge_events = try sym("gpiod_line_request_wait_edge_events")
        line_request_read_edge_events = try sym("gpiod_line_request_read_edge_events")
        edge_event_buffer_new = try sym("gpiod_edge_event_buffer_new")
        edge_event_buffer_free = try sym("gpiod_edge_event_buffer_free")
        edge_event_buffer_get_capacity = try sym("gpiod_edge_event_buffer_get_capacity")
        edge_event_buffer_get_event = try sym("gpiod_edge_event_buffer_get_event")
        edge_event_get_event_type = try sym("gpiod_edge_event_get_event_type")
        edge_event_get_timestamp_ns = try sym("gpiod_edge_event_get_timestamp_ns")
        edge_event_get_line_offset = try sym("gpiod_edge_event_get_line_offset")
        edge_event_get_global_seqno = try sym("gpiod_edge_event_get_global_seqno")
        edge_event_get_line_seqno = try sym("gpiod_edge_event_get_line_seqno")
    }
}
