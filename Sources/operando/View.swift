import ArgumentParser
import Dataset
import Foundation
import Glibc
import LiveView
import Rig

/// `operando view DATASET`: the live view's page for a finished dataset, or one still being written
/// (it follows new rows and frames until run_ended).
struct View: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the live view's page for a dataset (finished, or still growing: it follows new rows and frames).",
        discussion: """
        Listens on 127.0.0.1:8642 by default; from another machine use an SSH tunnel \
        (ssh -L 8642:127.0.0.1:8642 rig) or --live 0.0.0.0:8642, which requires a token (--live-token, \
        or one is generated and printed once). Stop with Ctrl-C. See docs/live.md.
        """)

    @Argument(help: "Dataset directory (NAME.operando/).")
    var dataset: String

    @Option(name: .customLong("live"), help: "Address to listen on, HOST:PORT.")
    var live: String = "127.0.0.1:8642"

    @Option(name: .customLong("live-token"), help: "Token every request must carry (required off loopback; generated when not given).")
    var liveToken: String?

    func run() throws {
        let server: LiveViewServer
        let follower: DatasetFollower
        do {
            let (host, port) = try LiveViewConfiguration.parse(address: live)
            let (config, generated) = try LiveViewConfiguration(host: host, port: port, token: liveToken, allowsStop: false).resolved()
            server = try LiveViewServer(configuration: config)
            follower = try DatasetFollower(directory: dataset, history: server.history)
            try server.start()
            if generated { Terminal.write("live view token (printed once): \(config.token ?? "")\n") }
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        follower.start()
        // The URL on stdout, so a script (or a test) can read it; the rest is for the person.
        let line = "live view: \(server.url)\n"
        _ = line.withCString { Glibc.write(STDOUT_FILENO, $0, strlen($0)) }
        Terminal.write("serving \(dataset)\(follower.reader.isBeingWritten ? " (following the run)" : ""); Ctrl-C stops\n")
        RunInterrupt.install()
        while RunInterrupt.received.load(ordering: .relaxed) == 0 { usleep(100_000) }
        follower.stop()
        server.stop()
    }
}
