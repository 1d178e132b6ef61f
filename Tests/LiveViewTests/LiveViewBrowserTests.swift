import Dataset
import Foundation
@testable import LiveView
import Rig
import Testing

// A real browser (Debian's chromium, headless) loads the page served for a short simulated dataset,
// as `operando view` serves it: the screenshot must show both images and the curves, and the numbers
// the page prints must be monitor.csv's.

/// Runs a program; returns its stdout (stderr discarded), failing on a non-zero exit.
private func run(_ path: String, _ arguments: [String], timeoutSeconds: Double = 60) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = arguments
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    // Read while it runs: a large DOM would fill the pipe.
    let data = try out.fileHandleForReading.readToEnd() ?? Data()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw LiveViewError.cannotStart(address: path, reason: "exit status \(p.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}

private let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Pixel statistics of a PNG inside rectangles (python3's zlib decodes it; no image library needed).
private let pixelScript = #"""
import json, struct, sys, zlib
data = open(sys.argv[1], "rb").read()
pos, idat, w, h = 8, b"", 0, 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
    if kind == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT": idat += body
bpp = {2: 3, 6: 4}[ctype]
raw, stride = zlib.decompress(idat), w * bpp
rows, prev, i = [], bytearray(stride), 0
for y in range(h):
    f = raw[i]; line = bytearray(raw[i + 1:i + 1 + stride]); i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0; b = prev[x]; c = prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(line); prev = line
rects, colours = json.loads(sys.argv[2]), json.loads(sys.argv[3])
out = {"width": w, "height": h}
for name, (x0, y0, rw, rh) in rects.items():
    background, distinct, near = 0, set(), {k: 0 for k in colours}
    for y in range(max(0, y0), min(h, y0 + rh)):
        line = rows[y]
        for x in range(max(0, x0), min(w, x0 + rw)):
            px = tuple(line[x * bpp:x * bpp + 3])
            if px in ((255, 255, 255), (200, 203, 208)): background += 1
            else: distinct.add(px)
            for k, (r, g, b) in colours.items():
                if abs(px[0] - r) + abs(px[1] - g) + abs(px[2] - b) < 60: near[k] += 1
    area = max(1, rw * rh)
    out[name] = {"foreground": 1 - background / area, "colours": len(distinct), "near": near}
print(json.dumps(out))
"""#

@Suite(.serialized) struct LiveViewBrowserTests {
    @Test func chromiumDrawsTheImagesAndCurvesAndPrintsMonitorNumbers() async throws {
        let browser = try #require(chromium, "chromium is not installed (make deps installs it)")
        let dir = try TestDirectory(); defer { dir.remove() }
        let dataset = dir.file("browser.operando")
        let engine = try makeEngine(try shortProtocol(minutes: 2), directory: dataset)
        let summary = try await runOnThread(engine)
        #expect(summary.outcome == .completed)

        // What `operando view` does: a loopback server fed by a follower of the dataset.
        let server = try LiveViewServer(configuration: LiveViewConfiguration(host: "127.0.0.1", port: 0))
        let follower = try DatasetFollower(directory: dataset, history: server.history)
        try server.start()
        defer { server.stop() }
        follower.start()
        defer { follower.stop() }
        #expect(follower.waitUntilEnded(timeoutSeconds: 20), "the follower read run_ended")
        let url = "http://127.0.0.1:\(try #require(server.port))/"

        let profile = dir.file("chromium-profile")
        let common = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(profile)",
                      "--window-size=1280,900", "--virtual-time-budget=5000", "--force-device-scale-factor=1"]
        let png = dir.file("live.png")
        // Headless chromium's virtual time runs the page's timers at once, but the WebSocket's data
        // arrives in real time: on a loaded machine a first load can end before the history came. Load
        // again (at most three times) until the page shows a frame; the checks below then apply.
        var dom = ""
        for _ in 0..<3 {
            _ = try run(browser, common + ["--screenshot=\(png)", url])
            dom = try run(browser, common + ["--dump-dom", url])
            if dom.contains("id=\"latest-frame\""), let r = dom.range(of: "id=\"latest-frame\""),
               dom[r.upperBound...].prefix(300).contains("data-value=\"") { break }
        }
        #expect(FileManager.default.fileExists(atPath: png))

        // The numbers on the page are monitor.csv's last row.
        func dataValue(_ id: String) -> String? {
            guard let r = dom.range(of: "id=\"\(id)\"") else { return nil }
            let tail = dom[r.upperBound...].prefix(300)
            guard let v = tail.range(of: "data-value=\"") else { return nil }
            return String(tail[v.upperBound...].prefix { $0 != "\"" })
        }
        let monitor = try DatasetReader(dataset).monitor()
        let last = try #require(monitor.last)
        #expect(dataValue("latest-frame") == String(last.frame))
        let dI = try #require(dataValue("latest-dI").flatMap(Double.init), "ΔI/I₀ on the page")
        #expect(abs(dI - last.intensityChange) <= 1e-5 * max(1, abs(last.intensityChange)))
        let sdc = try #require(dataValue("latest-sdc").flatMap(Double.init), "SDC σ on the page")
        #expect(abs(sdc - last.sdcStd) <= 1e-5 * max(1e-3, abs(last.sdcStd)))
        #expect(dataValue("latest-het") == (last.heterogeneous ? "1" : "0"))
        // The contrast image is against the dataset's first frame, not the first the follower read.
        let contrastMean = try #require(server.history.latestContrastMean)
        #expect(abs(contrastMean) > 1e-3, "ΔI/I₀ image mean \(contrastMean): the reference is the first frame")
        #expect(dom.contains("step_started") && dom.contains("run ended"), "the event log lists the run's events")

        // The layout the page reported, then pixel statistics of the screenshot in those rectangles.
        let start = try #require(dom.range(of: "<pre id=\"layout\" hidden=\"\">"))
        let end = try #require(dom.range(of: "</pre>", range: start.upperBound..<dom.endIndex))
        let layoutText = String(dom[start.upperBound..<end.lowerBound]).replacingOccurrences(of: "&quot;", with: "\"")
        let layout = try #require(try JSONSerialization.jsonObject(with: Data(layoutText.utf8)) as? [String: Any])
        #expect(layout["rows"] as? Int == monitor.count, "every monitor row reached the page")
        let rects = try #require(layout["rects"] as? [String: [Int]])
        let rectsJSON = String(decoding: try JSONSerialization.data(withJSONObject: rects), as: UTF8.self)
        let colours = #"{"dI": [106, 27, 154], "V": [30, 90, 168], "I": [194, 24, 91], "sdc": [0, 121, 107]}"#
        let statsText = try run("/usr/bin/env", ["python3", "-c", pixelScript, png, rectsJSON, colours])
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(statsText.utf8)) as? [String: Any])
        #expect(stats["width"] as? Int == 1280)
        func region(_ name: String) -> [String: Any] { stats[name] as? [String: Any] ?? [:] }
        func near(_ name: String, _ colour: String) -> Int { (region(name)["near"] as? [String: Int])?[colour] ?? 0 }
        // The raw frame fills its square; the contrast image is coloured over the particle only (grey elsewhere).
        #expect((region("raw")["foreground"] as? Double ?? 0) > 0.3, "the raw frame has drawn (\(region("raw")))")
        #expect((region("contrast")["foreground"] as? Double ?? 0) > 0.02, "the contrast image has drawn (\(region("contrast")))")
        for image in ["contrast", "raw"] {
            #expect((region(image)["colours"] as? Int ?? 0) > 20, "\(image): more than a flat fill (\(region(image)))")
        }
        #expect(near("plot-dI", "dI") > 50, "the ΔI/I₀ curve has drawn")
        #expect(near("plot-echem", "V") > 50 && near("plot-echem", "I") > 50, "voltage and current curves have drawn")
        #expect(near("plot-sdc", "sdc") > 50, "the SDC σ curve has drawn")
    }
}
