import Foundation

/// A JSON value, for the parts of dataset files whose shape is open (the rig configuration in run.json,
/// an event's fields, the timing report's histogram).
public enum JSONValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Converts Foundation's JSON objects (`JSONSerialization`) and Swift literals.
    public init(_ any: Any?) {
        switch any {
        case nil, is NSNull: self = .null
        case let v as JSONValue: self = v
        case let n as NSNumber:
            // JSONSerialization's NSNumbers wrap booleans too: their type code is "c" (char).
            if String(cString: n.objCType) == "c" { self = .bool(n.boolValue) } else { self = .number(n.doubleValue) }
        case let b as Bool: self = .bool(b)
        case let i as Int: self = .number(Double(i))
        case let i as Int64: self = .number(Double(i))
        case let d as Double: self = .number(d)
        case let s as String: self = .string(s)
        case let a as [Any]: self = .array(a.map { JSONValue($0) })
        case let a as [Any?]: self = .array(a.map { JSONValue($0) })
        case let o as [String: Any]: self = .object(o.mapValues { JSONValue($0) })
        case let o as [String: Any?]: self = .object(o.mapValues { JSONValue($0) })
        default: self = .string("\(any!)")
        }
    }

    /// As Foundation objects for `JSONSerialization` (non-finite numbers become null: JSON has none).
    public var foundationObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let b): return b
        case .number(let d):
            guard d.isFinite else { return NSNull() }
            if d == d.rounded(), abs(d) < 1e15 { return Int(d) }
            return d
        case .string(let s): return s
        case .array(let a): return a.map(\.foundationObject)
        case .object(let o): return o.mapValues(\.foundationObject)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// The number, if this is one.
    public var number: Double? { if case .number(let d) = self { return d }; return nil }
    /// The string, if this is one.
    public var string: String? { if case .string(let s) = self { return s }; return nil }
    /// The Boolean, if this is one.
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    /// The object, if this is one.
    public var object: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }
    /// The array, if this is one.
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let d): if d.isFinite { try c.encode(d) } else { try c.encodeNil() }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// Compact JSON text with sorted keys.
    public var description: String { (try? JSONText.encode(self, pretty: false)) ?? "null" }
}

/// The one JSON text encoder/decoder of dataset files.
public enum JSONText {
    /// JSON text of `value`, keys sorted; pretty-printed for whole files, compact for JSONL lines.
    public static func encode(_ value: JSONValue, pretty: Bool) throws -> String {
        let object = value.foundationObject
        let options: JSONSerialization.WritingOptions = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        let data: Data
        if JSONSerialization.isValidJSONObject(object) {
            data = try JSONSerialization.data(withJSONObject: object, options: options)
        } else {
            data = try JSONSerialization.data(withJSONObject: [object], options: options).dropFirst().dropLast()
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses JSON text from `path`'s contents.
    public static func decode(_ data: Data, path: String) throws -> JSONValue {
        do {
            return JSONValue(try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]))
        } catch {
            throw DatasetError.badFile(path: path, line: 0, text: "not valid JSON", expected: "a JSON document")
        }
    }

    /// Reads and parses the JSON file at `path`.
    public static func read(_ path: String) throws -> JSONValue {
        try decode(try DurableFile.read(path), path: path)
    }
}
