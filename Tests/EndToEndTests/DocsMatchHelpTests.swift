import Foundation
import Testing

// Every `operando COMMAND … --flag` that the README and docs/ name must exist in that command's
// --help (issue 16: docs true to the code). A doc naming a flag the binary does not have fails here.

private func help(_ command: [String]) throws -> String {
    let r = try runOperando(command + ["--help"])
    return r.out + r.err
}

/// The repository's root (this file is Tests/EndToEndTests/…).
private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// (command words, flags) for every `operando …` mention inside backticks or code blocks.
private func mentions() throws -> [(file: String, command: [String], flags: [String])] {
    var files = [root.appendingPathComponent("README.md")]
    let docs = root.appendingPathComponent("docs")
    // interfaces.md is the contract, which also lists what is planned; the guides describe what is built.
    for name in try FileManager.default.contentsOfDirectory(atPath: docs.path) where name.hasSuffix(".md") && name != "interfaces.md" {
        files.append(docs.appendingPathComponent(name))
    }
    let subcommands = ["demo", "run", "simulate", "analyse", "calibrate", "report", "params", "devices", "gpio", "sim-serve",
                       "export", "import", "view"]
    var out: [(String, [String], [String])] = []
    for url in files {
        let text = try String(contentsOf: url, encoding: .utf8)
        for raw in text.components(separatedBy: "\n") {
            var line = Substring(raw)
            while let r = line.range(of: "operando ") {
                let rest = line[r.upperBound...]
                let end = rest.firstIndex(where: { $0 == "`" || $0 == "|" || $0 == ")" || $0 == "#" }) ?? rest.endIndex
                let words = rest[..<end].split(separator: " ").map(String.init)
                line = rest
                guard let first = words.first, subcommands.contains(first) else { continue }
                var command = [first]
                if first == "sim-serve", words.count > 1, ["scpi", "methodscript"].contains(words[1]) { command.append(words[1]) }
                let flags = words.filter { $0.hasPrefix("--") }.map { String($0.prefix { $0 != "=" && $0 != "[" && $0 != "]" && $0 != "," }) }
                out.append((url.lastPathComponent, command, flags))
            }
        }
    }
    return out
}

@Test func everyCommandAndFlagTheDocsNameExists() throws {
    let all = try mentions()
    #expect(all.count > 20)   // the docs do name commands
    var helps: [String: String] = [:]
    for m in all {
        let key = m.command.joined(separator: " ")
        if helps[key] == nil { helps[key] = try help(m.command) }
        let text = helps[key]!
        #expect(!text.contains("Unknown subcommand") && !text.contains("Error:"), "\(m.file): operando \(key) does not exist")
        for f in m.flags where f.count > 2 {
            #expect(text.contains(f), "\(m.file): operando \(key) has no \(f)")
        }
    }
}
