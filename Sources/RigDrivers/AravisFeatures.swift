import CAravis
import Rig

/// Runs an Aravis call that reports failure through `GError **`, turning the error into a
/// `CameraError.unavailable` that names the camera and the operation.
func aravisCall<T>(_ device: String, _ operation: String,
                   _ body: (UnsafeMutablePointer<UnsafeMutablePointer<GError>?>) -> T) throws -> T {
    var error: UnsafeMutablePointer<GError>? = nil
    let value = body(&error)
    if let e = error {
        let message = e.pointee.message.map { String(cString: $0) } ?? "unknown error"
        g_error_free(e)
        throw CameraError.unavailable(device: device, reason: "\(operation): \(message)")
    }
    return value
}

/// A feature's numeric range as the device's GenICam node states it.
struct FeatureRange<Value: Comparable & Sendable>: Sendable {
    var min: Value
    var max: Value
    /// Step between allowed values (integers; 1 when the node gives none).
    var increment: Value
}

/// GenICam feature access on one open camera, with errors that name the camera, the feature, the
/// value and what the device allows (read from the node: min/max/increment/enumeration entries).
/// Not thread-safe, as Aravis: the owner serialises calls.
struct AravisFeatures {
    let camera: UnsafeMutablePointer<ArvCamera>
    /// The camera's name in messages.
    let device: String

    func kind(_ feature: String) -> OperandoArvFeatureKind { operando_arv_feature_kind(camera, feature) }
    func has(_ feature: String) -> Bool { kind(feature) != OPERANDO_ARV_FEATURE_MISSING }

    /// The first of `names` the device has (SFNC names before their deprecated aliases).
    func first(of names: [String]) -> String? { names.first(where: has) }

    func missing(_ feature: String, _ purpose: String) -> CameraError {
        .invalidSetting(device: device, setting: feature,
                        reason: "the device has no GenICam feature \"\(feature)\" (needed to \(purpose))")
    }

    func require(_ feature: String, _ kind: OperandoArvFeatureKind, _ purpose: String) throws {
        let k = self.kind(feature)
        guard k != OPERANDO_ARV_FEATURE_MISSING else { throw missing(feature, purpose) }
        guard k == kind else {
            throw CameraError.invalidSetting(device: device, setting: feature,
                                             reason: "GenICam node is a \(Self.name(k)), expected a \(Self.name(kind))")
        }
    }

    static func name(_ k: OperandoArvFeatureKind) -> String {
        switch k {
        case OPERANDO_ARV_FEATURE_INTEGER: return "integer"
        case OPERANDO_ARV_FEATURE_FLOAT: return "float"
        case OPERANDO_ARV_FEATURE_ENUMERATION: return "enumeration"
        case OPERANDO_ARV_FEATURE_COMMAND: return "command"
        case OPERANDO_ARV_FEATURE_BOOLEAN: return "boolean"
        case OPERANDO_ARV_FEATURE_STRING: return "string"
        case OPERANDO_ARV_FEATURE_MISSING: return "missing node"
        default: return "other node"
        }
    }

    // MARK: Enumerations

    /// The entries the device offers now (available, not just declared).
    func entries(_ feature: String) throws -> [String] {
        try require(feature, OPERANDO_ARV_FEATURE_ENUMERATION, "list its entries")
        var n: guint = 0
        let list = try aravisCall(device, "list \(feature) entries") {
            arv_camera_dup_available_enumerations_as_strings(camera, feature, &n, $0)
        }
        guard let list else { return [] }
        defer { g_free(UnsafeMutableRawPointer(mutating: list)) }
        return (0..<Int(n)).compactMap { list[$0].map { String(cString: $0) } }
    }

    func string(_ feature: String) throws -> String {
        let s = try aravisCall(device, "read \(feature)") { arv_camera_get_string(camera, feature, $0) }
        return s.map { String(cString: $0) } ?? ""
    }

    /// Sets an enumeration to `value` after checking it is one of the device's entries; returns the
    /// value read back.
    @discardableResult
    func setEntry(_ feature: String, _ value: String, purpose: String) throws -> String {
        try require(feature, OPERANDO_ARV_FEATURE_ENUMERATION, purpose)
        let offered = try entries(feature)
        guard offered.contains(value) else {
            throw CameraError.invalidSetting(device: device, setting: feature,
                                             reason: "\"\(value)\" is not offered; the device's entries are \(offered.joined(separator: ", "))")
        }
        try aravisCall(device, "set \(feature) = \(value)") { arv_camera_set_string(camera, feature, value, $0) }
        let back = try string(feature)
        guard back == value else {
            throw CameraError.invalidSetting(device: device, setting: feature,
                                             reason: "set to \"\(value)\" but reads back \"\(back)\"")
        }
        return back
    }

