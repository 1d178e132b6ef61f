import Dataset
import Foundation
import Testing
@testable import Imaging

/// A core–shell delithiation front (seed Fig. 2B): the rim brightens by 4 % first and the front moves
/// inwards, reaching the centre at frame `centreFrame`; a slow uniform rise rides on top. At constant
/// current the delithiated area grows linearly in time, so the front's elliptical radius is
/// ρ_f = √(1 − k/k_c) (it speeds up towards the centre). ρ is the elliptical radius (1 on the rim).
struct CoreShell {
    var centreFrame = 90.0
    var shellContrast = 0.04
    var uniformPerFrame = 0.0004
    var semiAxes = (a: 22.0, b: 15.0)

    func contrast(_ x: Double, _ y: Double, _ k: Int) -> Double {
        let rho = ((x / semiAxes.a) * (x / semiAxes.a) + (y / semiAxes.b) * (y / semiAxes.b)).squareRoot()
        let front = Double(k) < centreFrame ? (1 - Double(k) / centreFrame).squareRoot() : -1
        return shellContrast / (1 + exp(-(rho - front) / 0.04)) + uniformPerFrame * Double(k)
    }

    var stack: SyntheticStack {
        var s = SyntheticStack()
        let field = self
        s.contrast = { x, y, k in field.contrast(x, y, k) }
        s.drift = realisticDrift
        return s
    }
}

func readCSV(_ path: String) throws -> (header: String, rows: [[String]]) {
    let text = try String(contentsOfFile: path, encoding: .utf8)
    let lines = text.split(separator: "\n").map(String.init)
    return (lines[0], lines.dropFirst().map { $0.split(separator: ",").map(String.init) })
}

/// One synthetic analysis shared by several tests (writing and analysing it is the slow part).
let coreShellRun: Result<(summary: AnalysisSummary, field: CoreShell, stackPath: String), Error> = Result {
    let field = CoreShell()
    let path = temporaryDirectory("coreShell").appendingPathComponent("stack.tif").path
    try field.stack.write(to: path, frameCount: 160, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 3)
    var options = AnalysisOptions()
    options.sdcLagFrames = 20
    let summary = try DatasetAnalysis.run(input: path, options: options)
    return (summary, field, path)
}

@Test func analyseWritesTheFilesInterfacesDefines() throws {
    let (summary, _, stackPath) = try coreShellRun.get()
    #expect(summary.outputDirectory == stackPath.replacingOccurrences(of: "stack.tif", with: "stack.analysis"))
    let out = URL(fileURLWithPath: summary.outputDirectory)
    let drift = try readCSV(out.appendingPathComponent("drift.csv").path)
    #expect(drift.header == "frame,dx_px,dy_px" && drift.rows.count == 160)
    let metrics = try readCSV(out.appendingPathComponent("metrics.csv").path)
    #expect(metrics.header == "frame,time_s,intensity_change,sdc_std,contrast_centre" && metrics.rows.count == 160)
    #expect(metrics.rows[0][1] == "1.5")  // frame 0 spans 0–3 s: reported at its midpoint
    #expect(metrics.rows[5][3] == "nan" && metrics.rows[25][3] != "nan")  // SDC needs k ≥ lag
    let profiles = try readCSV(out.appendingPathComponent("profiles.csv").path)
    #expect(profiles.header == "frame,time_s,position_um,contrast")
    #expect(profiles.rows.contains { $0[0] == "0" && $0[2] == "0" })  // position 0 at the centroid
    let contrast = try TIFFStackReader(path: out.appendingPathComponent("contrast.tif").path)
    #expect(contrast.info.frameCount == 160)
    #expect(abs((contrast.info.pixelSizeMicrometres ?? 0) - 0.0347) < 1e-6)
    let c0 = try contrast.readFrame(0)
    // Cropped to the particle's bounding box + 16 px (issue 16): the 44 × 30 px particle at (52, 64).
    let r = summary.contrastRegion
    #expect(contrast.info.width == r.width && contrast.info.height == r.height)
    #expect(r.width < 128 && abs(r.x - (52 - 22 - 16)) <= 2 && abs(r.width - (44 + 32)) <= 3)
    #expect(c0[0, 0].isNaN)  // outside the mask
    #expect(abs(c0[52 - r.x, 64 - r.y]) < 1e-6)  // frame 0 against itself
    let mask = try TIFFStackReader(path: out.appendingPathComponent("mask.tif").path)
    #expect(try mask.readFrame(0)[52, 64] == 1)
    #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("summary.json").path))
}

@Test func analyseRecoversDriftWithSignOfInterfacesWithinFiveHundredthsRMS() throws {
    let (summary, _, _) = try coreShellRun.get()
    let drift = try readCSV(URL(fileURLWithPath: summary.outputDirectory).appendingPathComponent("drift.csv").path)
    var squared = 0.0
    for row in drift.rows {
        let k = Int(row[0])!
        let truth = realisticDrift(k)
        let t0 = realisticDrift(0)
        squared += pow(Double(row[1])! - (truth.dx - t0.dx), 2) + pow(Double(row[2])! - (truth.dy - t0.dy), 2)
    }
    let rms = (squared / Double(drift.rows.count)).squareRoot()
    print("analyse drift RMS error over 160 frames: \(rms) px")
    #expect(rms <= 0.05)
    if case .fiducial = summary.driftMethod {} else { Issue.record("expected the fiducial to be found") }
}

