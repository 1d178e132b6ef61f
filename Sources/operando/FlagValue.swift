import ConfigFile
import Electrochemistry
import Foundation
import ParticleModel

/// A flag's value that is not what it should be: names the flag, the value and what was expected.
struct FlagValueError: Error, CustomStringConvertible {
    var flag: String
    var value: String
    var expected: String
    var description: String { "\(flag) \(ConfigError.displayText(value)): expected \(expected)" }
}

/// Flag values with units, as the protocol language writes quantities (`0.6um`, `600nm`, `3s`,
/// `1min`, `1.5mg`); a plain number keeps the flag's documented unit. Every command's quantity
/// flags go through here, so `--pixel-size 34.7nm` means the same on analyse as `--size 600nm` on
/// simulate.
enum FlagValue {
    static func positiveNumber(_ text: String, flag: String) throws -> Double {
        guard let v = Double(text.trimmingCharacters(in: .whitespaces)), v.isFinite, v > 0 else {
            throw FlagValueError(flag: flag, value: text, expected: "a finite positive number")
        }
        return v
    }

    static func number(_ text: String, flag: String) throws -> Double {
        guard let v = Double(text.trimmingCharacters(in: .whitespaces)), v.isFinite else {
            throw FlagValueError(flag: flag, value: text, expected: "a finite number")
        }
        return v
    }

    static func positiveInteger(_ text: String, flag: String) throws -> Int {
        guard let v = Int(text.trimmingCharacters(in: .whitespaces)), v > 0 else {
            throw FlagValueError(flag: flag, value: text, expected: "a positive whole number")
        }
        return v
    }

    /// A positive length, µm when plain (`0.6`, `0.6um`, `600nm`, `0.0006mm`).
    static func lengthMicrometres(_ text: String, flag: String) throws -> Double {
        guard let v = ParticleShape.lengthMicrometres(text) else {
            throw FlagValueError(flag: flag, value: text, expected: "a positive length in µm (e.g. 0.6, 0.6um, 600nm)")
        }
        return v
    }

    /// A length that may be 0 (a margin, a PSF width where 0 means none), µm when plain.
    static func nonNegativeLengthMicrometres(_ text: String, flag: String) throws -> Double {
        if let v = Double(text.trimmingCharacters(in: .whitespaces)), v == 0 { return 0 }
        guard let v = ParticleShape.lengthMicrometres(text) else {
            throw FlagValueError(flag: flag, value: text, expected: "a length ≥ 0 in µm (e.g. 0.1, 0.1um, 100nm)")
        }
        return v
    }

    /// A positive duration, s when plain (`10`, `10s`, `1min`, `2 h`).
    static func durationSeconds(_ text: String, flag: String) throws -> Double {
        let t = text.trimmingCharacters(in: .whitespaces)
        if let v = Double(t) {
            guard v.isFinite, v > 0 else { throw FlagValueError(flag: flag, value: text, expected: "a positive duration (e.g. 10, 10s, 1min)") }
            return v
        }
        do {
            let v = try StepParser.duration(t, location: SourceLocation(file: flag))
            guard v.isFinite, v > 0 else { throw FlagValueError(flag: flag, value: text, expected: "a positive duration (e.g. 10, 10s, 1min)") }
            return v
        } catch {
            throw FlagValueError(flag: flag, value: text, expected: "a positive duration (e.g. 10, 10s, 1min)")
        }
    }

    /// A signed time, s when plain (`-2.5`, `-2.5s`, `1min`): an offset between clocks.
    static func signedSeconds(_ text: String, flag: String) throws -> Double {
        var t = text.trimmingCharacters(in: .whitespaces)
        var sign = 1.0
        if t.hasPrefix("-") { sign = -1; t.removeFirst() } else if t.hasPrefix("+") { t.removeFirst() }
        if let v = Double(t), v.isFinite { return sign * v }
        guard let v = try? StepParser.duration(t, location: SourceLocation(file: flag)), v.isFinite else {
            throw FlagValueError(flag: flag, value: text, expected: "a time in seconds (e.g. -2.5, -2.5s, 1min)")
        }
        return sign * v
    }

    /// A positive mass, mg when plain (`1.5`, `1.5mg`, `0.0015g`, `1500ug`).
    static func massMilligrams(_ text: String, flag: String) throws -> Double {
        var t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "")
        var factor = 1.0
        for (unit, f) in [("mg", 1.0), ("µg", 1e-3), ("μg", 1e-3), ("ug", 1e-3), ("g", 1e3)] where t.hasSuffix(unit) {
            t = String(t.dropLast(unit.count)); factor = f; break
        }
        guard let v = Double(t), v.isFinite, v > 0, ProtocolFile.Ranges.activeMassMilligrams.contains(v * factor) else {
            throw FlagValueError(flag: flag, value: text, expected: "a positive mass up to 10 g (e.g. 1.5, 1.5mg, 0.0015g)")
        }
        return v * factor
    }

    /// A specific capacity, mAh/g when plain (`210`, `210mAh/g`, `0.21Ah/g`).
    static func specificCapacity(_ text: String, flag: String) throws -> Double {
        var t = text.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: " ", with: "")
        var factor = 1.0
        if t.hasSuffix("mAh/g") { t = String(t.dropLast(5)) } else if t.hasSuffix("Ah/g") { t = String(t.dropLast(4)); factor = 1e3 }
        guard let v = Double(t), v.isFinite, v > 0, v * factor <= 10_000 else {
            throw FlagValueError(flag: flag, value: text, expected: "a positive capacity in mAh/g (e.g. 210, 210mAh/g)")
        }
        return v * factor
    }
}