    // MARK: Integers

    func integer(_ feature: String) throws -> Int {
        Int(try aravisCall(device, "read \(feature)") { arv_camera_get_integer(camera, feature, $0) })
    }

    func integerRange(_ feature: String) throws -> FeatureRange<Int> {
        try require(feature, OPERANDO_ARV_FEATURE_INTEGER, "read its range")
        var lo: gint64 = 0, hi: gint64 = 0
        try aravisCall(device, "read \(feature) bounds") { arv_camera_get_integer_bounds(camera, feature, &lo, &hi, $0) }
        let inc = try aravisCall(device, "read \(feature) increment") { arv_camera_get_integer_increment(camera, feature, $0) }
        return FeatureRange(min: Int(lo), max: Int(hi), increment: Swift.max(1, Int(inc)))
    }

    /// Checks `value` against the node's min/max/increment, sets it, reads it back.
    @discardableResult
    func setInteger(_ feature: String, _ value: Int, unit: String = "") throws -> Int {
        let r = try integerRange(feature)
        let u = unit.isEmpty ? "" : " \(unit)"
        guard value >= r.min, value <= r.max, (value - r.min) % r.increment == 0 else {
            throw CameraError.invalidSetting(device: device, setting: feature,
                                             reason: "\(value)\(u) is outside the device's range \(r.min)…\(r.max)\(u) in steps of \(r.increment)")
        }
        try aravisCall(device, "set \(feature) = \(value)") { arv_camera_set_integer(camera, feature, gint64(value), $0) }
        return try integer(feature)
    }

    // MARK: Floats

    func float(_ feature: String) throws -> Double {
        try aravisCall(device, "read \(feature)") { arv_camera_get_float(camera, feature, $0) }
    }

    func floatRange(_ feature: String) throws -> FeatureRange<Double> {
        try require(feature, OPERANDO_ARV_FEATURE_FLOAT, "read its range")
        var lo = 0.0, hi = 0.0
        try aravisCall(device, "read \(feature) bounds") { arv_camera_get_float_bounds(camera, feature, &lo, &hi, $0) }
        return FeatureRange(min: lo, max: hi, increment: 0)
    }

    /// Checks `value` against the node's min/max, sets it, reads it back.
    @discardableResult
    func setFloat(_ feature: String, _ value: Double, unit: String) throws -> Double {
        let r = try floatRange(feature)
        guard value.isFinite, value >= r.min, value <= r.max else {
            throw CameraError.invalidSetting(device: device, setting: feature,
                                             reason: "\(format(value)) \(unit) is outside the device's range \(format(r.min))…\(format(r.max)) \(unit)")
        }
        try aravisCall(device, "set \(feature) = \(value)") { arv_camera_set_float(camera, feature, value, $0) }
        return try float(feature)
    }

    /// A number or a range in either an integer or a float node (exposure and gain come in both).
    func numericRange(_ feature: String) throws -> FeatureRange<Double> {
        if kind(feature) == OPERANDO_ARV_FEATURE_INTEGER {
            let r = try integerRange(feature)
            return FeatureRange(min: Double(r.min), max: Double(r.max), increment: Double(r.increment))
        }
        return try floatRange(feature)
    }

    /// Sets an integer or float node; an integer node takes the value rounded to its increment.
    func setNumber(_ feature: String, _ value: Double, unit: String) throws -> Double {
        if kind(feature) == OPERANDO_ARV_FEATURE_INTEGER {
            let r = try integerRange(feature)
            guard value.isFinite, value >= Double(r.min), value <= Double(r.max) else {
                throw CameraError.invalidSetting(device: device, setting: feature,
                                                 reason: "\(format(value)) \(unit) is outside the device's range \(r.min)…\(r.max) \(unit) in steps of \(r.increment)")
            }
            let stepped = r.min + Int(((value - Double(r.min)) / Double(r.increment)).rounded()) * r.increment
            return Double(try setInteger(feature, Swift.min(stepped, r.max), unit: unit))
        }
        return try setFloat(feature, value, unit: unit)
    }

    func execute(_ feature: String) throws {
        try aravisCall(device, "execute \(feature)") { arv_camera_execute_command(camera, feature, $0) }
    }
}

/// `12.5`, `10000`, `1e+07` — short numbers for messages.
func format(_ v: Double) -> String {
    if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
    var s = String(v)
    if s.count > 10, let d = Double(s) { s = String(format: "%.6g", d) }
    return s
}