@Test func centreContrastAndIntensityChangeMatchThePrescribedField() throws {
    let (summary, field, _) = try coreShellRun.get()
    let c = summary.centroidPixels
    // The particle centre of the synthetic scene is (52, 64); the mask's centroid must sit on it.
    #expect(abs(c.x - 52) < 0.2 && abs(c.y - 64) < 0.2)
    let mask = try Masking.particleMask(field.stack.frame(0), source: "synthetic")
    var worstCentre = 0.0, worstMean = 0.0, worstCentreIdeal = 0.0, worstMeanIdeal = 0.0
    // The same scene without drift and noise: what a perfect pipeline would measure through the PSF.
    var ideal = field.stack
    ideal.drift = { _ in (0, 0) }
    ideal.noiseSigma = 0
    let ideal0 = ideal.frame(0)
    for k in stride(from: 0, to: 160, by: 7) {
        let idealContrast = ContrastMetrics.totalContrast(ideal.frame(k), reference: ideal0, mask: mask)
        worstCentreIdeal = max(worstCentreIdeal, abs(summary.centreContrast[k] - ContrastMetrics.diskMean(idealContrast, centre: c)))
        worstMeanIdeal = max(worstMeanIdeal, abs(summary.intensityChange[k] - ContrastMetrics.normalisedIntensityChange(idealContrast, mask: mask)))
        // Prescribed values, averaged over the same pixels the analysis uses.
        var sumDisk = 0.0, nDisk = 0.0, sumMask = 0.0
        for y in 0..<128 { for x in 0..<128 {
            let dx = Double(x) - c.x, dy = Double(y) - c.y
            if dx * dx + dy * dy <= 9 { sumDisk += field.contrast(Double(x) - 52, Double(y) - 64, k); nDisk += 1 }
            if mask[x, y] { sumMask += field.contrast(Double(x) - 52, Double(y) - 64, k) }
        } }
        worstCentre = max(worstCentre, abs(summary.centreContrast[k] - sumDisk / nDisk))
        worstMean = max(worstMean, abs(summary.intensityChange[k] - sumMask / Double(mask.areaPixels)))
    }
    print("vs prescribed field: worst centre-contrast error \(worstCentre), worst intensity-change error \(worstMean)")
    print("vs drift- and noise-free render: centre \(worstCentreIdeal), intensity change \(worstMeanIdeal)")
    // Against the prescribed field the PSF (σ = 1 px) blurs the sharp front at the centre and mixes
    // background into rim pixels, so a few 0.001 of a 0.04 front step remain; against the same scene
    // imaged without drift and noise the pipeline itself must be nearly exact.
    #expect(worstCentre < 0.005)
    #expect(worstMean < 0.01)
    #expect(worstCentreIdeal < 0.0015)
    #expect(worstMeanIdeal < 0.0005)
}

@Test func sdcStandardDeviationDropsWhenTheFrontReachesTheCentre() throws {
    let (summary, field, _) = try coreShellRun.get()
    let drop = try #require(summary.sdcDropTimeSeconds)
    let prescribed = field.centreFrame * 3 + 1.5  // frame midpoint times, 3 s frames
    print("SDC drop at \(drop) s, prescribed \(prescribed) s")
    #expect(abs(drop - prescribed) < 4 * 3)  // within four frames (lag 20)
}

@Test func datasetDirectoryWithDroppedFrameKeepsTimeAndMarksIt() throws {
    let dir = temporaryDirectory("dataset").appendingPathComponent("run.operando")
    try? FileManager.default.removeItem(at: dir)
    // Written as a run writes it: two chunks of five frames, frame 6 dropped (no exposures, NaN page).
    let writer = try RunWriter(creating: dir.path, runInfo: testRunInfo(pixelSizeMicrometres: 0.05, binning: 30), framesPerChunk: 5)
    let stack = CoreShell().stack
    for frame in 0..<10 {
        let dropped = frame == 6
        try writer.appendFrame(dropped ? BinnedFrame(width: 128, height: 128, repeating: .nan) : stack.frame(frame),
                               record: FrameRecord(frame: frame, chunk: 0, page: 0, startSeconds: Double(frame) * 3,
                                                   endSeconds: Double(frame) * 3 + 3, exposures: dropped ? 0 : 30,
                                                   ledOnFraction: 1, step: 1))
    }
    try writer.close()
    var options = AnalysisOptions()
    options.sdcLagFrames = 2
    var lines: [String] = []
    let summary = try DatasetAnalysis.run(input: dir.path, options: options) { lines.append($0) }
    #expect(summary.outputDirectory == dir.appendingPathComponent("analysis").path)
    #expect(summary.pixelSizeMicrometres == 0.05)
    #expect(summary.frameCount == 10 && summary.droppedFrames == [6])
    #expect(summary.timesSeconds[7] == 22.5)  // no shift after the dropped frame
    #expect(summary.intensityChange[6].isNaN && summary.intensityChange[7].isFinite)
    #expect(summary.sdcStandardDeviation[8].isNaN && summary.sdcStandardDeviation[9].isFinite)
    #expect(lines.contains { $0.contains("fiducial") })
}

