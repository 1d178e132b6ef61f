import Foundation

/// A small JSON text builder for the live view's messages: they are built many times a second on the
/// live view's own thread, so they are written straight into a string (no Foundation object tree).
/// Non-finite numbers become `null` (JSON has no NaN).
struct JSONWriter {
    private(set) var text = ""
    private var needsComma: [Bool] = [false]

    init() { text.reserveCapacity(256) }

    private mutating func separator() {
        if needsComma[needsComma.count - 1] { text += "," }
        needsComma[needsComma.count - 1] = true
    }

    mutating func beginObject() { valuePrefix(); text += "{"; needsComma.append(false) }
    mutating func endObject() { text += "}"; needsComma.removeLast() }
    mutating func beginArray() { valuePrefix(); text += "["; needsComma.append(false) }
    mutating func endArray() { text += "]"; needsComma.removeLast() }

    /// A key inside an object; the next value written is its value.
    mutating func key(_ k: String) {
        separator()
        Self.appendString(k, to: &text)
        text += ":"
        afterKey = true
    }
    private var afterKey = false

    mutating func number(_ x: Double) { valuePrefix(); Self.appendNumber(x, to: &text) }
    mutating func int(_ x: Int) { valuePrefix(); text += String(x) }
    mutating func bool(_ b: Bool) { valuePrefix(); text += b ? "true" : "false" }
    mutating func string(_ s: String) { valuePrefix(); Self.appendString(s, to: &text) }
    mutating func null() { valuePrefix(); text += "null" }
    /// Already-encoded JSON text.
    mutating func raw(_ json: String) { valuePrefix(); text += json }

    private mutating func valuePrefix() {
        if afterKey { afterKey = false } else { separator() }
    }

    static func appendNumber(_ x: Double, to text: inout String) {
        guard x.isFinite else { text += "null"; return }
        if x == x.rounded(), abs(x) < 1e15 { text += String(Int64(x)); return }
        text += String(format: "%.6g", x)
    }

    static func appendString(_ s: String, to text: inout String) {
        text += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "<": text += "\\u003c"   // never closes a <script> when embedded
            default:
                if u.value < 0x20 { text += String(format: "\\u%04x", u.value) } else { text.unicodeScalars.append(u) }
            }
        }
        text += "\""
    }
}

extension JSONWriter {
    /// Begins `"k": {`.
    mutating func beginObject(_ k: String) { key(k); beginObject() }
    /// Begins `"k": [`.
    mutating func beginArray(_ k: String) { key(k); beginArray() }
    mutating func field(_ k: String, _ x: Double) { key(k); number(x) }
    mutating func field(_ k: String, _ x: Int) { key(k); int(x) }
    mutating func field(_ k: String, _ b: Bool) { key(k); bool(b) }
    mutating func field(_ k: String, _ s: String) { key(k); string(s) }
    mutating func field(_ k: String, _ x: Double?) { key(k); if let x { number(x) } else { null() } }
}
