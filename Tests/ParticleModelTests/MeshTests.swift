import Foundation
import Testing
@testable import ParticleModel

@Test func defaultParticleMatchesSeedGeometry() throws {
    // Seed: A = 4.87 µm², Γ = 8.06 µm for the 3.04 × 2.04 µm ellipse.
    let shape = try ParticleShape.parse("ellipse:3.04x2.04um")
    #expect(abs(shape.areaMicrometres2 - 4.87) < 0.01)
    #expect(abs(shape.perimeterMicrometres - 8.06) < 0.01)
    let mesh = try TriangleMesh(shape: shape, elementSize: 0.1)
    #expect(abs(mesh.areaMicrometres2 - 4.87) < 0.02)
    #expect(abs(mesh.perimeterMicrometres - 8.06) < 0.02)
    let q = mesh.quality
    #expect(q.minAngleDegrees > 25, "min angle \(q.minAngleDegrees)")
    #expect(q.meanRadiusRatio > 0.9)
    #expect(mesh.nodes.count > 450 && mesh.nodes.count < 700)
}

@Test func elementSizeControlsNodeCount() throws {
    let shape = ParticleShape.ellipse(width: 3.04, height: 2.04)
    let coarse = try TriangleMesh(shape: shape, elementSize: 0.2)
    let fine = try TriangleMesh(shape: shape, elementSize: 0.1)
    let ratio = Double(fine.nodes.count) / Double(coarse.nodes.count)
    #expect(ratio > 3.2 && ratio < 4.6, "halving h multiplied nodes by \(ratio)")
}

@Test func delaunayMeshGivesMMatrixStiffness() throws {
    // Non-positive off-diagonal stiffness entries are what keep θ inside [0, 1] with no ringing.
    let mesh = try TriangleMesh(shape: .ellipse(width: 3.04, height: 2.04), elementSize: 0.1)
    let solver = try ParticleSolver(mesh: mesh, law: TransportLaw(parameters: .nmc87), parameters: .nmc87, theta0: 0.95)
    var positive = 0
    let cs = solver.lu.columnStarts, ri = solver.lu.rowIndices
    for j in 0..<solver.n {
        var rowSum = 0.0
        for s in Int(cs[j])..<Int(cs[j + 1]) where Int(ri[s]) < solver.n {
            rowSum += solver.stiffness[s]
            if Int(ri[s]) != j, solver.stiffness[s] > 1e-12 { positive += 1 }
        }
        #expect(abs(rowSum) < 1e-10)
    }
    #expect(positive == 0, "\(positive) positive off-diagonal entries")
}

@Test func shapesParseAndRescale() throws {
    let circle = try ParticleShape.parse("circle:2.5um")
    #expect(abs(circle.areaMicrometres2 - Double.pi * 1.5625) < 1e-3)
    let hex = try ParticleShape.parse("hexagon:2.4um")
    #expect(abs(hex.areaMicrometres2 - 2 * sqrt(3) * 1.44) < 1e-9)  // 2√3·a² with apothem a = 1.2
    let rounded = try ParticleShape.parse("hexagon:2.4um,corner=0.25um")
    #expect(rounded.areaMicrometres2 < hex.areaMicrometres2 && rounded.areaMicrometres2 > 0.97 * hex.areaMicrometres2)
    let small = try ParticleShape.parse("ellipse:3.04x2.04um").rescaled(toLongestExtent: 1.2)
    #expect(abs(small.longestExtentMicrometres - 1.2) < 1e-9)
    let mesh = try TriangleMesh(shape: rounded, elementSize: 0.08)
    #expect(mesh.quality.minAngleDegrees > 20)
}

@Test func nonConvexPolygonFromCSV() throws {
    // An L-shaped particle: the mesh must cover exactly the polygon.
    let path = NSTemporaryDirectory() + "operando-L-\(getpid()).csv"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try "x_um,y_um\n0,0\n2,0\n2,1\n1,1\n1,2\n0,2\n".write(toFile: path, atomically: true, encoding: .utf8)
    let shape = try ParticleShape.parse("polygon:\(path)")
    #expect(abs(shape.areaMicrometres2 - 3) < 1e-12)
    let mesh = try TriangleMesh(shape: shape, elementSize: 0.1)
    #expect(abs(mesh.areaMicrometres2 - 3) < 1e-9)
    #expect(abs(mesh.perimeterMicrometres - 8) < 1e-9)
    #expect(mesh.quality.minAngleDegrees > 20)
}