@Test func binningInAnalysisAveragesFramesAndKeepsTime() throws {
    let path = temporaryDirectory("binning").appendingPathComponent("s.tif").path
    try CoreShell().stack.write(to: path, frameCount: 12, frameIntervalSeconds: 0.1)
    var options = AnalysisOptions()
    options.binFrames = 4
    options.sdcLagFrames = 1
    let summary = try DatasetAnalysis.run(input: path, options: options)
    #expect(summary.frameCount == 3)
    #expect(summary.timesSeconds.map { ($0 * 1000).rounded() / 1000 } == [0.2, 0.6, 1.0])
}

@Test func badInputsGiveErrorsNamingTheInputAndTheExpectation() throws {
    #expect { _ = try DatasetAnalysis.run(input: "/no/such/stack.tif") } throws: { e in
        let text = (e as? DatasetError)?.description ?? ""
        return text.contains("/no/such/stack.tif") && text.contains("expected")
    }
    #expect { _ = try AnalysisOptions.parsePoint("12;x", option: "--fiducial") } throws: { e in
        (e as? ImagingError)?.description == "--fiducial \"12;x\": expected two pixel coordinates x,y such as 120,45.5"
    }
    #expect(try AnalysisOptions.parsePoint(" 3.5, 7 ", option: "--fiducial") == (3.5, 7))
    // A dataset that recorded no frames has nothing to analyse: the error names its frame index.
    let empty = temporaryDirectory("empty").appendingPathComponent("e.operando")
    try? FileManager.default.removeItem(at: empty)
    try RunWriter(creating: empty.path, runInfo: testRunInfo(pixelSizeMicrometres: 0.05, binning: 1)).close()
    #expect { _ = try DatasetAnalysis.run(input: empty.path) } throws: { e in
        guard let e = e as? DatasetError, case .missingFile = e else { return false }
        return e.description.contains("frames.csv") && e.description.contains("no recorded frames")
    }
    var options = AnalysisOptions()
    options.particleAt = (2, 2)
    let (_, _, stackPath) = try coreShellRun.get()
    #expect { _ = try DatasetAnalysis.run(input: stackPath, options: options) } throws: { e in
        (e as? ImagingError)?.description.contains("pixel 2,2 is below the threshold") == true
    }
    options = AnalysisOptions()
    options.sdcLagFrames = 0
    #expect { _ = try DatasetAnalysis.run(input: stackPath, options: options) } throws: { e in
        (e as? ImagingError)?.description.hasPrefix("--sdc-lag") == true
    }
}

@Test func givenFiducialAndThresholdAreUsedAndMissingFiducialIsReported() throws {
    let dir = temporaryDirectory("options")
    var stack = CoreShell().stack
    let withSpot = dir.appendingPathComponent("spot.tif").path
    try stack.write(to: withSpot, frameCount: 6)
    var options = AnalysisOptions()
    options.fiducial = (103.6, 30.4)
    options.threshold = 2000
    options.sdcLagFrames = 2
    let summary = try DatasetAnalysis.run(input: withSpot, options: options)
    guard case let .fiducial(x, y) = summary.driftMethod else { Issue.record("fiducial not used"); return }
    #expect(abs(x - 104) < 0.1 && abs(y - 30) < 0.1)
    #expect(summary.threshold == 2000)

    stack.fiducial = nil
    let noSpot = dir.appendingPathComponent("nospot.tif").path
    try stack.write(to: noSpot, frameCount: 6)
    var lines: [String] = []
    let fallback = try DatasetAnalysis.run(input: noSpot, options: options.with { $0.fiducial = nil }) { lines.append($0) }
    #expect(fallback.driftMethod == .phaseCorrelation)
    #expect(lines.contains { $0.contains("no fiducial found") && $0.contains("phase correlation") })
    #expect(fallback.notes.contains { $0.contains("phase correlation") })
}

@Test func monitorGivesZeroForFrameZeroAndMarksDroppedFrames() throws {
    let stack = CoreShell().stack
    var options = AnalysisOptions()
    options.sdcLagFrames = 1
    var monitor = try ParticleMonitor(reference: stack.frame(0), options: options, source: "live")
    let m0 = monitor.process(stack.frame(0))
    #expect(m0.driftXPixels == 0 && m0.intensityChange == 0 && m0.sdcStandardDeviation.isNaN)
    let m1 = monitor.process(BinnedFrame(width: 128, height: 128, repeating: .nan))
    #expect(m1.isDropped && m1.frame == 1 && m1.intensityChange.isNaN)
    let m2 = monitor.process(stack.frame(2))
    #expect(m2.frame == 2 && m2.intensityChange > 0 && m2.sdcStandardDeviation.isNaN)  // its k−1 was dropped
    let truth = realisticDrift(2), t0 = realisticDrift(0)
    #expect(abs(m2.driftXPixels - (truth.dx - t0.dx)) < 0.05 && abs(m2.driftYPixels - (truth.dy - t0.dy)) < 0.05)
}

extension AnalysisOptions {
    func with(_ change: (inout AnalysisOptions) -> Void) -> AnalysisOptions {
        var copy = self
        change(&copy)
        return copy
    }
}

@Test func inMemoryStackRunsThroughTheSamePipeline() throws {
    let stack = CoreShell().stack
    let source = InMemoryStack(frames: (0..<8).map { stack.frame($0) }, frameIntervalSeconds: 2, pixelSizeMicrometres: 0.0347)
    var options = AnalysisOptions()
    options.sdcLagFrames = 3
    options.particleAt = try AnalysisOptions.parsePixel("52.4,63.6", option: "--particle-at")
    options.labelParticles = true
    let out = temporaryDirectory().appendingPathComponent("out")
    let summary = try DatasetAnalysis.run(source: source, options: options, outputDirectory: out.path)
    #expect(summary.frameCount == 8 && summary.timesSeconds[1] == 3)
    let labels = try TIFFStackReader(path: out.appendingPathComponent("labels.tif").path).readFrame(0)
    #expect(labels[52, 64] == 1 && labels[0, 0] == 0)
    let json = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("summary.json"))) as? [String: Any]
    #expect((json?["particles"] as? [Any])?.isEmpty == false)
    #expect(summary.sdcStandardDeviation[3].isFinite && summary.sdcStandardDeviation[2].isNaN)
}

@Test func rawSixteenBitStackBinnedByThirtyKeepsDriftWithinFiveHundredths() throws {
    // Seed-like acquisition: noisy raw 16-bit exposures, 30 averaged per analysed frame.
    var stack = CoreShell().stack
    stack.noiseSigma = 40
    let slow: @Sendable (Int) -> (dx: Double, dy: Double) = { n in (0.004 * Double(n), -0.0025 * Double(n)) }
    stack.drift = slow
    let path = temporaryDirectory().appendingPathComponent("raw.tif").path
    let writer = try TIFFStackWriter(path: path, sampleType: .uint16, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 0.1)
    for n in 0..<240 { try writer.append(stack.frame(n)) }
    try writer.close()
    var options = AnalysisOptions()
    options.binFrames = 30
    options.sdcLagFrames = 2
    let summary = try DatasetAnalysis.run(input: path, options: options)
    #expect(summary.frameCount == 8)
    #expect(abs(summary.timesSeconds[1] - 4.5) < 1e-9)  // bin 1 spans 3–6 s
    let drift = try readCSV(URL(fileURLWithPath: summary.outputDirectory).appendingPathComponent("drift.csv").path)
    var squared = 0.0
    for row in drift.rows {
        let bin = Int(row[0])!
        // A binned frame is the mean of 30 positions: its centre moved by the mean drift of the bin,
        // relative to bin 0's mean.
        func mean(_ b: Int) -> (dx: Double, dy: Double) {
            var sx = 0.0, sy = 0.0
            for n in (b * 30)..<(b * 30 + 30) { let d = slow(n); sx += d.dx / 30; sy += d.dy / 30 }
            return (sx, sy)
        }
        let truthX = mean(bin).dx - mean(0).dx, truthY = mean(bin).dy - mean(0).dy
        squared += pow(Double(row[1])! - truthX, 2) + pow(Double(row[2])! - truthY, 2)
    }
    let rms = (squared / Double(drift.rows.count)).squareRoot()
    print("binned raw stack drift RMS error: \(rms) px")
    #expect(rms <= 0.05)
}

/// run.json of a test dataset (firmware-sim-like settings).
func testRunInfo(pixelSizeMicrometres: Double, binning: Int) -> RunInfo {
    RunInfo(softwareVersion: "test", protocolPath: "test.toml", protocolText: "", rig: .null, backend: "test",
            startTimeUTC: "2026-12-01T00:00:00Z", pixelSizeMicrometres: pixelSizeMicrometres, roi: (0, 0, 128, 128),
            binning: binning, frameRateHz: 10, exposureMilliseconds: 2.5, ledLeadMilliseconds: 0.2, ledWavelengthNanometres: 740,
            blackLevelSubtractedCounts: 0, activeMassMilligrams: 1.5, practicalCapacityMilliampHoursPerGram: 210)
}

// MARK: - Issue 16 item 1: SDC σ must not ripple with the drift correction's sub-pixel phase