@Test(arguments: [
    ("ellipse:3x", "ellipse:3x"),
    ("circle:-1um", "positive length"),
    ("blob:2um", "unknown shape"),
    ("hexagon:2um,corner=1.5um", "below half the width"),
    ("polygon:/nonexistent.csv", "cannot read"),
    ("2.5um", "expected KIND:SIZE"),
])
func badParticleSpecs(spec: String, fragment: String) {
    do {
        _ = try ParticleShape.parse(spec)
        Issue.record("accepted \(spec)")
    } catch {
        #expect("\(error)".contains(fragment), "\(error)")
    }
}

@Test func badPolygonFilesNameTheLine() throws {
    let path = NSTemporaryDirectory() + "operando-bad-\(getpid()).csv"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try "x_um,y_um\n0,0\n1,zero\n1,1\n".write(toFile: path, atomically: true, encoding: .utf8)
    do { _ = try ParticleShape.polygon(csvPath: path); Issue.record("accepted") } catch {
        #expect("\(error)".contains("\(path):3"), "\(error)")
    }
    try "x,y\n0,0\n1,0\n1,1\n".write(toFile: path, atomically: true, encoding: .utf8)
    do { _ = try ParticleShape.polygon(csvPath: path); Issue.record("accepted") } catch {
        #expect("\(error)".contains("x_um,y_um"), "\(error)")
    }
    try "x_um,y_um\n0,0\n1,1\n1,0\n0,1\n".write(toFile: path, atomically: true, encoding: .utf8)
    do { _ = try ParticleShape.polygon(csvPath: path); Issue.record("accepted") } catch {
        #expect("\(error)".contains("crosses itself"), "\(error)")
    }
}

// Issue 11: huge particles, huge polygons and tiny elements are clear errors, not hangs or 13 GB asks.
@Test func particlesAndMeshesAreBounded() throws {
    for spec in ["ellipse:1e300x1e300um", "circle:1000um", "hexagon:60um"] {
        #expect(throws: GeometryError.self, "\(spec)") { try ParticleShape.parse(spec) }
    }
    // μm (U+03BC) reads like µm (U+00B5).
    #expect(try ParticleShape.parse("circle:2.5μm").boundary == ParticleShape.parse("circle:2.5µm").boundary)
    #expect(ParticleShape.lengthMicrometres("600nm") == 0.6 && ParticleShape.lengthMicrometres("0.6um") == 0.6)
    #expect(ParticleShape.lengthMicrometres("-2") == nil)
    // A 200,000-vertex polygon is refused quickly (the self-intersection check is quadratic).
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("operando-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    var csv = "x_um,y_um\n"
    for k in 0..<200_000 {
        let t = 2 * Double.pi * Double(k) / 200_000
        csv += "\(cos(t)),\(sin(t))\n"
    }
    let path = dir.appendingPathComponent("big.csv").path
    try csv.write(toFile: path, atomically: true, encoding: .utf8)
    let start = Date()
    do { _ = try ParticleShape.parse("polygon:\(path)"); Issue.record("accepted") } catch let e as GeometryError {
        #expect(e.problem.contains("more than 10000 vertices"), "\(e)")
    }
    #expect(Date().timeIntervalSince(start) < 20)
    // A tiny element size is refused before meshing.
    var options = SimulationOptions()
    options.elementSizeMicrometres = 1e-4
    do {
        _ = try ParticleSimulation(parameters: .nmc87, shape: .circle(diameter: 2.5), options: options)
        Issue.record("a mesh of ~10^9 nodes was started")
    } catch let e as SolverError {
        #expect("\(e)".contains("at most 200000"), "\(e)")
    }
    options = SimulationOptions()
    options.outputIntervalSeconds = 1e-9
    #expect(throws: SolverError.self) { try ParticleSimulation(parameters: .nmc87, shape: .circle(diameter: 2.5), options: options) }
}