/// SDC σ of a drifting noise-only field, frame by frame, for one way of resampling the particle's
/// pixels by the (known) drift. Frames k ≥ lag only.
private func sdcOfDriftingNoise(resample: (BinnedFrame, (dx: Double, dy: Double), [Int]) -> [Float],
                                frames: [BinnedFrame], drift: (Int) -> (dx: Double, dy: Double), indices: [Int], lag: Int) -> [Double] {
    let corrected = frames.indices.map { resample(frames[$0], $0 == 0 ? (0, 0) : drift($0), indices) }
    return (lag..<frames.count).map { k in
        var n = 0.0, s = 0.0, s2 = 0.0
        for j in indices.indices {
            let v = Double(corrected[k][j] / corrected[k - lag][j] - 1)
            if v.isFinite { n += 1; s += v; s2 += v * v }
        }
        return (s2 / n - (s / n) * (s / n)).squareRoot()
    }
}

/// Peak-to-peak over mean of `values`, and of their means folded by `period` (the drift phase).
private func ripple(_ values: [Double], firstFrame: Int, period: Int) -> (raw: Double, folded: Double) {
    let mean = values.reduce(0, +) / Double(values.count)
    var sums = [Double](repeating: 0, count: period), counts = [Double](repeating: 0, count: period)
    for (i, v) in values.enumerated() { sums[(firstFrame + i) % period] += v; counts[(firstFrame + i) % period] += 1 }
    let folded = zip(sums, counts).map { $0 / $1 }
    return ((values.max()! - values.min()!) / mean, (folded.max()! - folded.min()!) / mean)
}

/// A uniform field with white noise (nothing but noise changes from frame to frame) drifting
/// 0.15 px per frame along x; the known drift is fed to the correction. Lag 20 frames (the seed's
/// C/30 lag) is 3 px of drift, so frames k and k − lag share their sub-pixel phase: the worst case,
/// where a shift-dependent noise gain does not average out between the pair. The phase repeats
/// every 20 frames; SDC σ is folded over 10 such cycles so that the statistical scatter of a
/// 9,216-pixel standard deviation (≈ 0.7 % per frame) does not hide or fake a ripple.
@Test func sdcOfDriftingNoiseDoesNotRippleWithTheSubpixelPhase() {
    let w = 192, h = 128, lag = 20, period = 20, cycles = 10
    let frameCount = lag + cycles * period
    let drift: (Int) -> (dx: Double, dy: Double) = { k in (0.15 * Double(k), 0) }
    let frames = (0..<frameCount).map { k -> BinnedFrame in
        var rng = SplitMix64(seed: 1000 + UInt64(k))
        return BinnedFrame(width: w, height: h, pixels: (0..<(w * h)).map { _ in Float(3000 + 30 * rng.nextGaussian()) })
    }
    var mask = Mask(width: w, height: h)
    for y in 16..<112 { for x in 16..<112 { mask[x, y] = true } }
    let indices = mask.indices
    let box = PixelRegion(boundingBoxOf: mask)!

    // Today's analysis: the Fourier shift of the particle's box (the pipeline's own code path).
    let kernel = FrameKernel(reference: frames[0], mask: mask, particleBox: box, crop: box.expanded(by: 16, clippedTo: w, h),
                             centroid: mask.centroid!, centreRadiusPixels: 3, profileStart: (16, 64), profileEnd: (111, 64),
                             profileWidthPixels: 3, profileOriginPixels: 0, pixelSizeMicrometres: 0.0347)
    let pipeline = FramePipeline(kernel: kernel, lagFrames: lag, batchFrames: 32, workers: 1)
    var fourier: [Double] = []
    var k = 0
    while k < frameCount {
        let count = min(pipeline.batchFrames, frameCount - k)
        for j in 0..<count {
            let t = TimedFrame(index: k + j, startSeconds: 0, endSeconds: 1, exposures: 1, frame: frames[k + j])
            pipeline.stage(j, frame: k + j, timed: t, drift: k + j == 0 ? (0, 0) : drift(k + j), dropped: false)
        }
        pipeline.process(count)
        for j in 0..<count where k + j >= lag { fourier.append(pipeline.slots[j].sdcStandardDeviation) }
        k += count
    }
    // Before: Keys cubic (what the analysis used) and bilinear (what the issue names).
    let cubic = sdcOfDriftingNoise(resample: { frame, d, idx in
        var out = [Float](repeating: 0, count: idx.count)
        idx.withUnsafeBufferPointer { i in out.withUnsafeMutableBufferPointer { o in
            ImageOps.shiftedSamples(frame, dxPixels: d.dx, dyPixels: d.dy, at: i, into: o)
        } }
        return out
    }, frames: frames, drift: drift, indices: indices, lag: lag)
    let bilinear = sdcOfDriftingNoise(resample: { frame, d, idx in
        idx.map { i in ImageOps.bilinear(frame, x: Double(i % w) + d.dx, y: Double(i / w) + d.dy) }
    }, frames: frames, drift: drift, indices: indices, lag: lag)

    let f = ripple(fourier, firstFrame: lag, period: period)
    let c = ripple(cubic, firstFrame: lag, period: period)
    let b = ripple(bilinear, firstFrame: lag, period: period)
    print(String(format: "SDC σ ripple, drifting noise 0.15 px/frame, lag 20 (peak-to-peak / mean; folded by drift phase | raw over %d frames): "
                 + "Fourier shift %.2f %% | %.2f %%; Keys cubic (before) %.2f %% | %.2f %%; bilinear %.2f %% | %.2f %%",
                 fourier.count, 100 * f.folded, 100 * f.raw, 100 * c.folded, 100 * c.raw, 100 * b.folded, 100 * b.raw))
    #expect(fourier.count == cycles * period && fourier.allSatisfy { $0.isFinite })
    #expect(f.folded <= 0.02)
    // The interpolating resamplers smooth the noise most at half-pixel phases: clearly worse.
    #expect(c.folded >= 0.1 && b.folded >= 0.1)
    #expect(c.folded >= 5 * f.folded)
}

/// Keeps every row and contrast image the analysis hands over.
final class RecordingSink: AnalysisSink {
    var destination: String { "memory" }
    var rows: [AnalysisFrameRow] = []
    var contrast: [[UInt32]] = []
    var profiles: [[AnalysisProfilePoint]] = []
    var layout: AnalysisLayout?
    func begin(_ layout: AnalysisLayout) throws { self.layout = layout }
    func mask(_ mask: Mask) throws {}
    func labels(_ labels: BinnedFrame, count: Int) throws {}
    func frame(_ row: AnalysisFrameRow, contrast: BinnedFrame) throws { rows.append(row); self.contrast.append(contrast.pixels.map(\.bitPattern)) }
    func profile(frame: Int, timeSeconds: Double, points: [AnalysisProfilePoint]) throws { profiles.append(points) }
    func finish(_ summary: AnalysisSummary, contrastDisplayRange: (min: Double, max: Double)?) throws {}
    func abort() {}
}

/// Issue 17: the analysis spreads frames over the cores; the results must be those of one thread,
/// bit for bit (rows, contrast images, profiles, summary series), dropped frames included.
@Test func analysisOnTwoThreadsEqualsTheSerialRun() throws {
    let stack = CoreShell().stack
    var frames = (0..<75).map { stack.frame($0) }
    frames[40] = BinnedFrame(width: 128, height: 128, repeating: .nan)   // a dropped frame
    let source = InMemoryStack(frames: frames, frameIntervalSeconds: 3, pixelSizeMicrometres: 0.0347)
    var runs: [(RecordingSink, AnalysisSummary)] = []
    for threads in [1, 2, 3] {
        var options = AnalysisOptions()
        options.sdcLagFrames = 20
        options.workerThreads = threads
        let sink = RecordingSink()
        runs.append((sink, try Analysis.run(source: source, options: options, sink: sink)))
    }
    let (serial, summary) = runs[0]
    #expect(serial.rows.count == 75 && serial.rows[40].intensityChange.isNaN && serial.rows[70].sdcStandardDeviation.isFinite)
    #expect(summary.droppedFrames == [40])
    func bits(_ xs: [Double]) -> [UInt64] { xs.map(\.bitPattern) }
    for (sink, s) in runs.dropFirst() {
        #expect(sink.rows.map { bits([$0.driftXPixels, $0.driftYPixels, $0.intensityChange, $0.sdcStandardDeviation, $0.centreContrast]) }
                == serial.rows.map { bits([$0.driftXPixels, $0.driftYPixels, $0.intensityChange, $0.sdcStandardDeviation, $0.centreContrast]) })
        #expect(sink.contrast == serial.contrast)
        #expect(sink.profiles.map { bits($0.map(\.contrast)) } == serial.profiles.map { bits($0.map(\.contrast)) })
        #expect(bits(s.sdcStandardDeviation) == bits(summary.sdcStandardDeviation) && s.sdcDropTimeSeconds == summary.sdcDropTimeSeconds)
    }
    // The contrast images are the particle's box + 16 px, and the layout says where.
    let region = try #require(serial.layout?.contrastRegion)
    #expect(region == summary.contrastRegion && serial.contrast[0].count == region.width * region.height)
}

/// Issue 17: a TIFF stack is decoded on every core (each worker with its own reader, storage reused
/// from batch to batch) and the results are still those of one thread, bit for bit — and those of
/// the same frames analysed from memory. 150 frames: several batches and rounds of every stage.
@Test func tiffStackDecodedOnSeveralThreadsEqualsTheSerialRun() throws {
    let stack = CoreShell().stack
    var frames = (0..<150).map { stack.frame($0) }
    frames[70] = BinnedFrame(width: 128, height: 128, repeating: .nan)   // a dropped frame
    let path = temporaryDirectory().appendingPathComponent("stack.tif").path
    let writer = try TIFFStackWriter(path: path, sampleType: .float32, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 3)
    for f in frames { try writer.append(f) }
    try writer.close()
    var options = AnalysisOptions()
    options.sdcLagFrames = 20
    func analyse(_ source: FrameSource, threads: Int) throws -> (RecordingSink, AnalysisSummary) {
        var o = options
        o.workerThreads = threads
        let sink = RecordingSink()
        return (sink, try Analysis.run(source: source, options: o, sink: sink))
    }
    let memory = try analyse(InMemoryStack(frames: frames, frameIntervalSeconds: 3, pixelSizeMicrometres: 0.0347), threads: 1)
    let runs = try [1, 2, 3].map { try analyse(TIFFFrameSource(path: path), threads: $0) }
    func bits(_ xs: [Double]) -> [UInt64] { xs.map(\.bitPattern) }
    func rowBits(_ sink: RecordingSink) -> [[UInt64]] {
        sink.rows.map { bits([$0.timeSeconds, $0.driftXPixels, $0.driftYPixels, $0.intensityChange, $0.sdcStandardDeviation, $0.centreContrast]) }
    }
    #expect(memory.0.rows.count == 150 && memory.1.droppedFrames == [70] && memory.0.rows[149].sdcStandardDeviation.isFinite)
    for (sink, summary) in runs {
        #expect(rowBits(sink) == rowBits(memory.0))
        #expect(sink.contrast == memory.0.contrast)
        #expect(sink.profiles.map { bits($0.map(\.contrast)) } == memory.0.profiles.map { bits($0.map(\.contrast)) })
        #expect(summary.droppedFrames == [70] && bits(summary.sdcStandardDeviation) == bits(memory.1.sdcStandardDeviation))
        #expect(summary.maximumDriftPixels == memory.1.maximumDriftPixels && summary.failedDriftFits == memory.1.failedDriftFits)
    }
}

/// A frame that cannot be decoded mid-stack fails the analysis with that frame's error, whichever
/// worker decoded it, and the sink is told to abort.
@Test func aFrameThatCannotBeReadMidStackFailsTheParallelAnalysis() throws {
    let stack = CoreShell().stack
    let source = FailingSource(frames: InMemoryStack(frames: (0..<60).map { stack.frame($0) }, frameIntervalSeconds: 3), failing: 45)
    for threads in [1, 2] {
        var options = AnalysisOptions()
        options.workerThreads = threads
        let sink = AbortCountingSink()
        #expect(throws: ImagingError.tiffIO(path: "failing", page: 45, reason: "unreadable")) {
            try Analysis.run(source: source, options: options, sink: sink)
        }
        #expect(sink.aborted == 1 && sink.finished == 0)
    }
}

/// Frames from memory, except that frame `failing` cannot be read; readable from several threads.
struct FailingSource: FrameSource {
    var frames: InMemoryStack
    let failing: Int
    var path: String { "failing" }
    var frameCount: Int { frames.frameCount }
    var width: Int { frames.width }
    var height: Int { frames.height }
    var pixelSizeMicrometres: Double? { 0.0347 }
    var frameIntervalSeconds: Double? { 3 }
    mutating func frame(_ index: Int) throws -> TimedFrame {
        if index == failing { throw ImagingError.tiffIO(path: "failing", page: index, reason: "unreadable") }
        return try frames.frame(index)
    }
    func concurrentReader() throws -> FrameSource? { self }
}

/// Counts what the analysis told it.
final class AbortCountingSink: AnalysisSink {
    var destination: String { "memory" }
    var aborted = 0, finished = 0
    func begin(_ layout: AnalysisLayout) throws {}
    func mask(_ mask: Mask) throws {}
    func labels(_ labels: BinnedFrame, count: Int) throws {}
    func frame(_ row: AnalysisFrameRow, contrast: BinnedFrame) throws {}
    func profile(frame: Int, timeSeconds: Double, points: [AnalysisProfilePoint]) throws {}
    func finish(_ summary: AnalysisSummary, contrastDisplayRange: (min: Double, max: Double)?) throws { finished += 1 }
    func abort() { aborted += 1 }
}

/// A TIFF stack that counts how its frames are asked for: a band of rows, or every row.
final class ReadCounts: @unchecked Sendable {
    let lock = NSLock()
    var band: [Int] = [], whole: [Int] = []
    func record(_ index: Int, band isBand: Bool) { lock.lock(); if isBand { band.append(index) } else { whole.append(index) }; lock.unlock() }
}

struct CountingTIFFSource: FrameSource {
    var inner: TIFFFrameSource
    let counts: ReadCounts
    var path: String { inner.path }
    var frameCount: Int { inner.frameCount }
    var width: Int { inner.width }
    var height: Int { inner.height }
    var pixelSizeMicrometres: Double? { inner.pixelSizeMicrometres }
    var frameIntervalSeconds: Double? { inner.frameIntervalSeconds }
    mutating func frame(_ index: Int) throws -> TimedFrame { counts.record(index, band: false); return try inner.frame(index) }
    mutating func frame(_ index: Int, reusing pixels: inout [Float]) throws -> TimedFrame {
        counts.record(index, band: false)
        return try inner.frame(index, reusing: &pixels)
    }
    mutating func frame(_ index: Int, reusing pixels: inout [Float], rows: Range<Int>) throws -> TimedFrame {
        counts.record(index, band: true)
        return try inner.frame(index, reusing: &pixels, rows: rows)
    }
    func concurrentReader() throws -> FrameSource? {
        CountingTIFFSource(inner: try #require(try inner.concurrentReader() as? TIFFFrameSource), counts: counts)
    }
}

/// Issue 17: on a striped stack the analysis decodes only the band of rows around the particle and
/// the fiducial; a frame whose drift carries the work past the band's margin is decoded again
/// whole, and so is every frame after it; a frame with nothing in the band is read whole to tell
/// it is dropped. The results equal those of the same frames from memory, bit for bit, on 1 and 2
/// threads.
@Test func decodingOnlyTheNeededRowsGivesTheWholeFramesResults() throws {
    var stack = SyntheticStack()
    stack.width = 256
    stack.height = 256
    stack.particleCentre = (108, 128)
    stack.particleSemiAxes = (30, 20)
    stack.fiducial = (220, 60)
    stack.contrast = { x, y, k in 0.03 * Double(k) / 120 * (1 - (x * x + y * y) / 900) }
    // Still for 60 frames, then down 0.5 px a frame: past the 8-row margin by frame ~77.
    stack.drift = { k in (0.3 * sin(Double(k) / 9), k < 60 ? 0.2 * sin(Double(k) / 7) : 0.5 * Double(k - 60)) }
    var frames = (0..<120).map { stack.frame($0) }
    frames[45] = BinnedFrame(width: 256, height: 256, repeating: .nan)   // dropped
    var offBand = BinnedFrame(width: 256, height: 256, repeating: .nan)  // data only in the rows the band leaves out
    for x in 0..<256 { offBand[x, 250] = 1000 }
    frames[50] = offBand
    let path = temporaryDirectory().appendingPathComponent("striped.tif").path
    let writer = try TIFFStackWriter(path: path, sampleType: .float32, pixelSizeMicrometres: 0.0347, frameIntervalSeconds: 3)
    for f in frames { try writer.append(f) }
    try writer.close()
    func bits(_ xs: [Double]) -> [UInt64] { xs.map(\.bitPattern) }
    func rowBits(_ sink: RecordingSink) -> [[UInt64]] {
        sink.rows.map { bits([$0.timeSeconds, $0.driftXPixels, $0.driftYPixels, $0.intensityChange, $0.sdcStandardDeviation, $0.centreContrast]) }
    }
    var options = AnalysisOptions()
    options.sdcLagFrames = 10
    options.workerThreads = 1
    let memorySink = RecordingSink()
    let memory = try Analysis.run(source: InMemoryStack(frames: frames, frameIntervalSeconds: 3, pixelSizeMicrometres: 0.0347),
                                  options: options, sink: memorySink)
    #expect(memory.droppedFrames == [45] && memory.maximumDriftPixels > 25)
    for threads in [1, 2] {
        options.workerThreads = threads
        let counts = ReadCounts()
        let sink = RecordingSink()
        let summary = try Analysis.run(source: CountingTIFFSource(inner: try TIFFFrameSource(path: path), counts: counts),
                                       options: options, sink: sink)
        #expect(rowBits(sink) == rowBits(memorySink))
        #expect(sink.contrast == memorySink.contrast)
        #expect(sink.profiles.map { bits($0.map(\.contrast)) } == memorySink.profiles.map { bits($0.map(\.contrast)) })
        #expect(summary.droppedFrames == [45] && summary.failedDriftFits == memory.failedDriftFits)
        // Frames before the drift reaches the margin are read as a band (the first batches are
        // decoded whole while the analysis sets up); frames 45 and 50 again whole; from the first
        // frame past the margin on, every frame whole.
        let band = Set(counts.band), whole = Set(counts.whole)
        #expect(band.contains(40) && band.contains(70) && whole.contains(45) && whole.contains(50) && !whole.contains(40))
        let firstWhole = try #require(whole.filter { $0 > 60 }.min())
        #expect(firstWhole > 66 && firstWhole < 90, "first frame decoded whole after the drift: \(firstWhole)")
        let allWholeAfter = (firstWhole + 40..<120).allSatisfy { whole.contains($0) && !band.contains($0) }
        #expect(allWholeAfter)
    }
    // With the band switched off every frame is decoded whole, to the same results.
    options.decodeOnlyNeededRows = false
    let counts = ReadCounts()
    let sink = RecordingSink()
    _ = try Analysis.run(source: CountingTIFFSource(inner: try TIFFFrameSource(path: path), counts: counts), options: options, sink: sink)
    #expect(rowBits(sink) == rowBits(memorySink) && sink.contrast == memorySink.contrast)
    #expect(counts.band.isEmpty && Set(counts.whole).isSuperset(of: 0..<120))
}
